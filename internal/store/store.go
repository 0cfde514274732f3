// Package store is wabot's PostgreSQL persistence: opening the pool, running
// the embedded schema migrations, and one thin repository per aggregate
// (chats, messages, conversation memory, usage, the outbound ledger).
//
// Every write is idempotent on a natural key, so a retried Temporal activity
// does the same thing once. pgx.ErrNoRows never leaves the package: a missing
// row is ErrNotFound, and input the schema refuses is ErrInvalid.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabot/wabot/internal/secret"
)

var (
	// ErrNotFound is returned when the requested row does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrInvalid wraps input that can never be stored (a missing required
	// field, a value a CHECK constraint refuses). Retrying will not help.
	ErrInvalid = errors.New("store: invalid argument")
)

// errBadURL is all a caller learns about an unparsable database URL: the
// parser's own message may quote the password.
var errBadURL = errors.New("store: cannot parse the database URL (not shown: it may hold a password); " +
	"want postgres://user:password@host:5432/dbname?sslmode=disable")

// Config is the database part of a binary's configuration.
type Config struct {
	// URL is a postgres:// connection URL; it may hold a password.
	URL secret.String `env:"DATABASE_URL" envDefault:"postgres://127.0.0.1:5432/wabot?sslmode=disable"`
	// MaxConns caps the pool; 0 keeps pgxpool's default.
	MaxConns int32 `env:"DATABASE_MAX_CONNS" envDefault:"10"`
}

func (c Config) validate() error {
	var errs []error
	if !c.URL.IsSet() {
		errs = append(errs, errors.New("store config: URL (DATABASE_URL) is empty"))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("store config: MaxConns (DATABASE_MAX_CONNS) is %d, want >= 0", c.MaxConns))
	}
	return errors.Join(errs...)
}

// Open parses cfg, connects and pings the database. Its errors never contain
// the password.
func Open(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL.Reveal())
	if err != nil {
		return nil, errBadURL
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	pw := pcfg.ConnConfig.Password
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, redact(fmt.Errorf("opening database pool: %w", err), pw)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, redact(fmt.Errorf("connecting to the database: %w", err), pw)
	}
	return pool, nil
}

const (
	sqlDatabaseExists = `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`
	// maintenanceDB is the database EnsureDatabase connects to.
	maintenanceDB = "postgres"
)

// EnsureDatabase creates the database that dbURL names, if it is missing, by
// connecting to the "postgres" database of the same server with the same
// credentials. Concurrent callers are safe: losing the race is success.
func EnsureDatabase(ctx context.Context, dbURL string) error {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return errBadURL
	}
	name, pw := cfg.Database, cfg.Password
	if name == "" {
		return errors.New("store: the database URL names no database")
	}
	cfg.Database = maintenanceDB
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return redact(fmt.Errorf("connecting to the %s database: %w", maintenanceDB, err), pw)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()

	var exists bool
	if err := conn.QueryRow(ctx, sqlDatabaseExists, name).Scan(&exists); err != nil {
		return redact(fmt.Errorf("looking for database %s: %w", name, err), pw)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if err == nil {
		return nil
	}
	if code := pgCode(err); code == "42P04" || code == "23505" {
		return nil // duplicate_database or unique_violation: another caller won the race
	}
	return redact(fmt.Errorf("creating database %s: %w", name, err), pw)
}

// dbtx is what the repositories need: a pool or a transaction.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

var (
	_ dbtx = (*pgxpool.Pool)(nil)
	_ dbtx = (pgx.Tx)(nil)
)

// Store is the repository over one database. It is safe for concurrent use.
type Store struct {
	db dbtx
}

// New returns a Store over pool. The caller owns (and closes) the pool.
func New(pool *pgxpool.Pool) *Store { return &Store{db: pool} }

// WithTx returns a Store whose methods run inside tx, for use within InTx:
//
//	err := s.InTx(ctx, func(tx pgx.Tx) error {
//		ts := s.WithTx(tx)
//		…
//	})
func (s *Store) WithTx(tx pgx.Tx) *Store { return &Store{db: tx} }

// InTx runs fn in a transaction: committed when fn returns nil, rolled back
// otherwise (fn's error is returned unchanged). On a Store from WithTx it
// nests as a savepoint.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.db, fn)
}

// translate maps driver errors to the package's sentinels at the boundary.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	// Class 23 (integrity constraint violation): the input itself is refused.
	if code := pgCode(err); strings.HasPrefix(code, "23") {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// field is a required input field and whether it is set.
type field struct {
	name string
	set  bool
}

// required returns ErrInvalid naming every unset field of what.
func required(what string, fields ...field) error {
	var missing []string
	for _, f := range fields {
		if !f.set {
			missing = append(missing, f.name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s needs %s", ErrInvalid, what, strings.Join(missing, ", "))
}

// timeOrNull turns a zero time into SQL NULL (so the column's default or a
// COALESCE with now() applies).
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// redactedError keeps the cause for errors.Is/As but prints a message with
// the password masked, as a defence in depth: the drivers' messages should
// not contain it in the first place.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, password string) error {
	if err == nil || password == "" {
		return err
	}
	msg := err.Error()
	for _, form := range []string{password, url.QueryEscape(password), url.PathEscape(password),
		url.UserPassword("", password).String()[1:]} {
		if form != "" {
			msg = strings.ReplaceAll(msg, form, "********")
		}
	}
	return &redactedError{msg: msg, err: err}
}
