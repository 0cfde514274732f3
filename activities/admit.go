package activities

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/wabot/wabot/internal/command"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/store"
)

// Admission is the outcome of Admit (and of Throttle).
type Admission struct {
	Answer bool   // false: record only, send nothing (but Notice, if set)
	Reason string // why not, for the workflow's result
	// Code is the error code of a refusal (RATE_LIMITED).
	Code errcode.Code `json:",omitempty"`
	// Notice, when set, is sent instead of an answer: the one polite
	// rate-limit reply of a window. Later refusals in the window have none.
	Notice string `json:",omitempty"`
	// Wait, when positive, means the bot as a whole is over its limit: the
	// workflow waits this long (a durable timer) and asks Throttle again.
	Wait time.Duration `json:",omitempty"`
	// BusyNotice, when set, tells the user once that the answer will be late.
	BusyNotice string `json:",omitempty"`
}

// busyNoticeWindow is how long a chat is not told again that the bot is busy.
const busyNoticeWindow = 10 * time.Minute

// Admit records the inbound message and decides whether the bot answers it:
// deny-list and answer policy, group policy, then the per-user, per-chat and
// global rate limits.
func (a *Activities) Admit(ctx context.Context, in message.Inbound) (Admission, error) {
	if in.Account == "" || in.Chat == "" || in.ID == "" {
		return Admission{}, temporal.NewNonRetryableApplicationError("inbound message lacks account, chat or id", string(errcode.InvalidArgument), nil)
	}
	kind := "dm"
	if in.IsGroup {
		kind = "group"
	}
	now := a.now()
	err := a.store.InTx(ctx, func(pgtx pgx.Tx) error {
		tx := a.store.WithTx(pgtx)
		if err := tx.EnsureChat(ctx, in.Account, in.Chat, kind); err != nil {
			return err
		}
		return tx.SaveMessage(ctx, store.Message{
			Account: in.Account, ChatJID: in.Chat, MessageID: in.ID, Role: "user", SenderJID: in.Sender,
			Kind: string(in.Kind), Body: in.Text, CreatedAt: now, ExpiresAt: now.Add(a.cfg.Retention),
		})
	})
	if err != nil {
		return Admission{}, err
	}
	if a.gov == nil {
		return Admission{Answer: true}, nil
	}
	return a.govern(ctx, in)
}

func (a *Activities) govern(ctx context.Context, in message.Inbound) (Admission, error) {
	s, err := a.gov.Settings(ctx)
	if err != nil {
		return Admission{}, err
	}
	d, err := a.gov.Admits(ctx, in.Sender, s)
	if err != nil {
		return Admission{}, err
	}
	if !d.Answer {
		a.logger.InfoContext(ctx, "message not answered by policy", slog.String("reason", d.Reason), slog.String("sender_hash", in.SenderHash))
		return Admission{Reason: d.Reason}, nil
	}
	if in.IsGroup && s.GroupPolicy == "off" && !d.Role.AtLeast(governance.RoleOperator) {
		return Admission{Reason: "groups_off"}, nil
	}
	// Admins and owners are never rate limited: they must be able to act
	// during a flood. Everyone else: per user, then per chat.
	if !d.Role.AtLeast(governance.RoleAdmin) {
		for _, l := range []struct {
			scope, id string
			perMin    int
		}{{"user", a.gov.Hash(in.Sender), s.UserPerMinute}, {"chat", in.ChatHash, s.ChatPerMinute}} {
			res, err := a.limits.Allow(ctx, l.scope, l.id, l.perMin)
			if err != nil {
				return Admission{}, err
			}
			if res.Allowed {
				continue
			}
			adm := Admission{Reason: "rate_limited_" + l.scope, Code: errcode.RateLimited}
			first, err := a.limits.Once(ctx, "ratelimited:"+l.scope+":"+l.id, res.RetryAfter)
			if err != nil {
				return Admission{}, err
			}
			if first {
				adm.Notice = errcode.UserMessage(errcode.RateLimited) + "\n" + retryText(res.RetryAfter)
			}
			a.logger.InfoContext(ctx, "message rate limited", slog.String("scope", l.scope), slog.String("sender_hash", in.SenderHash),
				slog.Duration("retry_after", res.RetryAfter), slog.Bool("notice", first))
			return adm, nil
		}
	}
	if !a.usesLLM(in) {
		return Admission{Answer: true}, nil
	}
	return a.throttle(ctx, in, s.GlobalPerMinute, true)
}

// Throttle asks the global limit again for a message that waited; the user
// was already told the bot is busy.
func (a *Activities) Throttle(ctx context.Context, in message.Inbound) (Admission, error) {
	if a.gov == nil {
		return Admission{Answer: true}, nil
	}
	s, err := a.gov.Settings(ctx)
	if err != nil {
		return Admission{}, err
	}
	return a.throttle(ctx, in, s.GlobalPerMinute, false)
}

func (a *Activities) throttle(ctx context.Context, in message.Inbound, perMin int, notify bool) (Admission, error) {
	res, err := a.limits.Allow(ctx, "global", "all", perMin)
	if err != nil {
		return Admission{}, err
	}
	if res.Allowed {
		return Admission{Answer: true}, nil
	}
	adm := Admission{Answer: true, Reason: "busy", Wait: res.RetryAfter}
	if notify {
		first, err := a.limits.Once(ctx, "busy:"+in.ChatHash, busyNoticeWindow)
		if err != nil {
			return Admission{}, err
		}
		if first {
			adm.BusyNotice = errcode.UserMessage(errcode.Busy)
		}
	}
	a.logger.InfoContext(ctx, "global limit reached; message waits", slog.String("chat_hash", in.ChatHash), slog.Duration("wait", res.RetryAfter))
	return adm, nil
}

// usesLLM reports whether a message ends in an LLM turn (the global limit
// protects the LLM): plain messages and commands marked LLM (!gpt).
func (a *Activities) usesLLM(in message.Inbound) bool {
	if in.Kind != message.KindCommand {
		return true
	}
	p, ok := command.Parse(in.Text)
	if !ok {
		return false
	}
	spec, _, _ := a.commands.Lookup(p)
	return spec != nil && spec.LLM
}

// retryText says when to try again, in whole seconds or minutes.
func retryText(d time.Duration) string {
	secs := int(math.Ceil(d.Seconds()))
	if secs < 90 {
		return fmt.Sprintf("Please try again in %d seconds.", max(secs, 1))
	}
	return fmt.Sprintf("Please try again in %d minutes.", int(math.Ceil(d.Minutes())))
}
