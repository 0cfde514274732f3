package governance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/wabot/wabot/internal/audit"
)

// hasher turns an identity (number or JID) into the keyed hash the bot
// stores and logs; logging.Hasher is one.
type hasher interface{ Hash(id string) string }

// Governor answers who may do what and keeps roles, lists and settings.
// It is safe for concurrent use.
type Governor struct {
	pool       *pgxpool.Pool
	audit      *audit.Log
	hash       hasher
	rdb        *redis.Client
	prefix     string
	sessionTTL time.Duration
	defaults   Settings
	owners     []Member
	cfgAllow   map[string]bool
	cfgDeny    map[string]bool
}

// Member is a number with a role or on a list, as stored: its hash and a
// masked label.
type Member struct {
	Hash  string
	Label string
	Role  Role   // for roles
	List  string // for lists: allow or deny
}

// New returns a Governor. defaults are the configured settings (model,
// prompt, …); cfg supplies owners, lists, the answer policy, rate limits
// and the session TTL. Redis keys go under prefix.
func New(cfg Config, defaults Settings, pool *pgxpool.Pool, log *audit.Log, h hasher, rdb *redis.Client, prefix string) (*Governor, error) {
	if pool == nil || log == nil || h == nil || rdb == nil {
		return nil, errors.New("governance: pool, audit log, hasher and redis are required")
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	defaults.Answer = cfg.Answer
	defaults.UserPerMinute, defaults.ChatPerMinute, defaults.GlobalPerMinute = cfg.UserPerMinute, cfg.ChatPerMinute, cfg.GlobalPerMinute
	if defaults.Language == "" {
		defaults.Language = "auto"
	}
	if defaults.GroupPolicy == "" {
		defaults.GroupPolicy = "mention"
	}
	g := &Governor{
		pool: pool, audit: log, hash: h, rdb: rdb, prefix: prefix, sessionTTL: cfg.SessionTTL, defaults: defaults,
		cfgAllow: map[string]bool{}, cfgDeny: map[string]bool{},
	}
	for _, o := range cfg.Owners {
		n, _ := ParseNumber(o) // validated above
		g.owners = append(g.owners, Member{Hash: h.Hash(n.Digits), Label: n.Label, Role: RoleOwner})
	}
	for _, set := range []struct {
		list []string
		m    map[string]bool
	}{{cfg.AllowList, g.cfgAllow}, {cfg.DenyList, g.cfgDeny}} {
		for _, s := range set.list {
			n, _ := ParseNumber(s)
			set.m[h.Hash(n.Digits)] = true
		}
	}
	return g, nil
}

// Hash is the identity hash the Governor stores for id.
func (g *Governor) Hash(id string) string { return g.hash.Hash(id) }

const (
	sqlRole        = `SELECT role FROM roles WHERE member = $1`
	sqlRoles       = `SELECT member, label, role FROM roles ORDER BY role, granted_at`
	sqlGrant       = `INSERT INTO roles (member, role, label, granted_by) VALUES ($1, $2, $3, $4) ON CONFLICT (member) DO UPDATE SET role = $2, label = $3, granted_by = $4, granted_at = now()`
	sqlRevoke      = `DELETE FROM roles WHERE member = $1 AND role = $2`
	sqlOnLists     = `SELECT list FROM number_lists WHERE member = $1`
	sqlListAdd     = `INSERT INTO number_lists (list, member, label, added_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`
	sqlListRemove  = `DELETE FROM number_lists WHERE list = $1 AND member = $2`
	sqlListMembers = `SELECT member, label FROM number_lists WHERE list = $1 ORDER BY added_at`
	sqlSettings    = `SELECT key, value FROM settings`
	sqlSetSetting  = `INSERT INTO settings (key, value, updated_by) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = $2, updated_by = $3, updated_at = now()`
)

// RoleOf returns the role of a sender (number or JID).
func (g *Governor) RoleOf(ctx context.Context, id string) (Role, error) {
	return g.roleOfHash(ctx, g.hash.Hash(id))
}

func (g *Governor) roleOfHash(ctx context.Context, h string) (Role, error) {
	for _, o := range g.owners {
		if o.Hash == h {
			return RoleOwner, nil
		}
	}
	var r string
	switch err := g.pool.QueryRow(ctx, sqlRole, h).Scan(&r); {
	case errors.Is(err, pgx.ErrNoRows):
		return RoleUser, nil
	case err != nil:
		return "", fmt.Errorf("reading role: %w", err)
	}
	return Role(r), nil
}

// Decision is whether the bot answers a sender.
type Decision struct {
	Answer bool
	Reason string // denylist, not_allowlisted, owners_only
	Role   Role
}

// Admits decides whether the bot answers sender under the answer policy of s.
// Owners are always answered; the deny-list wins over everything else.
func (g *Governor) Admits(ctx context.Context, sender string, s Settings) (Decision, error) {
	h := g.hash.Hash(sender)
	role, err := g.roleOfHash(ctx, h)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Answer: true, Role: role}
	if role == RoleOwner {
		return d, nil
	}
	allowed, denied := g.cfgAllow[h], g.cfgDeny[h]
	rows, err := g.pool.Query(ctx, sqlOnLists, h)
	if err != nil {
		return Decision{}, fmt.Errorf("reading number lists: %w", err)
	}
	lists, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return Decision{}, fmt.Errorf("reading number lists: %w", err)
	}
	for _, l := range lists {
		allowed = allowed || l == "allow"
		denied = denied || l == "deny"
	}
	switch {
	case denied:
		d.Answer, d.Reason = false, "denylist"
	case s.Answer == AnswerOwners:
		d.Answer, d.Reason = false, "owners_only"
	case s.Answer == AnswerAllowList && !allowed && !role.AtLeast(RoleOperator):
		d.Answer, d.Reason = false, "not_allowlisted"
	}
	return d, nil
}

// Roles lists the owners (from configuration) and every granted role.
func (g *Governor) Roles(ctx context.Context) ([]Member, error) {
	out := append([]Member(nil), g.owners...)
	rows, err := g.pool.Query(ctx, sqlRoles)
	if err != nil {
		return nil, fmt.Errorf("listing roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.Hash, &m.Label, &m.Role); err != nil {
			return nil, fmt.Errorf("listing roles: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ErrOwner is returned when a change would touch an owner, whose role comes
// from configuration only.
var ErrOwner = errors.New("owners are set in the configuration (BOT_OWNERS), not from chat")

// Grant gives n the role r (admin or operator), audited as actor.
func (g *Governor) Grant(ctx context.Context, actor string, n Number, r Role) error {
	if !r.Grantable() {
		return fmt.Errorf("only admin and operator can be granted")
	}
	h := g.hash.Hash(n.Digits)
	if g.isOwner(h) {
		return ErrOwner
	}
	return g.change(ctx, audit.Entry{Actor: actor, Action: "role.grant", Target: h, Outcome: audit.OutcomeOK, Details: map[string]string{"role": string(r)}},
		func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sqlGrant, h, string(r), n.Label, actor)
			return err
		})
}

// Revoke takes role r from n; it reports whether n had it.
func (g *Governor) Revoke(ctx context.Context, actor string, n Number, r Role) (bool, error) {
	if !r.Grantable() {
		return false, fmt.Errorf("only admin and operator can be revoked")
	}
	h := g.hash.Hash(n.Digits)
	if g.isOwner(h) {
		return false, ErrOwner
	}
	var had bool
	err := g.change(ctx, audit.Entry{Actor: actor, Action: "role.revoke", Target: h, Outcome: audit.OutcomeOK, Details: map[string]string{"role": string(r)}},
		func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, sqlRevoke, h, string(r))
			had = tag.RowsAffected() > 0
			return err
		})
	return had, err
}

func (g *Governor) isOwner(h string) bool {
	for _, o := range g.owners {
		if o.Hash == h {
			return true
		}
	}
	return false
}

// ListAdd puts n on list (allow or deny), audited as actor.
func (g *Governor) ListAdd(ctx context.Context, actor, list string, n Number) error {
	if list != "allow" && list != "deny" {
		return fmt.Errorf("unknown list %q", list)
	}
	h := g.hash.Hash(n.Digits)
	return g.change(ctx, audit.Entry{Actor: actor, Action: "list." + list + ".add", Target: h, Outcome: audit.OutcomeOK},
		func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sqlListAdd, list, h, n.Label, actor)
			return err
		})
}

// ListRemove takes n off list; it reports whether n was on it (numbers
// from configuration stay on their list).
func (g *Governor) ListRemove(ctx context.Context, actor, list string, n Number) (bool, error) {
	if list != "allow" && list != "deny" {
		return false, fmt.Errorf("unknown list %q", list)
	}
	h := g.hash.Hash(n.Digits)
	var had bool
	err := g.change(ctx, audit.Entry{Actor: actor, Action: "list." + list + ".remove", Target: h, Outcome: audit.OutcomeOK},
		func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, sqlListRemove, list, h)
			had = tag.RowsAffected() > 0
			return err
		})
	return had, err
}

// ListMembers lists the numbers added to list from chat or the CLI.
func (g *Governor) ListMembers(ctx context.Context, list string) ([]Member, error) {
	rows, err := g.pool.Query(ctx, sqlListMembers, list)
	if err != nil {
		return nil, fmt.Errorf("listing %s list: %w", list, err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		m := Member{List: list}
		if err := rows.Scan(&m.Hash, &m.Label); err != nil {
			return nil, fmt.Errorf("listing %s list: %w", list, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Settings returns the settings in effect now: defaults plus stored values.
func (g *Governor) Settings(ctx context.Context) (Settings, error) {
	rows, err := g.pool.Query(ctx, sqlSettings)
	if err != nil {
		return Settings{}, fmt.Errorf("reading settings: %w", err)
	}
	defer rows.Close()
	stored := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return Settings{}, fmt.Errorf("reading settings: %w", err)
		}
		stored[k] = v
	}
	if err := rows.Err(); err != nil {
		return Settings{}, fmt.Errorf("reading settings: %w", err)
	}
	return apply(g.defaults, stored), nil
}

// SetSetting validates and stores a setting, audited as actor, and returns
// the canonical value. A secret-looking key is refused with ErrSecret and
// the refusal is audited.
func (g *Governor) SetSetting(ctx context.Context, actor, key, value string) (string, error) {
	v, err := Validate(key, value)
	if errors.Is(err, ErrSecret) {
		if _, aerr := g.audit.Append(ctx, audit.Entry{Actor: actor, Action: "config.set", Target: "secret", Outcome: audit.OutcomeDenied,
			Details: map[string]string{"reason": "secret_key", "key_len": strconv.Itoa(len(key))}}); aerr != nil {
			return "", fmt.Errorf("auditing a refused secret: %w", aerr)
		}
		return "", err
	}
	if err != nil {
		return "", err
	}
	details := map[string]string{"value": clipRunes(v, 80)}
	return v, g.change(ctx, audit.Entry{Actor: actor, Action: "config.set", Target: key, Outcome: audit.OutcomeOK, Details: details},
		func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sqlSetSetting, key, v, actor)
			return err
		})
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// Audit records an entry on its own (refusals, privileged reads).
func (g *Governor) Audit(ctx context.Context, e audit.Entry) error {
	_, err := g.audit.Append(ctx, e)
	return err
}

// AuditLog is the log the Governor writes to (for verify and listing).
func (g *Governor) AuditLog() *audit.Log { return g.audit }

// change runs fn and appends e in one transaction.
func (g *Governor) change(ctx context.Context, e audit.Entry, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, g.pool, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return fmt.Errorf("%s: %w", e.Action, err)
		}
		_, err := g.audit.AppendTx(ctx, tx, e)
		return err
	})
}
