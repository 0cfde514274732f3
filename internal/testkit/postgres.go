// Package testkit holds helpers for tests only: a fresh, migrated PostgreSQL
// database per test, a Redis client with a key prefix per test, and WaitFor
// to wait on a condition instead of sleeping. PrivatePostgres and
// PrivateRedis run servers of one test's own, which that test may stop and
// restart (private.go). Never import it from non-test code.
//
// The services come from the environment; the defaults are the loopback
// services every project machine runs:
//
//	WABOT_TEST_DATABASE_URL  postgres://127.0.0.1:5432/postgres?sslmode=disable
//	WABOT_TEST_REDIS_URL     redis://127.0.0.1:6379/0
//
// The database URL names the maintenance database the helpers connect to in
// order to create and drop databases; its user needs CREATEDB.
package testkit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/migrations"
)

const (
	defaultDatabaseURL = "postgres://127.0.0.1:5432/postgres?sslmode=disable"
	// templateLockKey serializes template builds across test binaries; it is
	// taken in the maintenance database, which every binary shares.
	templateLockKey int64 = 0x7761_626f_745f_7470 // "wabot_tp"
	// adminTimeout bounds each create/drop, including waiting for the lock
	// while another binary builds the template.
	adminTimeout = 2 * time.Minute
)

// Postgres returns a pool on a fresh database of its own, already migrated
// to the current schema. See PostgresURL.
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, _ := PostgresURL(t)
	return pool
}

// PostgresURL is Postgres that also returns the database's URL, for code
// under test that opens its own connections (store.Open, whatsmeow's store).
//
// The database is a clone (CREATE DATABASE … TEMPLATE) of a template named
// wabot_tpl_<hash of the migration files>, created and migrated once per
// server under an advisory lock, so parallel tests and parallel test
// binaries share it safely and a changed migration gets a new template.
// t.Cleanup closes the pool and drops the database.
func PostgresURL(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	tpl, err := ensureTemplate(t.Context(), baseDatabaseURL())
	if err != nil {
		t.Fatalf("testkit: preparing the template database: %v", err)
	}
	return newDatabase(t, tpl)
}

// EmptyPostgres returns a pool on a fresh, empty database (no migrations
// applied) and its URL, for tests of the migrations themselves. t.Cleanup
// closes the pool and drops the database.
func EmptyPostgres(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	return newDatabase(t, "")
}

func baseDatabaseURL() string {
	if u := os.Getenv("WABOT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultDatabaseURL
}

// newDatabase creates wabot_t_<random> (from template tpl unless it is
// empty), opens a pool on it and registers the cleanup.
func newDatabase(t testing.TB, tpl string) (*pgxpool.Pool, string) {
	t.Helper()
	base := baseDatabaseURL()
	name := "wabot_t_" + randomHex(8)
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if tpl != "" {
		stmt += " TEMPLATE " + pgx.Identifier{tpl}.Sanitize()
	}
	if err := adminExec(t.Context(), base, stmt); err != nil {
		t.Fatalf("testkit: creating database %s: %v", name, err)
	}
	// Cleanups run last-registered first: the pool closes before the drop.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		stmt := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
		if err := adminExec(ctx, base, stmt); err != nil {
			t.Errorf("testkit: dropping database %s: %v", name, err)
		}
	})

	dsn, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatalf("testkit: opening pool on %s: %v", name, err)
	}
	t.Cleanup(pool.Close)
	return pool, dsn
}

// ensureTemplate returns the name of the migrated template database for the
// current migration files, building it if no one has yet.
func ensureTemplate(ctx context.Context, base string) (string, error) {
	hash, err := migrationsHash(migrations.FS)
	if err != nil {
		return "", err
	}
	name := "wabot_tpl_" + hash

	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connecting to %s: %w", redactURL(base), err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()

	// Fast path: the template exists only once it is complete (it is built
	// under another name and renamed at the end).
	if exists, err := databaseExists(ctx, conn, name); err != nil || exists {
		return name, err
	}

	// A session lock: the build spans several connections and statements
	// (CREATE DATABASE cannot run in a transaction). Closing conn releases it.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return "", fmt.Errorf("locking template build: %w", err)
	}
	if exists, err := databaseExists(ctx, conn, name); err != nil || exists {
		return name, err
	}
	building := name + "_building"
	for _, stmt := range []string{
		// A leftover from a crashed build; we hold the lock, so no one uses it.
		"DROP DATABASE IF EXISTS " + pgx.Identifier{building}.Sanitize() + " WITH (FORCE)",
		"CREATE DATABASE " + pgx.Identifier{building}.Sanitize(),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return "", fmt.Errorf("building template: %w", err)
		}
	}
	if err := migrateDatabase(ctx, base, building); err != nil {
		return "", err
	}
	_, err = conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{building}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize())
	if err != nil {
		return "", fmt.Errorf("publishing template %s: %w", name, err)
	}
	return name, nil
}

func migrateDatabase(ctx context.Context, base, name string) error {
	dsn, err := withDatabase(base, name)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fmt.Errorf("opening pool on %s: %w", name, err)
	}
	defer pool.Close() // before the rename: a template must have no sessions
	if _, err := store.MigrateUp(ctx, pool, migrations.FS); err != nil {
		return fmt.Errorf("migrating %s: %w", name, err)
	}
	return nil
}

func databaseExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var exists bool
	err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("looking for database %s: %w", name, err)
	}
	return exists, nil
}

// adminExec runs one statement on its own connection to the maintenance
// database.
func adminExec(ctx context.Context, base, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", redactURL(base), err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, stmt)
	return err
}

// migrationsHash is the first 8 hex digits of a SHA-256 over the names and
// contents of the .sql files of fsys, in name order.
func migrationsHash(fsys fs.FS) (string, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return "", fmt.Errorf("listing migrations: %w", err)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", fmt.Errorf("reading migration %s: %w", n, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:8], nil
}

// withDatabase returns base with its database replaced by name.
func withDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("WABOT_TEST_DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// redactURL is u without its password, for error messages.
func redactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "the test database URL"
	}
	return parsed.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
