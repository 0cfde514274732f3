package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrateLockKey is the pg_advisory_xact_lock key that serializes migration
// runners on one database (advisory locks are scoped to the database). It is
// an arbitrary constant; never change it, or old and new runners would not
// exclude each other.
const migrateLockKey int64 = 0x3c1f_5e2a_77d0_9b41

const (
	sqlMigrateLock        = `SELECT pg_advisory_xact_lock($1)`
	sqlMigrateCreateTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    bigint      PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)`
	sqlMigrateTableExists = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	sqlMigrateApplied     = `SELECT version, applied_at FROM schema_migrations ORDER BY version`
	sqlMigrateIsApplied   = `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`
	sqlMigrateLatest      = `SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1`
	sqlMigrateMaxApplied  = `SELECT coalesce(max(version), 0) FROM schema_migrations`
	sqlMigrateRecord      = `INSERT INTO schema_migrations (version) VALUES ($1)`
	sqlMigrateForget      = `DELETE FROM schema_migrations WHERE version = $1`
)

// migrationFile matches NNNNN_name.up.sql and NNNNN_name.down.sql.
var migrationFile = regexp.MustCompile(`^([0-9]+)_([a-z0-9_]+)\.(up|down)\.sql$`)

// Migration is one numbered schema change parsed from a migrations FS.
type Migration struct {
	Version  int
	Name     string // "init" for 00001_init.up.sql
	UpFile   string
	DownFile string
	Up       string
	Down     string
}

// MigrationState is a migration and whether the database has it.
// A version applied in the database but missing from the files is listed
// with an empty Name.
type MigrationState struct {
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// ParseMigrations reads the migrations at the root of fsys, sorted by version.
// Every .sql file must be named NNNNN_name.up.sql or NNNNN_name.down.sql, and
// every version needs both; other files are ignored.
func ParseMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".sql" {
			continue
		}
		m := migrationFile.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migration %s: want a name like 00001_init.up.sql or 00001_init.down.sql", name)
		}
		version, err := strconv.Atoi(m[1])
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: version must be a positive number", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", name, err)
		}
		mig := byVersion[version]
		if mig == nil {
			mig = &Migration{Version: version, Name: m[2]}
			byVersion[version] = mig
		}
		if mig.Name != m[2] {
			return nil, fmt.Errorf("migration %s: version %d is also named %q", name, version, mig.Name)
		}
		switch m[3] {
		case "up":
			if mig.UpFile != "" {
				return nil, fmt.Errorf("migration %s: version %d already has up file %s", name, version, mig.UpFile)
			}
			mig.UpFile, mig.Up = name, string(body)
		case "down":
			if mig.DownFile != "" {
				return nil, fmt.Errorf("migration %s: version %d already has down file %s", name, version, mig.DownFile)
			}
			mig.DownFile, mig.Down = name, string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, mig := range byVersion {
		switch {
		case mig.UpFile == "":
			return nil, fmt.Errorf("migration %s has no up file %s", mig.DownFile, fileName(mig, "up"))
		case mig.DownFile == "":
			return nil, fmt.Errorf("migration %s has no down file %s", mig.UpFile, fileName(mig, "down"))
		}
		out = append(out, *mig)
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	return out, nil
}

// fileName is the expected name of mig's file in direction dir, keeping the
// version's digits as the existing file spells them.
func fileName(mig *Migration, dir string) string {
	existing := cmp.Or(mig.UpFile, mig.DownFile)
	return migrationFile.ReplaceAllString(existing, "${1}_${2}."+dir+".sql")
}

// MigrateUp applies every migration in fsys that the database lacks, in
// order, each in its own transaction, and returns the versions it applied.
// Concurrent runners on the same database are safe: each step holds a
// transaction-scoped advisory lock and re-checks schema_migrations under it,
// so every version is applied exactly once.
//
// A pending version lower than the newest applied one is an error (it would
// run out of order). Applied versions unknown to fsys (a newer binary ran
// first) are left alone.
func MigrateUp(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) ([]int, error) {
	migs, err := ParseMigrations(fsys)
	if err != nil {
		return nil, err
	}
	var applied []int
	for _, mig := range migs {
		ran, err := migrateUpOne(ctx, pool, mig)
		if err != nil {
			return applied, err
		}
		if ran {
			applied = append(applied, mig.Version)
		}
	}
	return applied, nil
}

func migrateUpOne(ctx context.Context, pool *pgxpool.Pool, mig Migration) (ran bool, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := lockMigrations(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlMigrateCreateTable); err != nil {
			return fmt.Errorf("creating schema_migrations: %w", err)
		}
		var done bool
		if err := tx.QueryRow(ctx, sqlMigrateIsApplied, mig.Version).Scan(&done); err != nil {
			return fmt.Errorf("checking migration %d: %w", mig.Version, err)
		}
		if done {
			return nil
		}
		var newest int
		if err := tx.QueryRow(ctx, sqlMigrateMaxApplied).Scan(&newest); err != nil {
			return fmt.Errorf("reading newest migration: %w", err)
		}
		if newest > mig.Version {
			return fmt.Errorf("migration %s is pending but the newer version %d is already applied", mig.UpFile, newest)
		}
		if _, err := tx.Exec(ctx, mig.Up); err != nil {
			return fmt.Errorf("applying migration %s: %w", mig.UpFile, err)
		}
		if _, err := tx.Exec(ctx, sqlMigrateRecord, mig.Version); err != nil {
			return fmt.Errorf("recording migration %d: %w", mig.Version, err)
		}
		ran = true
		return nil
	})
	return ran, err
}

// MigrateDown reverts the newest steps applied migrations (all of them when
// steps <= 0), newest first, each in its own transaction under the same lock
// as MigrateUp, and returns the versions it reverted. An applied version
// without files in fsys is an error naming it.
func MigrateDown(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS, steps int) ([]int, error) {
	migs, err := ParseMigrations(fsys)
	if err != nil {
		return nil, err
	}
	byVersion := make(map[int]Migration, len(migs))
	for _, m := range migs {
		byVersion[m.Version] = m
	}
	var reverted []int
	for steps <= 0 || len(reverted) < steps {
		version, err := migrateDownOne(ctx, pool, byVersion)
		if err != nil {
			return reverted, err
		}
		if version == 0 {
			break
		}
		reverted = append(reverted, version)
	}
	return reverted, nil
}

// migrateDownOne reverts the newest applied migration and returns its
// version, or 0 when nothing is applied.
func migrateDownOne(ctx context.Context, pool *pgxpool.Pool, byVersion map[int]Migration) (int, error) {
	var version int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := lockMigrations(ctx, tx); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, sqlMigrateTableExists).Scan(&exists); err != nil {
			return fmt.Errorf("looking for schema_migrations: %w", err)
		}
		if !exists {
			return nil
		}
		var latest int
		switch err := tx.QueryRow(ctx, sqlMigrateLatest).Scan(&latest); {
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("reading newest migration: %w", err)
		}
		mig, ok := byVersion[latest]
		if !ok {
			return fmt.Errorf("migration %d is applied but has no files to revert it", latest)
		}
		if _, err := tx.Exec(ctx, mig.Down); err != nil {
			return fmt.Errorf("reverting migration %s: %w", mig.DownFile, err)
		}
		if _, err := tx.Exec(ctx, sqlMigrateForget, latest); err != nil {
			return fmt.Errorf("forgetting migration %d: %w", latest, err)
		}
		version = latest
		return nil
	})
	if err != nil {
		return 0, err
	}
	return version, nil
}

// MigrationStatus lists every migration in fsys and every applied version,
// sorted by version. It changes nothing in the database.
func MigrationStatus(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) ([]MigrationState, error) {
	migs, err := ParseMigrations(fsys)
	if err != nil {
		return nil, err
	}
	states := make(map[int]*MigrationState, len(migs))
	for _, m := range migs {
		states[m.Version] = &MigrationState{Version: m.Version, Name: m.Name}
	}
	var exists bool
	if err := pool.QueryRow(ctx, sqlMigrateTableExists).Scan(&exists); err != nil {
		return nil, fmt.Errorf("looking for schema_migrations: %w", err)
	}
	if exists {
		rows, err := pool.Query(ctx, sqlMigrateApplied)
		if err != nil {
			return nil, fmt.Errorf("reading schema_migrations: %w", err)
		}
		var (
			version int
			at      time.Time
		)
		_, err = pgx.ForEachRow(rows, []any{&version, &at}, func() error {
			st := states[version]
			if st == nil {
				st = &MigrationState{Version: version}
				states[version] = st
			}
			st.Applied, st.AppliedAt = true, at
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading schema_migrations: %w", err)
		}
	}
	out := make([]MigrationState, 0, len(states))
	for _, st := range states {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b MigrationState) int { return a.Version - b.Version })
	return out, nil
}

func lockMigrations(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, sqlMigrateLock, migrateLockKey); err != nil {
		return fmt.Errorf("locking schema_migrations: %w", err)
	}
	return nil
}
