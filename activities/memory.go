package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/store"
)

// Memory of a chat in a prompt: the pinned facts (their own cap,
// BOT_PINNED_TOKENS), then the running summary (at most a quarter of
// BOT_MEMORY_TOKENS) and the newest turns not folded into it (the rest).
// When the unfolded turns outgrow their share, FoldMemory folds the older
// half into the summary with one LLM call, so the prompt stays bounded and
// the model still knows what was said long ago.

// messageOverhead is what a message costs in a prompt besides its text.
const messageOverhead = 4

// tokensOf is the prompt cost of a message with text s.
func tokensOf(s string) int { return estimateTokens(s) + messageOverhead }

// summaryCap is the summary's share of a memory budget.
func summaryCap(budget int) int { return budget / 4 }

// The headers of the pinned facts and of the summary in the system prompt.
// Their cost is taken from the caps, so pinned facts cost at most
// BOT_PINNED_TOKENS and the summary at most summaryCap, all told.
const (
	pinnedHeader  = "\n\nFacts the user asked you to remember:"
	summaryHeader = "\n\nSummary of the earlier conversation:\n"
)

// pinnedCap is what the facts themselves may cost.
func (a *Activities) pinnedCap() int { return a.cfg.PinnedTokens - tokensOf(pinnedHeader) }

// recall is what a turn remembers of its chat.
type recall struct {
	pinned   []store.Item
	summary  store.Summary
	window   []store.MemoryEntry
	unfolded int // tokens of every turn the summary does not cover
}

// recall loads a chat's pinned facts, summary and newest turns within budget.
func (a *Activities) recall(ctx context.Context, account, chat string, budget int) (recall, error) {
	var r recall
	var err error
	if r.pinned, err = a.store.Items(ctx, "facts", account, chat); err != nil {
		return recall{}, err
	}
	if r.summary, err = a.store.Summary(ctx, account, chat); err != nil && !errors.Is(err, store.ErrNotFound) {
		return recall{}, err
	}
	if r.window, err = a.store.LoadMemoryAfter(ctx, account, chat, r.summary.ThroughID, budget-summaryCap(budget)); err != nil {
		return recall{}, err
	}
	if r.unfolded, err = a.store.UnfoldedTokens(ctx, account, chat, r.summary.ThroughID); err != nil {
		return recall{}, err
	}
	return r, nil
}

// needsFold reports whether the unfolded turns outgrew their share.
func (r recall) needsFold(budget int) bool {
	return budget > 0 && r.unfolded > budget-summaryCap(budget)
}

// system is the system prompt with the pinned facts and the summary.
func (r recall) system(base string) string {
	var b strings.Builder
	b.WriteString(base)
	if len(r.pinned) > 0 {
		b.WriteString(pinnedHeader)
		for i, f := range r.pinned {
			fmt.Fprintf(&b, "\n%d. %s", i+1, f.Text)
		}
	}
	if r.summary.Text != "" {
		b.WriteString(summaryHeader)
		b.WriteString(r.summary.Text)
	}
	return b.String()
}

// FoldInput names the chat whose memory to fold.
type FoldInput struct {
	Account  string
	Chat     string
	ChatHash string
}

// FoldResult says what a fold did.
type FoldResult struct {
	Folded    int   // memory entries folded into the summary (0: nothing to do)
	ThroughID int64 // the summary now covers memory up to here
}

// foldSystem instructs the summarizing call.
const foldSystem = "You keep the running summary of a chat between a user and an assistant. " +
	"Rewrite the summary so far to include the new turns. Keep the summary's existing facts first, then add new ones: " +
	"names, dates, places, preferences, decisions and promises; drop small talk. Answer with the summary only, at most %d words."

// FoldMemory folds a chat's older unfolded turns into its running summary
// when they outgrew their share of the memory budget. It is idempotent: it
// decides from the stored state, and the save is a compare-and-swap on the
// summary's starting point, so a retry after a committed fold finds nothing
// to fold and makes no LLM call, and a retry after a lost one folds the
// same turns again (one more LLM call, one summary).
func (a *Activities) FoldMemory(ctx context.Context, in FoldInput) (FoldResult, error) {
	ts, err := a.turnSettings(ctx)
	if err != nil {
		return FoldResult{}, err
	}
	budget := ts.MemoryTokens
	r, err := a.recall(ctx, in.Account, in.Chat, budget)
	if err != nil {
		return FoldResult{}, err
	}
	if !r.needsFold(budget) {
		return FoldResult{ThroughID: r.summary.ThroughID}, nil
	}
	entries, err := a.store.MemoryAfter(ctx, in.Account, in.Chat, r.summary.ThroughID, 1000)
	if err != nil {
		return FoldResult{}, err
	}
	// Keep the newest turns worth half the window unfolded; fold the rest.
	keep, cut := (budget-summaryCap(budget))/2, len(entries)
	for total := 0; cut > 0 && total+entries[cut-1].Tokens <= keep; cut-- {
		total += entries[cut-1].Tokens
	}
	for cut < len(entries) && entries[cut].Role != "user" { // never split a question from its answer
		cut++
	}
	fold := entries[:cut]
	if len(fold) == 0 {
		return FoldResult{ThroughID: r.summary.ThroughID}, nil
	}
	var turns strings.Builder
	for _, e := range fold {
		fmt.Fprintf(&turns, "%s: %s\n", e.Role, e.Content)
	}
	prev := r.summary.Text
	if prev == "" {
		prev = "(none yet)"
	}
	capTokens := summaryCap(budget)
	stop := Heartbeat(ctx)
	resp, err := a.llm.Chat(ctx, llm.ChatRequest{
		System: fmt.Sprintf(foldSystem, capTokens*3/4), Model: ts.Model, MaxTokens: capTokens, User: in.ChatHash,
		Messages: []llm.Message{{Role: "user", Content: "Summary so far:\n" + prev + "\n\nNew turns:\n" + turns.String()}},
	})
	stop()
	if err != nil {
		return FoldResult{}, a.classify(ctx, in.ChatHash, err)
	}
	text := clipTokens(strings.TrimSpace(resp.Text), capTokens-messageOverhead-tokensOf(summaryHeader))
	last := fold[len(fold)-1]
	sum := store.Summary{Text: text, Tokens: tokensOf(text), ThroughID: last.ID, CreatedAt: last.CreatedAt}
	saved, err := a.store.SaveSummary(ctx, in.Account, in.Chat, r.summary.ThroughID, sum, last.CreatedAt.Add(a.cfg.Retention))
	if err != nil {
		return FoldResult{}, err
	}
	a.logger.InfoContext(ctx, "memory folded", slog.String("chat_hash", in.ChatHash), slog.Int("entries", len(fold)),
		slog.Int("summary_tokens", sum.Tokens), slog.Bool("saved", saved))
	return FoldResult{Folded: len(fold), ThroughID: last.ID}, nil
}

// clipTokens cuts s to at most n tokens as estimateTokens counts them.
func clipTokens(s string, n int) string {
	if estimateTokens(s) <= n {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && estimateTokens(string(r)) > n {
		r = r[:len(r)*9/10]
	}
	return string(r)
}
