package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wabot/wabot/internal/command"
	"github.com/wabot/wabot/internal/store"
)

// The handlers of the memory and to-do commands. Changes are keyed by the
// command's message ID (store.ChatRef), so a retried RunCommand changes
// nothing twice and answers the same.

// maxItemRunes bounds one pinned fact or to-do item.
const maxItemRunes = 500

func (a *Activities) ref(c *command.Call) store.ChatRef {
	return store.ChatRef{Account: c.Account, Chat: c.Chat, Sender: c.Sender, MessageID: c.MessageID,
		ExpiresAt: a.now().Add(a.cfg.Retention)}
}

// itemText is the text after the command's own words, checked.
func itemText(c *command.Call, n int) (string, error) {
	text := c.Rest(n)
	if text == "" {
		return "", command.Usage(c.Spec, "empty text")
	}
	if len([]rune(text)) > maxItemRunes {
		return "", command.Invalid(c.Spec, fmt.Sprintf("That is too long: at most %d characters.", maxItemRunes))
	}
	return text, nil
}

// itemNumber reads "<n>" of "/forget <n>" or "/todo done <n>".
func itemNumber(c *command.Call, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, command.Invalid(c.Spec, "Give the number from the list, e.g. 2.")
	}
	return n, nil
}

func (a *Activities) cmdRemember(ctx context.Context, c *command.Call) (command.Result, error) {
	fact, err := itemText(c, 0)
	if err != nil {
		return command.Result{}, err
	}
	err = a.store.PinFact(ctx, a.ref(c), fact, tokensOf(fact), a.pinnedCap())
	if errors.Is(err, store.ErrFull) {
		return command.Result{}, command.Invalid(c.Spec, fmt.Sprintf(
			"My pinned memory for this chat is full (%d tokens). /memories lists it; /forget <n> makes room.", a.pinnedCap()))
	}
	if err != nil {
		return command.Result{}, err
	}
	return command.Result{Text: "Pinned: I'll keep that in mind in this chat. /memories lists what I keep."}, nil
}

func (a *Activities) cmdMemories(ctx context.Context, c *command.Call) (command.Result, error) {
	facts, err := a.store.Items(ctx, "facts", c.Account, c.Chat)
	if err != nil {
		return command.Result{}, err
	}
	if len(facts) == 0 {
		return command.Result{Text: "Nothing pinned in this chat. /remember <fact> pins one."}, nil
	}
	used := 0
	for _, f := range facts {
		used += f.Tokens
	}
	return command.Result{Text: fmt.Sprintf("Pinned in this chat (%d of %d tokens):\n%s", used, a.pinnedCap(), numbered(facts))}, nil
}

func (a *Activities) cmdForget(ctx context.Context, c *command.Call) (command.Result, error) {
	n := 0
	if !strings.EqualFold(c.Args[0], "all") {
		var err error
		if n, err = itemNumber(c, c.Args[0]); err != nil {
			return command.Result{}, err
		}
	}
	removed, err := a.store.RemoveItem(ctx, a.ref(c), "facts", n)
	if errors.Is(err, store.ErrNotFound) {
		return command.Result{}, command.Invalid(c.Spec, fmt.Sprintf("There is no pinned fact %d; /memories lists them.", n))
	}
	if err != nil {
		return command.Result{}, err
	}
	if n == 0 {
		return command.Result{Text: fmt.Sprintf("Forgot all %d pinned facts of this chat.", len(removed))}, nil
	}
	return command.Result{Text: "Forgot: " + removed[0].Text}, nil
}

func (a *Activities) cmdReset(ctx context.Context, c *command.Call) (command.Result, error) {
	all := len(c.Args) == 1
	if all && !strings.EqualFold(c.Args[0], "all") {
		return command.Result{}, command.Usage(c.Spec, "reset: unknown argument")
	}
	n, err := a.store.ResetMemory(ctx, c.Account, c.Chat)
	if err != nil {
		return command.Result{}, err
	}
	if err := a.store.ResetSummary(ctx, c.Account, c.Chat); err != nil {
		return command.Result{}, err
	}
	if !all {
		return command.Result{Text: fmt.Sprintf("Done: I forgot this chat's conversation (%d entries). Pinned facts stay; /reset all forgets them too.", n)}, nil
	}
	removed, err := a.store.RemoveItem(ctx, a.ref(c), "facts", 0)
	if err != nil {
		return command.Result{}, err
	}
	return command.Result{Text: fmt.Sprintf("Done: I forgot this chat's conversation (%d entries) and its %d pinned facts.", n, len(removed))}, nil
}

func (a *Activities) cmdTodo(ctx context.Context, c *command.Call) (command.Result, error) {
	switch sub := strings.ToLower(c.Args[0]); sub {
	case "add":
		item, err := itemText(c, 1)
		if err != nil {
			return command.Result{}, err
		}
		if err := a.store.AddTodo(ctx, a.ref(c), item); err != nil {
			return command.Result{}, err
		}
		return command.Result{Text: "Added to the list. /todo list shows it."}, nil
	case "list":
		items, err := a.store.Items(ctx, "todos", c.Account, c.Chat)
		if err != nil {
			return command.Result{}, err
		}
		if len(items) == 0 {
			return command.Result{Text: "The to-do list is empty. /todo add <text> adds an item."}, nil
		}
		return command.Result{Text: "To do:\n" + numbered(items)}, nil
	case "done":
		if len(c.Args) != 2 {
			return command.Result{}, command.Usage(c.Spec, "todo done: no number")
		}
		n, err := itemNumber(c, c.Args[1])
		if err != nil {
			return command.Result{}, err
		}
		it, err := a.store.CompleteTodo(ctx, a.ref(c), n)
		if errors.Is(err, store.ErrNotFound) {
			return command.Result{}, command.Invalid(c.Spec, fmt.Sprintf("There is no item %d; /todo list shows them.", n))
		}
		if err != nil {
			return command.Result{}, err
		}
		return command.Result{Text: "Done: " + it.Text}, nil
	case "clear":
		removed, err := a.store.RemoveItem(ctx, a.ref(c), "todos", 0)
		if err != nil {
			return command.Result{}, err
		}
		return command.Result{Text: fmt.Sprintf("Cleared the list (%d items).", len(removed))}, nil
	}
	return command.Result{}, command.Usage(c.Spec, "todo: unknown subcommand")
}

// numbered lists items as "1. text", done ones struck through.
func numbered(items []store.Item) string {
	var b strings.Builder
	for i, it := range items {
		if it.Done {
			fmt.Fprintf(&b, "%d. ~%s~ ✓\n", i+1, it.Text)
			continue
		}
		fmt.Fprintf(&b, "%d. %s\n", i+1, it.Text)
	}
	return strings.TrimSpace(b.String())
}
