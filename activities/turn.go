package activities

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/store"
)

// TurnResult is the LLM's answer to one message.
type TurnResult struct {
	Text             string
	Model            string
	PromptTokens     int
	CompletionTokens int
	MemoryEntries    int // how many memory entries went into the prompt
}

// heartbeatEvery is how often a waiting activity tells Temporal it is alive.
const heartbeatEvery = time.Second

// LLMTurn answers one inbound text with the chat's memory as context.
func (a *Activities) LLMTurn(ctx context.Context, in message.Inbound) (TurnResult, error) {
	var ts turnConfig
	var mem []store.MemoryEntry
	err := a.waitForStore(ctx, in, func(ctx context.Context) error {
		var err error
		if ts, err = a.turnSettings(ctx); err != nil { // runtime settings: effective from the next message
			return err
		}
		mem, err = a.store.LoadMemory(ctx, in.Account, in.Chat, ts.MemoryTokens)
		return err
	})
	if err != nil {
		return TurnResult{}, err
	}
	// The budget may cut a turn in half: never start the context with the
	// bot's answer to a question the model cannot see.
	for len(mem) > 0 && mem[0].Role != "user" {
		mem = mem[1:]
	}
	msgs := make([]llm.Message, 0, len(mem)+1)
	for _, m := range mem {
		if m.MessageID == in.ID { // a retried turn whose record already landed
			continue
		}
		msgs = append(msgs, llm.Message{Role: m.Role, Content: m.Content})
	}
	msgs = append(msgs, llm.Message{Role: "user", Content: userContent(in)})

	stop := Heartbeat(ctx)
	resp, err := a.llm.Chat(ctx, llm.ChatRequest{System: ts.System, Model: ts.Model, MaxTokens: ts.MaxTokens, Messages: msgs, User: in.SenderHash})
	stop()
	if err != nil {
		return TurnResult{}, a.classify(ctx, in, err)
	}
	return TurnResult{
		Text: resp.Text, Model: resp.Model, PromptTokens: resp.PromptTokens,
		CompletionTokens: resp.CompletionTokens, MemoryEntries: len(msgs) - 1,
	}, nil
}

// storeOutageWait is how long one LLMTurn attempt waits for an unreachable
// database before it fails. The step's attempts (llmOptions: 5, spaced 1 to
// 8 s apart) are budgeted for the LLM; without this wait, a PostgreSQL
// restart of more than ~15 s used them all up before the LLM was even asked,
// and the user got an error reply. The wait leaves the rest of the
// attempt's two minutes to the LLM call.
const storeOutageWait = 45 * time.Second

// waitForStore runs read, again while it fails because the database (or
// Redis) is unreachable, for up to storeOutageWait, heartbeating meanwhile.
// Any other error is returned at once.
func (a *Activities) waitForStore(ctx context.Context, in message.Inbound, read func(context.Context) error) error {
	err := read(ctx)
	if err == nil || !store.IsUnavailable(err) {
		return err
	}
	stop := Heartbeat(ctx)
	defer stop()
	a.logger.WarnContext(ctx, "store unreachable; waiting for it", slog.String("chat_hash", in.ChatHash), slog.Any("error", err))
	deadline := time.NewTimer(storeOutageWait)
	defer deadline.Stop()
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		select {
		case <-ctx.Done():
			return err
		case <-deadline.C:
			return err
		case <-time.After(delay):
		}
		if err = read(ctx); err == nil || !store.IsUnavailable(err) {
			return err
		}
	}
}

// userContent is the user turn as the LLM sees it.
func userContent(in message.Inbound) string { return in.Prompt() }

// classify turns an LLM error into a Temporal error whose type is a stable
// code: retryable ones honour Retry-After, the others fail the activity at once.
func (a *Activities) classify(ctx context.Context, in message.Inbound, err error) error {
	llmErr, ok := errors.AsType[*llm.Error](err)
	if !ok {
		return err // context cancellation and the like: let Temporal retry
	}
	a.logger.WarnContext(ctx, "llm call failed",
		slog.String("code", string(llmErr.Code)), slog.Int("status", llmErr.Status),
		slog.Bool("retryable", llmErr.Retryable), slog.String("chat_hash", in.ChatHash),
		slog.Int("attempt", int(activity.GetInfo(ctx).Attempt)), slog.Any("error", err))
	if !llmErr.Retryable {
		return temporal.NewNonRetryableApplicationError("llm call failed", string(llmErr.Code), err)
	}
	return temporal.NewApplicationErrorWithOptions("llm call failed", string(llmErr.Code), temporal.ApplicationErrorOptions{
		Cause: err, NextRetryDelay: llmErr.RetryAfter,
	})
}

// Heartbeat records a heartbeat every second until stop is called or ctx
// ends, so a worker that dies mid-call, or that took the task and dropped it
// while stopping, is noticed within the activity's heartbeat timeout rather
// than its start-to-close timeout. Outside an activity it does nothing.
func Heartbeat(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}

// RecordInput is what RecordTurn keeps after a reply went out.
type RecordInput struct {
	Inbound message.Inbound
	Reply   message.Reply
	Turn    TurnResult
	Code    errcode.Code // non-empty when the reply is an error message
}

// RecordTurn stores the reply, the conversation memory and the usage. It is
// idempotent: every write is keyed by message IDs.
func (a *Activities) RecordTurn(ctx context.Context, in RecordInput) error {
	now := a.now()
	expires := now.Add(a.cfg.Retention)
	return a.store.InTx(ctx, func(pgtx pgx.Tx) error {
		tx := a.store.WithTx(pgtx)
		if err := tx.SaveMessage(ctx, store.Message{
			Account: in.Reply.Account, ChatJID: in.Reply.Chat, MessageID: in.Reply.ID, Role: "assistant",
			Kind: string(message.KindText), Body: in.Reply.Text, CreatedAt: now, ExpiresAt: expires,
		}); err != nil {
			return err
		}
		entries := []store.MemoryEntry{{MessageID: in.Inbound.ID, Role: "user", Content: userContent(in.Inbound), Tokens: estimateTokens(userContent(in.Inbound)), CreatedAt: in.Inbound.Timestamp}}
		if in.Code == "" {
			entries = append(entries, store.MemoryEntry{MessageID: in.Reply.ID, Role: "assistant", Content: in.Reply.Text, Tokens: estimateTokens(in.Reply.Text), CreatedAt: now})
		}
		if err := tx.AppendMemory(ctx, in.Inbound.Account, in.Inbound.Chat, expires, entries...); err != nil {
			return err
		}
		if in.Turn.Model == "" {
			return nil
		}
		return tx.RecordUsage(ctx, store.Usage{
			Account: in.Inbound.Account, ChatJID: in.Inbound.Chat, SenderJID: in.Inbound.Sender, MessageID: in.Inbound.ID,
			Model: in.Turn.Model, PromptTokens: in.Turn.PromptTokens, CompletionTokens: in.Turn.CompletionTokens,
			CreatedAt: now, ExpiresAt: expires,
		})
	})
}

// estimateTokens approximates a text's token count (about four bytes a token
// for English; a bound, not a bill: billing uses the API's usage figures).
func estimateTokens(s string) int { return len(s)/4 + 1 }
