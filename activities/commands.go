package activities

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/command"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/message"
)

// CommandResult is the outcome of RunCommand.
type CommandResult struct {
	Name   string       `json:",omitempty"` // the command's registry name ("role grant"); "" when unknown
	Text   string       `json:",omitempty"` // the reply
	Code   errcode.Code `json:",omitempty"` // why the command was refused or failed; "" on success
	AskLLM string       `json:",omitempty"` // answer this text with the LLM instead (!gpt)
	// Route, when set (and Code is not), is the workflow-side route that
	// runs the command from here (command.Spec.Runs); it sends the reply.
	Route command.Route `json:",omitempty"`
	Data  string        `json:",omitempty"` // what the handler prepared for the route
}

// The workflow-side routes of commands (workflows/routes.go holds the table
// that maps each to its workflow code).
const (
	RouteMedia  command.Route = "media"  // /voice, /read, /image, /askfile: the media path
	RouteExport command.Route = "export" // the ExportWorkflow, as a child
	RouteWipe   command.Route = "wipe"   // the WipeWorkflow, waiting for YES
)

// Users of the old bot typed these; they keep working (with / or !).
// "!gpt <text>" asks the LLM, "!reset" clears the memory, "!config" lists
// the settings (admins, in a session).

// commandTable is every command: one entry each. The matrix test in
// governance_test.go runs every entry for every role.
func commandTable(a *Activities) []command.Spec {
	u, op, ad, ow := governance.RoleUser, governance.RoleOperator, governance.RoleAdmin, governance.RoleOwner
	return []command.Spec{
		{Name: "help", MinRole: u, MaxArgs: -1, Usage: "/help", Summary: "what you can do", Handler: a.cmdHelp},
		{Name: "gpt", Aliases: []string{"ask"}, MinRole: u, LLM: true, MinArgs: 1, MaxArgs: -1, Usage: "/gpt <question>", Summary: "ask the AI (same as a plain message)", Handler: cmdAsk},
		{Name: "reset", MinRole: u, Usage: "/reset", Summary: "forget this chat's conversation memory", Handler: a.cmdReset},
		{Name: "usage", MinRole: u, Usage: "/usage", Summary: "your AI token usage (30 days)", Handler: a.cmdUsage},
		// Media commands: the media path of the workflow (workflows/media.go).
		{Name: "voice", MinRole: u, MinArgs: 1, MaxArgs: 1, Usage: "/voice on|off", Summary: "answer your voice notes with voice notes", Runs: RouteMedia},
		{Name: "read", MinRole: u, Usage: "/read", Summary: "speak my last reply", Runs: RouteMedia},
		{Name: "image", MinRole: u, LLM: true, MinArgs: 1, MaxArgs: -1, Usage: "/image <prompt>", Summary: "draw an image", Runs: RouteMedia},
		{Name: "askfile", MinRole: u, LLM: true, MinArgs: 1, MaxArgs: -1, Usage: "/askfile <question>", Summary: "ask about the last document you sent", Runs: RouteMedia},
		// Compliance: export and wipe are workflows of their own (workflows/routes.go).
		{Name: "export", MinRole: u, Direct: true, Usage: "/export", Summary: "get everything I store about you as a ZIP", Runs: RouteExport},
		{Name: "wipe", MinRole: u, Direct: true, Usage: "/wipe", Summary: "delete everything I store about you (asks to confirm)", Runs: RouteWipe},
		{Name: "retention", MinRole: u, MaxArgs: 3, Usage: "/retention show|set <days>", Summary: "how long I keep your messages", Handler: a.cmdRetention},
		// Administration (privileged: direct chat only, audited).
		{Name: "sudo", MinRole: op, MaxArgs: 1, Usage: "/sudo [off]", Summary: "open (or close) an admin session", Handler: a.cmdSudo},
		{Name: "config", MinRole: op, Session: true, Hidden: true, Usage: "/config list|get <key>|set <key> <value>", Summary: "list the settings", Handler: a.cmdConfigList},
		{Name: "config list", MinRole: op, Session: true, Usage: "/config list", Summary: "list the settings", Handler: a.cmdConfigList},
		{Name: "config get", MinRole: op, Session: true, MinArgs: 1, MaxArgs: 1, Usage: "/config get <key>", Summary: "show one setting", Handler: a.cmdConfigGet},
		{Name: "config set", MinRole: ad, Session: true, MinArgs: 2, MaxArgs: -1, Usage: "/config set <key> <value>", Summary: "change a setting (effective on the next message)", Handler: a.cmdConfigSet},
		{Name: "role list", MinRole: ad, Session: true, Usage: "/role list", Summary: "who has which role", Handler: a.cmdRoleList},
		{Name: "role grant", MinRole: ow, Session: true, MinArgs: 2, MaxArgs: 2, Usage: "/role grant <number> <admin|operator>", Summary: "give a number a role", Handler: a.cmdRoleGrant},
		{Name: "role revoke", MinRole: ow, Session: true, MinArgs: 2, MaxArgs: 2, Usage: "/role revoke <number> <admin|operator>", Summary: "take a role away", Handler: a.cmdRoleRevoke},
		{Name: "allow list", MinRole: ad, Session: true, Usage: "/allow list", Summary: "numbers on the allow-list", Handler: a.cmdListShow("allow")},
		{Name: "allow add", MinRole: ad, Session: true, MinArgs: 1, MaxArgs: 1, Usage: "/allow add <number>", Summary: "allow a number", Handler: a.cmdListAdd("allow")},
		{Name: "allow remove", MinRole: ad, Session: true, MinArgs: 1, MaxArgs: 1, Usage: "/allow remove <number>", Summary: "take a number off the allow-list", Handler: a.cmdListRemove("allow")},
		{Name: "deny list", MinRole: ad, Session: true, Usage: "/deny list", Summary: "numbers the bot ignores", Handler: a.cmdListShow("deny")},
		{Name: "deny add", MinRole: ad, Session: true, MinArgs: 1, MaxArgs: 1, Usage: "/deny add <number>", Summary: "ignore a number", Handler: a.cmdListAdd("deny")},
		{Name: "deny remove", MinRole: ad, Session: true, MinArgs: 1, MaxArgs: 1, Usage: "/deny remove <number>", Summary: "stop ignoring a number", Handler: a.cmdListRemove("deny")},
		{Name: "answer", MinRole: ad, Session: true, MinArgs: 1, MaxArgs: 1, Usage: "/answer everyone|allowlist|owners", Summary: "who the bot answers", Handler: a.cmdAnswer},
		{Name: "audit verify", MinRole: ad, Session: true, Usage: "/audit verify", Summary: "check the audit log's hash chain", Handler: a.cmdAuditVerify},
		{Name: "audit last", MinRole: ow, Session: true, MaxArgs: 1, Usage: "/audit last [N]", Summary: "the newest audit entries", Handler: a.cmdAuditLast},
	}
}

// RunCommand runs a command message: parse, find, authorize (role, then
// admin session, sliding it), check arguments, run. Refusals and every
// privileged command are audited with hashed identities. The reply never
// holds internals: errors become their code's user message.
func (a *Activities) RunCommand(ctx context.Context, in message.Inbound) (CommandResult, error) {
	if a.commands == nil {
		return refusal("", errcode.UnknownCommand, ""), nil
	}
	p, ok := command.Parse(in.Text)
	if !ok {
		return refusal("", errcode.UnknownCommand, ""), nil
	}
	spec, args, group := a.commands.Lookup(p)
	if spec == nil {
		if len(group) > 0 {
			usages := make([]string, len(group))
			for i, s := range group {
				usages[i] = s.Usage
			}
			return refusal("", errcode.InvalidArgument, "Usage: "+strings.Join(usages, "\n")), nil
		}
		return refusal("", errcode.UnknownCommand, ""), nil
	}
	actor := a.gov.Hash(in.Sender)
	role, err := a.gov.RoleOf(ctx, in.Sender)
	if err != nil {
		return CommandResult{}, err
	}
	session := false
	if spec.Session && role.AtLeast(spec.MinRole) {
		if session, err = a.gov.TouchSession(ctx, actor); err != nil {
			return CommandResult{}, err
		}
	}
	call := &command.Call{Parsed: p, Spec: spec, Args: args, Account: in.Account, Chat: in.Chat, ChatHash: in.ChatHash,
		Sender: in.Sender, SenderHash: actor, IsGroup: in.IsGroup, Role: role}
	if code := command.Authorize(spec, role, session); code != "" {
		a.logger.InfoContext(ctx, "command refused", slog.String("command", spec.Name), slog.String("code", string(code)),
			slog.String("role", string(role)), slog.String("sender_hash", actor))
		if err := a.auditCommand(ctx, call, audit.OutcomeDenied, code); err != nil {
			return CommandResult{}, err
		}
		return refusal(spec.Name, code, ""), nil
	}
	if spec.Privileged() && in.IsGroup {
		// Settings, lists and the audit log are not for a group's eyes.
		if err := a.auditCommand(ctx, call, audit.OutcomeDenied, errcode.Forbidden); err != nil {
			return CommandResult{}, err
		}
		return refusal(spec.Name, errcode.Forbidden, "Admin commands work only in a direct chat with me."), nil
	}
	if spec.Direct && in.IsGroup {
		return refusal(spec.Name, errcode.Forbidden, "For your privacy, send /"+spec.Name+" to me in a private chat."), nil
	}
	res, err := a.runHandler(ctx, call)
	ce, isCoded := errors.AsType[*errcode.Error](err)
	switch {
	case isCoded:
		a.logger.InfoContext(ctx, "command failed", slog.String("command", spec.Name), slog.String("code", string(ce.Code)), slog.Any("error", err))
		if spec.Privileged() {
			if aerr := a.auditCommand(ctx, call, audit.OutcomeFailed, ce.Code); aerr != nil {
				return CommandResult{}, aerr
			}
		}
		return CommandResult{Name: spec.Name, Code: ce.Code, Text: ce.UserText()}, nil
	case err != nil:
		// Internal (database, Redis): Temporal retries the activity; the
		// workflow answers INTERNAL if it never succeeds.
		return CommandResult{}, temporal.NewApplicationErrorWithCause("command failed", string(errcode.Internal), err)
	}
	if spec.Privileged() {
		if err := a.auditCommand(ctx, call, audit.OutcomeOK, ""); err != nil {
			return CommandResult{}, err
		}
	}
	return CommandResult{Name: spec.Name, Text: res.Text, AskLLM: res.AskLLM, Route: spec.Runs, Data: res.Data}, nil
}

// runHandler checks the arguments and runs the handler, if the command has
// one (a command with only a route is handed to its route as it is).
func (a *Activities) runHandler(ctx context.Context, c *command.Call) (command.Result, error) {
	if err := command.CheckArgs(c.Spec, c.Args); err != nil {
		return command.Result{}, err
	}
	if c.Spec.Handler == nil {
		return command.Result{}, nil
	}
	return c.Spec.Handler(ctx, c)
}

func refusal(name string, code errcode.Code, detail string) CommandResult {
	e := errcode.New(code, "")
	e.Detail = detail
	return CommandResult{Name: name, Code: code, Text: e.UserText()}
}

// auditCommand records a command's outcome: who (hashed), which command,
// with which role; never its arguments (they may hold numbers or text).
func (a *Activities) auditCommand(ctx context.Context, c *command.Call, outcome string, code errcode.Code) error {
	details := map[string]string{"role": string(c.Role), "chat": c.ChatHash}
	if code != "" {
		details["code"] = string(code)
	}
	return a.gov.Audit(ctx, audit.Entry{
		Actor: c.SenderHash, Action: "command." + strings.ReplaceAll(c.Spec.Name, " ", "_"), Outcome: outcome, Details: details,
	})
}

// Commands lists the command table of a (nil without governance), for
// tests and documentation.
func Commands(a *Activities) []*command.Spec {
	if a.commands == nil {
		return nil
	}
	return a.commands.Specs()
}

// CommandRoutes lists the workflow-side routes the command table names, in
// table order, each once: the workflows' route table must hold every one.
func CommandRoutes() []command.Route {
	var routes []command.Route
	for _, s := range commandTable(nil) { // handlers bound to nil are never called here
		if s.Runs != "" && !slices.Contains(routes, s.Runs) {
			routes = append(routes, s.Runs)
		}
	}
	return routes
}
