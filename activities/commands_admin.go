package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wabot/wabot/internal/command"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/governance"
)

// The handlers of commandTable. Each gets a checked *command.Call; errors
// from command.Usage/Invalid reach the user, others are internal.

func (a *Activities) cmdHelp(_ context.Context, c *command.Call) (command.Result, error) {
	return command.Result{Text: a.commands.Help(c.Role)}, nil
}

func cmdAsk(_ context.Context, c *command.Call) (command.Result, error) {
	return command.Result{AskLLM: c.Rest(0)}, nil
}

func (a *Activities) cmdReset(ctx context.Context, c *command.Call) (command.Result, error) {
	n, err := a.store.ResetMemory(ctx, c.Account, c.Chat)
	if err != nil {
		return command.Result{}, err
	}
	return command.Result{Text: fmt.Sprintf("Done: I forgot this chat's conversation (%d entries).", n)}, nil
}

func (a *Activities) cmdRetention(ctx context.Context, c *command.Call) (command.Result, error) {
	text, err := a.compliance.RetentionCommand(ctx, RetentionInput{Account: c.Account, Chat: c.Chat, Sender: c.Sender, Args: c.Args})
	return command.Result{Text: text}, err
}

func (a *Activities) cmdUsage(ctx context.Context, c *command.Call) (command.Result, error) {
	u, err := a.store.SenderUsage(ctx, c.Account, c.Sender, a.now().Add(-30*24*time.Hour))
	if err != nil {
		return command.Result{}, err
	}
	return command.Result{Text: fmt.Sprintf("Your usage in the last 30 days: %d answers, %d prompt tokens, %d completion tokens.",
		u.Messages, u.PromptTokens, u.CompletionTokens)}, nil
}

func (a *Activities) cmdSudo(ctx context.Context, c *command.Call) (command.Result, error) {
	if len(c.Args) == 1 {
		if !strings.EqualFold(c.Args[0], "off") {
			return command.Result{}, command.Usage(c.Spec, "sudo: unknown argument")
		}
		was, err := a.gov.CloseSession(ctx, c.SenderHash)
		if err != nil {
			return command.Result{}, err
		}
		if !was {
			return command.Result{Text: "No admin session was open."}, nil
		}
		return command.Result{Text: "Admin session closed."}, nil
	}
	if err := a.gov.OpenSession(ctx, c.SenderHash); err != nil {
		return command.Result{}, err
	}
	return command.Result{Text: fmt.Sprintf("Admin session open (%s role); it closes after %s without a privileged command. /sudo off closes it now.",
		c.Role, a.gov.SessionTTL())}, nil
}

func (a *Activities) cmdConfigList(ctx context.Context, _ *command.Call) (command.Result, error) {
	s, err := a.gov.Settings(ctx)
	if err != nil {
		return command.Result{}, err
	}
	var b strings.Builder
	b.WriteString("Settings (/config set <key> <value>):\n")
	for _, i := range governance.Describe(s) {
		fmt.Fprintf(&b, "%s = %s — %s\n", i.Key, clip(i.Value, 60), i.Help)
	}
	return command.Result{Text: strings.TrimSpace(b.String())}, nil
}

func (a *Activities) cmdConfigGet(ctx context.Context, c *command.Call) (command.Result, error) {
	s, err := a.gov.Settings(ctx)
	if err != nil {
		return command.Result{}, err
	}
	key := strings.ToLower(c.Args[0])
	for _, i := range governance.Describe(s) {
		if i.Key == key {
			return command.Result{Text: fmt.Sprintf("%s = %s\n(%s)", i.Key, i.Value, i.Help)}, nil
		}
	}
	if governance.LooksSecret(key) {
		return command.Result{}, forbiddenSecret()
	}
	return command.Result{}, command.Invalid(c.Spec, fmt.Sprintf("There is no setting %q; /config list shows them.", clip(key, 40)))
}

func (a *Activities) cmdConfigSet(ctx context.Context, c *command.Call) (command.Result, error) {
	key := strings.ToLower(c.Args[0])
	v, err := a.gov.SetSetting(ctx, c.SenderHash, key, c.Rest(1))
	switch {
	case errors.Is(err, governance.ErrSecret):
		return command.Result{}, forbiddenSecret()
	case errors.Is(err, governance.ErrUnknownSetting):
		return command.Result{}, command.Invalid(c.Spec, fmt.Sprintf("There is no setting %q; /config list shows them.", clip(key, 40)))
	case err != nil && isValidation(key, c.Rest(1)):
		return command.Result{}, command.Invalid(c.Spec, err.Error())
	case err != nil:
		return command.Result{}, err
	}
	return command.Result{Text: fmt.Sprintf("%s = %s — in effect from the next message.", key, clip(v, 60))}, nil
}

// isValidation reports whether the value itself was refused (so the error
// text is the validator's, safe to show) rather than the store failing.
func isValidation(key, value string) bool {
	_, err := governance.Validate(key, value)
	return err != nil
}

func forbiddenSecret() error {
	e := errcode.New(errcode.Forbidden, "secret setting refused")
	e.Detail = "Secrets (API keys, tokens, passwords, database or service URLs) can never be set from chat: " +
		"they live only in the processes' environment. This attempt was recorded in the audit log."
	return e
}

func (a *Activities) cmdRoleList(ctx context.Context, _ *command.Call) (command.Result, error) {
	members, err := a.gov.Roles(ctx)
	if err != nil {
		return command.Result{}, err
	}
	var b strings.Builder
	b.WriteString("Roles:\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%s %s (id %s)\n", m.Role, m.Label, m.Hash[:8])
	}
	return command.Result{Text: strings.TrimSpace(b.String())}, nil
}

func (a *Activities) roleArgs(c *command.Call) (governance.Number, governance.Role, error) {
	n, err := governance.ParseNumber(c.Args[0])
	if err != nil {
		return governance.Number{}, "", command.Invalid(c.Spec, "That is not a phone number (6 to 15 digits, e.g. +4915112345678).")
	}
	r, err := governance.ParseRole(c.Args[1])
	if err != nil || !r.Grantable() {
		return governance.Number{}, "", command.Invalid(c.Spec, "The role must be admin or operator (owners are set in the configuration).")
	}
	return n, r, nil
}

func (a *Activities) cmdRoleGrant(ctx context.Context, c *command.Call) (command.Result, error) {
	n, r, err := a.roleArgs(c)
	if err != nil {
		return command.Result{}, err
	}
	if err := a.gov.Grant(ctx, c.SenderHash, n, r); errors.Is(err, governance.ErrOwner) {
		return command.Result{}, command.Invalid(c.Spec, "That number is an owner; owners are set in the configuration.")
	} else if err != nil {
		return command.Result{}, err
	}
	return command.Result{Text: fmt.Sprintf("%s is now %s.", n.Label, r)}, nil
}

func (a *Activities) cmdRoleRevoke(ctx context.Context, c *command.Call) (command.Result, error) {
	n, r, err := a.roleArgs(c)
	if err != nil {
		return command.Result{}, err
	}
	had, err := a.gov.Revoke(ctx, c.SenderHash, n, r)
	if errors.Is(err, governance.ErrOwner) {
		return command.Result{}, command.Invalid(c.Spec, "That number is an owner; owners are set in the configuration.")
	} else if err != nil {
		return command.Result{}, err
	}
	if !had {
		return command.Result{Text: fmt.Sprintf("%s was not %s.", n.Label, r)}, nil
	}
	return command.Result{Text: fmt.Sprintf("%s is no longer %s.", n.Label, r)}, nil
}

func (a *Activities) cmdListShow(list string) command.Handler {
	return func(ctx context.Context, _ *command.Call) (command.Result, error) {
		members, err := a.gov.ListMembers(ctx, list)
		if err != nil {
			return command.Result{}, err
		}
		if len(members) == 0 {
			return command.Result{Text: fmt.Sprintf("The %s-list has no numbers added from chat (the configuration may add more).", list)}, nil
		}
		labels := make([]string, len(members))
		for i, m := range members {
			labels[i] = m.Label
		}
		return command.Result{Text: fmt.Sprintf("%s-list: %s", list, strings.Join(labels, ", "))}, nil
	}
}

func (a *Activities) cmdListAdd(list string) command.Handler {
	return func(ctx context.Context, c *command.Call) (command.Result, error) {
		n, err := governance.ParseNumber(c.Args[0])
		if err != nil {
			return command.Result{}, command.Invalid(c.Spec, "That is not a phone number (6 to 15 digits).")
		}
		if err := a.gov.ListAdd(ctx, c.SenderHash, list, n); err != nil {
			return command.Result{}, err
		}
		return command.Result{Text: fmt.Sprintf("%s is on the %s-list.", n.Label, list)}, nil
	}
}

func (a *Activities) cmdListRemove(list string) command.Handler {
	return func(ctx context.Context, c *command.Call) (command.Result, error) {
		n, err := governance.ParseNumber(c.Args[0])
		if err != nil {
			return command.Result{}, command.Invalid(c.Spec, "That is not a phone number (6 to 15 digits).")
		}
		had, err := a.gov.ListRemove(ctx, c.SenderHash, list, n)
		if err != nil {
			return command.Result{}, err
		}
		if !had {
			return command.Result{Text: fmt.Sprintf("%s was not on the %s-list (numbers from the configuration stay).", n.Label, list)}, nil
		}
		return command.Result{Text: fmt.Sprintf("%s is off the %s-list.", n.Label, list)}, nil
	}
}

func (a *Activities) cmdAnswer(ctx context.Context, c *command.Call) (command.Result, error) {
	v, err := a.gov.SetSetting(ctx, c.SenderHash, "answer", c.Args[0])
	if err != nil && isValidation("answer", c.Args[0]) {
		return command.Result{}, command.Usage(c.Spec, "answer: bad policy")
	} else if err != nil {
		return command.Result{}, err
	}
	return command.Result{Text: "From the next message I answer: " + v + "."}, nil
}

func (a *Activities) cmdAuditVerify(ctx context.Context, _ *command.Call) (command.Result, error) {
	res, err := a.audit.Verify(ctx)
	if err != nil {
		return command.Result{}, err
	}
	if res.OK {
		return command.Result{Text: fmt.Sprintf("Audit log OK: %d entries, hash chain intact.", res.Entries)}, nil
	}
	return command.Result{Text: fmt.Sprintf("Audit log BROKEN at entry #%d: %s.", res.FirstBad, res.Reason)}, nil
}

func (a *Activities) cmdAuditLast(ctx context.Context, c *command.Call) (command.Result, error) {
	n := 10
	if len(c.Args) == 1 {
		v, err := strconv.Atoi(c.Args[0])
		if err != nil || v < 1 || v > 50 {
			return command.Result{}, command.Invalid(c.Spec, "N is a number from 1 to 50.")
		}
		n = v
	}
	recs, err := a.audit.Last(ctx, n)
	if err != nil {
		return command.Result{}, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Last %d audit entries (newest first):\n", len(recs))
	for _, r := range recs {
		fmt.Fprintf(&b, "#%d %s %s %s by %s", r.Seq, r.At.Format("2006-01-02 15:04Z"), r.Action, r.Outcome, short(r.Actor))
		if r.Target != "" {
			fmt.Fprintf(&b, " on %s", short(r.Target))
		}
		b.WriteByte('\n')
	}
	return command.Result{Text: strings.TrimSpace(b.String())}, nil
}

func short(s string) string { return clip(s, 24) }

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
