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

	// Governance: nil means every message is answered and commands are
	// unavailable (tests and benchmarks of the bare message path).
	gov        *governance.Governor
	limits     *ratelimit.Limiter
	audit      *audit.Log
	compliance *Compliance // /retention
	commands   *command.Registry
}

// Deps are what the activities reach. Store and LLM are required; Governor
// and Limiter come together (roles, lists, settings, rate limits and every
// command) or not at all; Compliance answers /retention.
type Deps struct {
	Store      *store.Store
	LLM        chatCompleter
	Governor   *governance.Governor
	Limiter    *ratelimit.Limiter
	Compliance *Compliance
	Now        func() time.Time // nil: time.Now
}

// New returns Activities with every dependency they use.
func New(logger *slog.Logger, cfg Config, d Deps) (*Activities, error) {
	if logger == nil || d.Store == nil || d.LLM == nil {
		return nil, errors.New("activities: logger, store and llm are required")
	}
	if (d.Governor == nil) != (d.Limiter == nil) {
		return nil, errors.New("activities: governor and limiter come together")
	}
	if d.Governor != nil && d.Compliance == nil {
		return nil, errors.New("activities: commands need the compliance activities (/retention)")
	}
	cfg.MemoryTokens = cmp.Or(cfg.MemoryTokens, 3000)
	cfg.Retention = cmp.Or(cfg.Retention, 30*24*time.Hour)
	a := &Activities{logger: logger, cfg: cfg, store: d.Store, llm: d.LLM, now: d.Now,
		gov: d.Governor, limits: d.Limiter, compliance: d.Compliance}
	if a.now == nil {
		a.now = time.Now
	}
	if a.gov == nil {
		return a, nil
	}
	reg, err := command.NewRegistry(commandTable(a)...)
	if err != nil {
		return nil, err
	}
	a.audit, a.commands = a.gov.AuditLog(), reg
	return a, nil
}
