package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/store"
)

// ErrAuditChainBroken is the failure type of a VerifyAudit that found the
// audit chain broken (an alert, not retried).
const ErrAuditChainBroken = "AUDIT_CHAIN_BROKEN"

// ComplianceConfig is the behaviour of the compliance jobs.
type ComplianceConfig struct {
	// SweepInterval is how often the retention sweep runs (a Temporal Schedule).
	SweepInterval time.Duration `env:"RETENTION_SWEEP_INTERVAL" envDefault:"1h"`
	// SweepBatch bounds the rows one delete statement removes.
	SweepBatch int `env:"RETENTION_SWEEP_BATCH" envDefault:"500"`
	// MinDays and MaxDays bound what /retention set accepts.
	MinDays int `env:"RETENTION_MIN_DAYS" envDefault:"1"`
	MaxDays int `env:"RETENTION_MAX_DAYS" envDefault:"365"`
	// AuditVerifyInterval is how often the audit chain is verified.
	AuditVerifyInterval time.Duration `env:"AUDIT_VERIFY_INTERVAL" envDefault:"24h"`
	// ExportTTL is how long a finished export ZIP is kept for download.
	ExportTTL time.Duration `env:"EXPORT_TTL" envDefault:"24h"`
	// Admins (phone numbers) may set the retention of other chats. Until the
	// role registry lands this list is the only admin check.
	Admins []string `env:"BOT_ADMINS" envSeparator:","`
	// Schedules: create the sweep and audit schedules when the worker starts.
	Schedules bool `env:"COMPLIANCE_SCHEDULES" envDefault:"true"`
}

// Validate names every bad field.
func (c ComplianceConfig) Validate() []error {
	var errs []error
	if c.SweepInterval < time.Minute {
		errs = append(errs, fmt.Errorf("RETENTION_SWEEP_INTERVAL: %s is shorter than 1m", c.SweepInterval))
	}
	if c.SweepBatch < 1 || c.SweepBatch > 100_000 {
		errs = append(errs, fmt.Errorf("RETENTION_SWEEP_BATCH: %d is not between 1 and 100000", c.SweepBatch))
	}
	if c.MinDays < 1 || c.MaxDays < c.MinDays || c.MaxDays > 36500 {
		errs = append(errs, fmt.Errorf("RETENTION_MIN_DAYS, RETENTION_MAX_DAYS: want 1 <= %d <= %d <= 36500", c.MinDays, c.MaxDays))
	}
	if c.AuditVerifyInterval < time.Minute {
		errs = append(errs, fmt.Errorf("AUDIT_VERIFY_INTERVAL: %s is shorter than 1m", c.AuditVerifyInterval))
	}
	if c.ExportTTL < time.Minute {
		errs = append(errs, fmt.Errorf("EXPORT_TTL: %s is shorter than 1m", c.ExportTTL))
	}
	return errs
}

// Compliance are the activities of retention, export, wipe and audit
// verification. Register the struct with the AI worker; workflows call the
// methods through a nil *Compliance.
type Compliance struct {
	logger      *slog.Logger
	cfg         ComplianceConfig
	retention   time.Duration // BOT_RETENTION, the default
	store       *store.Store
	audit       *audit.Log
	redis       *redis.Client
	redisPrefix string
	temporal    client.Client
	namespace   string
	hash        func(string) string
	now         func() time.Time
	onVerified  func(ok bool)
	isAdminFn   func(ctx context.Context, jid string) bool
	// afterBatch, when set (tests), runs after every committed batch of a
	// sweep or wipe; an error fails the activity there.
	afterBatch func(table string) error
}

// ComplianceDeps are what the compliance activities reach.
type ComplianceDeps struct {
	Store       *store.Store
	Audit       *audit.Log
	Redis       *redis.Client
	RedisPrefix string
	Temporal    client.Client
	Namespace   string
	Hash        func(string) string // the identity hasher (logging.Hasher.Hash)
	Now         func() time.Time    // nil: time.Now
	// OnAuditVerified, if set, hears every verification's outcome (metrics).
	OnAuditVerified func(ok bool)
	// IsAdmin, if set, tells whether a sender holds the admin role or above
	// (the governance role registry); BOT_ADMINS is consulted as well.
	IsAdmin func(ctx context.Context, jid string) bool
}

// NewCompliance returns the compliance activities.
func NewCompliance(logger *slog.Logger, cfg ComplianceConfig, defaultRetention time.Duration, d ComplianceDeps) (*Compliance, error) {
	if logger == nil || d.Store == nil || d.Audit == nil || d.Hash == nil {
		return nil, errors.New("compliance: logger, store, audit and hash are required")
	}
	cfg.SweepBatch = cmp.Or(cfg.SweepBatch, 500)
	cfg.MinDays, cfg.MaxDays = cmp.Or(cfg.MinDays, 1), cmp.Or(cfg.MaxDays, 365)
	cfg.ExportTTL = cmp.Or(cfg.ExportTTL, 24*time.Hour)
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Compliance{
		logger: logger, cfg: cfg, retention: cmp.Or(defaultRetention, 30*24*time.Hour), store: d.Store, audit: d.Audit,
		redis: d.Redis, redisPrefix: d.RedisPrefix, temporal: d.Temporal, namespace: cmp.Or(d.Namespace, "default"),
		hash: d.Hash, now: now, onVerified: d.OnAuditVerified, isAdminFn: d.IsAdmin,
	}, nil
}

// AuditInput is one audit entry of a run, written at most once per RunID.
// With CountsAsDetails the run's deletion counts become the details.
type AuditInput struct {
	RunID           string
	Entry           audit.Entry
	CountsAsDetails bool
}

// Audit appends a run's audit entry once; a retry returns the same seq.
func (c *Compliance) Audit(ctx context.Context, in AuditInput) (int64, error) {
	e := in.Entry
	if in.CountsAsDetails {
		counts, err := c.store.ComplianceCounts(ctx, in.RunID)
		if err != nil {
			return 0, err
		}
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		var total int64
		for tbl, n := range counts {
			e.Details["deleted_"+tbl] = strconv.FormatInt(n, 10)
			total += n
		}
		e.Details["deleted_total"] = strconv.FormatInt(total, 10)
	}
	return c.store.AuditOnce(ctx, in.RunID, func(tx pgx.Tx) (int64, error) {
		rec, err := c.audit.AppendTx(ctx, tx, e)
		return rec.Seq, err
	})
}

// VerifyAudit checks the whole audit chain. A broken chain is an alert: an
// error log, the metric wabot_audit_chain_broken (the admin server's
// /metrics and the SDK metrics handler), and a non-retryable AUDIT_CHAIN_BROKEN failure that
// leaves the workflow run failed for operators to find.
func (c *Compliance) VerifyAudit(ctx context.Context) (audit.Result, error) {
	stop := Heartbeat(ctx)
	res, err := c.audit.Verify(ctx)
	stop()
	if err != nil {
		return audit.Result{}, err
	}
	if c.onVerified != nil {
		c.onVerified(res.OK)
	}
	if activity.IsActivity(ctx) {
		v := int64(0)
		if !res.OK {
			v = 1
		}
		activity.GetMetricsHandler(ctx).Gauge("wabot_audit_chain_broken").Update(float64(v))
	}
	if !res.OK {
		c.logger.ErrorContext(ctx, "audit chain broken", slog.Int64("first_bad_seq", res.FirstBad),
			slog.String("reason", res.Reason), slog.Int64("entries", res.Entries))
		return res, temporal.NewNonRetryableApplicationError("audit chain broken", ErrAuditChainBroken, nil, res)
	}
	c.logger.InfoContext(ctx, "audit chain verified", slog.Int64("entries", res.Entries))
	return res, nil
}

// RetentionInput is a /retention command.
type RetentionInput struct {
	Account string
	Chat    string // the chat the command came from
	Sender  string // who sent it (JID)
	Args    []string
}

// Retention answers "/retention show", "/retention set <days>" and, for
// admins, "/retention show|set … <number>" about another person's chat. It
// returns the reply text; bad input is a reply, not an error. (The activity
// of runs from before the command registry; /retention now runs through
// RetentionCommand inside RunCommand.)
func (c *Compliance) Retention(ctx context.Context, in RetentionInput) (string, error) {
	text, err := c.RetentionCommand(ctx, in)
	if ce, ok := errors.AsType[*errcode.Error](err); ok {
		return ce.Detail, nil
	}
	return text, err
}

// retentionUsage is the usage line of /retention.
const retentionUsage = "Usage: /retention show | /retention set <days>"

// RetentionCommand is Retention with refusals and bad input as
// *errcode.Error (FORBIDDEN, INVALID_ARGUMENT) whose Detail says why.
func (c *Compliance) RetentionCommand(ctx context.Context, in RetentionInput) (string, error) {
	refuse := func(code errcode.Code, why string) (string, error) {
		e := errcode.New(code, "retention refused")
		e.Detail = why
		return "", e
	}
	args := in.Args
	if len(args) == 0 {
		args = []string{"show"}
	}
	target := in.Chat
	self := true
	rest := args[1:]
	if args[0] == "set" && len(rest) == 2 || args[0] == "show" && len(rest) == 1 {
		other := rest[len(rest)-1]
		rest = rest[:len(rest)-1]
		if !c.isAdmin(ctx, in.Sender) {
			return refuse(errcode.Forbidden, "Only an admin can change or see another person's retention.")
		}
		target, self = digits(other)+"@s.whatsapp.net", false
	}
	if self && args[0] == "set" && strings.HasSuffix(in.Chat, "@g.us") && !c.isAdmin(ctx, in.Sender) {
		return refuse(errcode.Forbidden, "Only an admin can change a group's retention.")
	}
	who := "your"
	if !self {
		who = "that chat's"
	}
	switch {
	case args[0] == "show" && len(rest) == 0:
		days, err := c.store.Retention(ctx, in.Account, target)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Sprintf("Retention of %s data: %d days (the default). Change it with /retention set <days> (%d–%d).",
				who, int(c.retention/(24*time.Hour)), c.cfg.MinDays, c.cfg.MaxDays), nil
		case err != nil:
			return "", err
		}
		return fmt.Sprintf("Retention of %s data: %d days.", who, days), nil
	case args[0] == "set" && len(rest) == 1:
		days, err := strconv.Atoi(rest[0])
		if err != nil || days < c.cfg.MinDays || days > c.cfg.MaxDays {
			return refuse(errcode.InvalidArgument, fmt.Sprintf("Retention must be a number of days between %d and %d.\n%s",
				c.cfg.MinDays, c.cfg.MaxDays, retentionUsage))
		}
		err = c.store.InTx(ctx, func(tx pgx.Tx) error {
			if err := c.store.WithTx(tx).SetRetention(ctx, in.Account, target, days, c.hash(in.Sender)); err != nil {
				return err
			}
			_, err := c.audit.AppendTx(ctx, tx, audit.Entry{
				Actor: c.hash(in.Sender), Action: "retention.set", Target: c.hash(target), Outcome: audit.OutcomeOK,
				Details: map[string]string{"days": strconv.Itoa(days)},
			})
			return err
		})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Retention of %s data set to %d days. Older messages are deleted at the next sweep.", who, days), nil
	}
	return refuse(errcode.InvalidArgument, retentionUsage)
}

func (c *Compliance) isAdmin(ctx context.Context, jid string) bool {
	d := digits(jid)
	if d != "" && slices.ContainsFunc(c.cfg.Admins, func(a string) bool { return digits(a) == d }) {
		return true
	}
	return c.isAdminFn != nil && c.isAdminFn(ctx, jid)
}

// digits keeps the user part's digits of a number or JID.
func digits(s string) string {
	user, _, _ := strings.Cut(s, "@")
	user, _, _ = strings.Cut(user, ":")
	var b strings.Builder
	for _, r := range user {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MarshalJSON masks BOT_ADMINS: `wabot config` never prints phone numbers.
func (c ComplianceConfig) MarshalJSON() ([]byte, error) {
	type plain ComplianceConfig // no MarshalJSON: no recursion
	p := plain(c)
	p.Admins = governance.MaskNumbers(c.Admins)
	return json.Marshal(p)
}
