// Package activities holds the bot's Temporal activities that run on the AI
// task queue: admission, the LLM turn and the records kept after a reply.
// Activities are methods on a struct holding their dependencies; each is
// idempotent, so a retry after a crash does the same work once.
package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/command"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/ratelimit"
	"github.com/wabot/wabot/internal/store"
)

// Config is the bot behaviour the activities need.
type Config struct {
	SystemPrompt string        `env:"BOT_SYSTEM_PROMPT" envDefault:"You are wabot, a helpful assistant on WhatsApp. Answer briefly and in the user's language."`
	MemoryTokens int           `env:"BOT_MEMORY_TOKENS" envDefault:"3000"`
	Retention    time.Duration `env:"BOT_RETENTION" envDefault:"720h"`
}

// Validate names every bad field.
func (c Config) Validate() []error {
	var errs []error
	if c.MemoryTokens < 0 || c.MemoryTokens > 1_000_000 {
		errs = append(errs, fmt.Errorf("BOT_MEMORY_TOKENS: %d is not between 0 and 1000000", c.MemoryTokens))
	}
	if c.Retention < time.Hour || c.Retention > 10*365*24*time.Hour {
		errs = append(errs, fmt.Errorf("BOT_RETENTION: %s is not between 1h and 87600h", c.Retention))
	}
	return errs
}

// chatCompleter is the LLM as the activities use it.
type chatCompleter interface {
	Chat(ctx context.Context, req llm.ChatRequest) (llm.ChatResponse, error)
}

// Activities are the AI-queue activities. Register the struct with a worker;
// workflows call the methods through a nil *Activities.
type Activities struct {
	logger *slog.Logger
	cfg    Config
	store  *store.Store
	llm    chatCompleter
	now    func() time.Time

	// Governance (see Govern): nil means every message is answered and
	// commands are unavailable.
	gov      *governance.Governor
	limits   *ratelimit.Limiter
	audit    *audit.Log
	commands *command.Registry
}

// New returns Activities. now may be nil (time.Now).
func New(logger *slog.Logger, cfg Config, st *store.Store, llm chatCompleter, now func() time.Time) (*Activities, error) {
	if logger == nil || st == nil || llm == nil {
		return nil, errors.New("activities: logger, store and llm are required")
	}
	cfg.MemoryTokens = cmp.Or(cfg.MemoryTokens, 3000)
	cfg.Retention = cmp.Or(cfg.Retention, 30*24*time.Hour)
	if now == nil {
		now = time.Now
	}
	return &Activities{logger: logger, cfg: cfg, store: st, llm: llm, now: now}, nil
}

// EnableGovernance turns on governance for a: roles, lists, settings read on
// each message, rate limits and commands. Call it once, before registering a
// with a worker. (A function, not a method: every exported method of
// Activities is registered as an activity.)
func EnableGovernance(a *Activities, g *governance.Governor, l *ratelimit.Limiter) error {
	if g == nil || l == nil {
		return errors.New("activities: governor and limiter are required")
	}
	reg, err := command.NewRegistry(commandTable(a)...)
	if err != nil {
		return err
	}
	a.gov, a.limits, a.audit, a.commands = g, l, g.AuditLog(), reg
	return nil
}
