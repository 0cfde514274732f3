// Package audit is the bot's tamper-evident audit log: an append-only
// PostgreSQL table in which every entry carries the SHA-256 hash of the one
// before it. Appends are serialized by an advisory lock so concurrent writers
// keep one valid chain; Verify recomputes the chain and names the first
// broken entry. Entries hold hashed identities and never message text.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Genesis is the previous hash of the first entry.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// appendLockKey serializes appends (pg_advisory_xact_lock).
const appendLockKey int64 = 0x61756469745f6c67 // "audit_lg"

// Outcomes.
const (
	OutcomeOK     = "ok"
	OutcomeDenied = "denied"
	OutcomeFailed = "failed"
	ActorSystem   = "system"
	ActorOperator = "operator"
)

// Entry is what a caller records.
type Entry struct {
	Actor   string            // hashed identity, "system" or "operator"
	Action  string            // e.g. "role.grant", "config.set", "retention.sweep"
	Target  string            // hashed identity or setting key the action was about
	Outcome string            // ok, denied, failed
	Details map[string]string // small, non-personal facts (counts, codes, keys)
	At      time.Time         // zero: now
}

// Record is a stored entry.
type Record struct {
	Entry
	Seq      int64
	PrevHash string
	Hash     string
}

// Log appends to and verifies the audit log.
type Log struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New returns a Log. now may be nil (time.Now).
func New(pool *pgxpool.Pool, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{pool: pool, now: now}
}

const (
	sqlLock   = `SELECT pg_advisory_xact_lock($1)`
	sqlLast   = `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`
	sqlInsert = `INSERT INTO audit_log (seq, at, actor, action, target, outcome, details, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	sqlSelect = `SELECT seq, at, actor, action, target, outcome, details, prev_hash, hash FROM audit_log`
)

// Append records e in its own transaction.
func (l *Log) Append(ctx context.Context, e Entry) (Record, error) {
	var rec Record
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		var err error
		rec, err = l.AppendTx(ctx, tx, e)
		return err
	})
	return rec, err
}

// AppendTx records e inside the caller's transaction, so the audit entry
// commits or rolls back with the change it describes.
func (l *Log) AppendTx(ctx context.Context, tx pgx.Tx, e Entry) (Record, error) {
	if err := validate(e); err != nil {
		return Record{}, err
	}
	if e.At.IsZero() {
		e.At = l.now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond) // PostgreSQL's precision
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	if _, err := tx.Exec(ctx, sqlLock, appendLockKey); err != nil {
		return Record{}, fmt.Errorf("locking audit log: %w", err)
	}
	rec := Record{Entry: e, Seq: 1, PrevHash: Genesis}
	var lastSeq int64
	var lastHash string
	switch err := tx.QueryRow(ctx, sqlLast).Scan(&lastSeq, &lastHash); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return Record{}, fmt.Errorf("reading audit chain head: %w", err)
	default:
		rec.Seq, rec.PrevHash = lastSeq+1, lastHash
	}
	rec.Hash = Hash(rec)
	details, err := json.Marshal(e.Details)
	if err != nil {
		return Record{}, fmt.Errorf("encoding audit details: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlInsert, rec.Seq, e.At, e.Actor, e.Action, e.Target, e.Outcome, details, rec.PrevHash, rec.Hash); err != nil {
		return Record{}, fmt.Errorf("appending audit entry: %w", err)
	}
	return rec, nil
}

func validate(e Entry) error {
	var bad []string
	if e.Actor == "" {
		bad = append(bad, "actor")
	}
	if e.Action == "" {
		bad = append(bad, "action")
	}
	if e.Outcome == "" {
		bad = append(bad, "outcome")
	}
	if len(bad) > 0 {
		return fmt.Errorf("audit entry lacks %s", strings.Join(bad, ", "))
	}
	return nil
}

// Hash is the SHA-256 over the canonical encoding of a record: a JSON array
// of its fields in a fixed order (details as an object with sorted keys).
func Hash(r Record) string {
	canon, _ := json.Marshal([]any{
		r.Seq, r.At.UTC().Format(time.RFC3339Nano), r.Actor, r.Action, r.Target, r.Outcome, r.Details, r.PrevHash,
	})
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

// Result is the outcome of Verify.
type Result struct {
	Entries  int64  // entries checked
	OK       bool   // the whole chain holds
	FirstBad int64  // seq of the first broken entry (0 when OK)
	Reason   string // what is wrong with it
}

// Verify walks the whole chain in order and reports the first entry whose
// hash, link to its predecessor or sequence number does not hold.
func (l *Log) Verify(ctx context.Context) (Result, error) {
	rows, err := l.pool.Query(ctx, sqlSelect+` ORDER BY seq`)
	if err != nil {
		return Result{}, fmt.Errorf("reading audit log: %w", err)
	}
	defer rows.Close()
	res := Result{OK: true}
	prev, want := Genesis, int64(1)
	for rows.Next() {
		rec, err := scan(rows)
		if err != nil {
			return Result{}, err
		}
		res.Entries++
		reason := ""
		switch {
		case rec.Seq != want:
			reason = fmt.Sprintf("sequence jumps from %d to %d: entries were deleted", want-1, rec.Seq)
		case rec.PrevHash != prev:
			reason = "previous-hash link does not match the entry before it"
		case Hash(rec) != rec.Hash:
			reason = "content does not match its hash: the entry was edited"
		}
		if reason != "" {
			return Result{Entries: res.Entries, FirstBad: rec.Seq, Reason: reason}, nil
		}
		prev, want = rec.Hash, rec.Seq+1
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("reading audit log: %w", err)
	}
	return res, nil
}

// Last returns the newest n entries, newest first.
func (l *Log) Last(ctx context.Context, n int) ([]Record, error) {
	return l.query(ctx, sqlSelect+` ORDER BY seq DESC LIMIT $1`, n)
}

// About returns every entry whose actor or target is id, oldest first (for exports).
func (l *Log) About(ctx context.Context, id string) ([]Record, error) {
	return l.query(ctx, sqlSelect+` WHERE actor = $1 OR target = $1 ORDER BY seq`, id)
}

func (l *Log) query(ctx context.Context, sql string, args ...any) ([]Record, error) {
	rows, err := l.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("reading audit log: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		rec, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

func scan(rows pgx.Rows) (Record, error) {
	var rec Record
	var details []byte
	if err := rows.Scan(&rec.Seq, &rec.At, &rec.Actor, &rec.Action, &rec.Target, &rec.Outcome, &details, &rec.PrevHash, &rec.Hash); err != nil {
		return Record{}, fmt.Errorf("scanning audit entry: %w", err)
	}
	rec.At = rec.At.UTC()
	if err := json.Unmarshal(details, &rec.Details); err != nil {
		// Details that are not a string map were written around Append.
		rec.Details = map[string]string{"_undecodable": string(details)}
	}
	return rec, nil
}
