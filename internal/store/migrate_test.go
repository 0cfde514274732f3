package store_test

import (
	"io/fs"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
	"github.com/wabot/wabot/migrations"
)

// threeSteps is a small migration set for the runner's own tests.
func threeSteps() fstest.MapFS {
	return fstest.MapFS{
		"00001_a.up.sql":   {Data: []byte("CREATE TABLE a (id int);")},
		"00001_a.down.sql": {Data: []byte("DROP TABLE a;")},
		"00002_b.up.sql":   {Data: []byte("CREATE TABLE b (id int);\nCREATE INDEX b_id ON b (id);")},
		"00002_b.down.sql": {Data: []byte("DROP TABLE b;")},
		"00003_c.up.sql":   {Data: []byte("ALTER TABLE a ADD COLUMN c text;")},
		"00003_c.down.sql": {Data: []byte("ALTER TABLE a DROP COLUMN c;")},
		"README.md":        {Data: []byte("ignored")},
	}
}

func without(fsys fstest.MapFS, names ...string) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range fsys {
		if !slices.Contains(names, k) {
			out[k] = v
		}
	}
	return out
}

func tableExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok))
	return ok
}

func applied(t *testing.T, pool *pgxpool.Pool, fsys fstest.MapFS) []int {
	t.Helper()
	states, err := store.MigrationStatus(t.Context(), pool, fsys)
	require.NoError(t, err)
	var out []int
	for _, st := range states {
		if st.Applied {
			require.False(t, st.AppliedAt.IsZero())
			out = append(out, st.Version)
		}
	}
	return out
}

func TestParseMigrations(t *testing.T) {
	t.Parallel()
	migs, err := store.ParseMigrations(threeSteps())
	require.NoError(t, err)
	require.Len(t, migs, 3)
	require.Equal(t, 2, migs[1].Version)
	require.Equal(t, "b", migs[1].Name)
	require.Equal(t, "00002_b.up.sql", migs[1].UpFile)
	require.Equal(t, "DROP TABLE b;", migs[1].Down)

	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"missing down", without(threeSteps(), "00002_b.down.sql"), "migration 00002_b.up.sql has no down file 00002_b.down.sql"},
		{"missing up", without(threeSteps(), "00003_c.up.sql"), "migration 00003_c.down.sql has no up file 00003_c.up.sql"},
		{"bad name", fstest.MapFS{"init.sql": {}}, "migration init.sql: want a name like"},
		{"version zero", fstest.MapFS{"00000_x.up.sql": {}, "00000_x.down.sql": {}}, "positive"},
		{"two names", fstest.MapFS{"1_x.up.sql": {}, "1_y.down.sql": {}}, "also named"},
		{"same version twice", fstest.MapFS{"1_x.up.sql": {}, "0001_x.up.sql": {}, "1_x.down.sql": {}}, "already has up file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := store.ParseMigrations(tt.fsys)
			require.ErrorContains(t, err, tt.want)

			// The runner refuses to start on such a set.
			_, err = store.MigrateUp(t.Context(), nil, tt.fsys)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// TestMigrateUpDownUp runs the real migrations up, all the way down and up
// again on an empty database.
func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := testkit.EmptyPostgres(t)
	all, err := store.ParseMigrations(migrations.FS)
	require.NoError(t, err)
	require.NotEmpty(t, all)
	var versions []int
	for _, m := range all {
		versions = append(versions, m.Version)
	}
	reversed := slices.Clone(versions)
	slices.Reverse(reversed)
	tables := []string{"chats", "messages", "memory", "usage", "outbound"}

	status, err := store.MigrationStatus(ctx, pool, migrations.FS)
	require.NoError(t, err)
	require.Len(t, status, len(all))
	require.Equal(t, "init", status[0].Name)
	require.False(t, status[0].Applied)
	require.False(t, tableExists(t, pool, "schema_migrations"), "status changes nothing")

	for round := range 2 {
		got, err := store.MigrateUp(ctx, pool, migrations.FS)
		require.NoError(t, err, "round %d", round)
		require.Equal(t, versions, got)
		for _, table := range tables {
			require.True(t, tableExists(t, pool, table), table)
		}
		status, err := store.MigrationStatus(ctx, pool, migrations.FS)
		require.NoError(t, err)
		for _, st := range status {
			require.True(t, st.Applied, st.Version)
		}

		got, err = store.MigrateUp(ctx, pool, migrations.FS)
		require.NoError(t, err)
		require.Empty(t, got, "nothing left to apply")

		got, err = store.MigrateDown(ctx, pool, migrations.FS, 0)
		require.NoError(t, err)
		require.Equal(t, reversed, got)
		for _, table := range tables {
			require.False(t, tableExists(t, pool, table), table)
		}
		var leftover int
		require.NoError(t, pool.QueryRow(ctx, `
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname NOT LIKE 'schema_migrations%'`).Scan(&leftover))
		require.Zero(t, leftover, "down leaves nothing behind")
		status, err = store.MigrationStatus(ctx, pool, migrations.FS)
		require.NoError(t, err)
		for _, st := range status {
			require.False(t, st.Applied, st.Version)
		}
	}
}

func TestMigrateDownSteps(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := testkit.EmptyPostgres(t)
	fsys := threeSteps()

	got, err := store.MigrateDown(ctx, pool, fsys, 0)
	require.NoError(t, err)
	require.Empty(t, got, "nothing applied yet")

	got, err = store.MigrateUp(ctx, pool, fsys)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 3}, got)

	got, err = store.MigrateDown(ctx, pool, fsys, 1)
	require.NoError(t, err)
	require.Equal(t, []int{3}, got)
	require.Equal(t, []int{1, 2}, applied(t, pool, fsys))

	got, err = store.MigrateDown(ctx, pool, fsys, 5)
	require.NoError(t, err)
	require.Equal(t, []int{2, 1}, got)
	require.Empty(t, applied(t, pool, fsys))
	require.False(t, tableExists(t, pool, "a"))
}

func TestMigrateUpConcurrent(t *testing.T) {
	t.Parallel()
	for name, fsys := range map[string]fs.FS{"three steps": threeSteps(), "embedded": migrations.FS} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pool, _ := testkit.EmptyPostgres(t)
			migs, err := store.ParseMigrations(fsys)
			require.NoError(t, err)
			var want []int
			for _, m := range migs {
				want = append(want, m.Version)
			}

			// Several workers starting at once.
			var wg sync.WaitGroup
			results := make([][]int, 4)
			errs := make([]error, 4)
			for i := range results {
				wg.Go(func() { results[i], errs[i] = store.MigrateUp(t.Context(), pool, fsys) })
			}
			wg.Wait()

			var all []int
			for i := range results {
				require.NoError(t, errs[i])
				all = append(all, results[i]...)
			}
			slices.Sort(all)
			require.Equal(t, want, all, "every version applied exactly once")
		})
	}
}

func TestMigrateFailureRollsBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := testkit.EmptyPostgres(t)
	fsys := threeSteps()
	fsys["00002_b.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE b (id int);\nSELECT no_such_column FROM b;")}

	got, err := store.MigrateUp(ctx, pool, fsys)
	require.ErrorContains(t, err, "applying migration 00002_b.up.sql")
	require.Equal(t, []int{1}, got)
	require.Equal(t, []int{1}, applied(t, pool, fsys))
	require.True(t, tableExists(t, pool, "a"))
	require.False(t, tableExists(t, pool, "b"), "the failed migration left nothing")
}

func TestMigrateOutOfOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := testkit.EmptyPostgres(t)
	full := threeSteps()

	_, err := store.MigrateUp(ctx, pool, without(full, "00002_b.up.sql", "00002_b.down.sql"))
	require.NoError(t, err)
	_, err = store.MigrateUp(ctx, pool, full)
	require.ErrorContains(t, err, "migration 00002_b.up.sql is pending but the newer version 3 is already applied")
}

func TestMigrateNewerDatabase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := testkit.EmptyPostgres(t)
	_, err := store.MigrateUp(ctx, pool, threeSteps())
	require.NoError(t, err)
	older := without(threeSteps(), "00003_c.up.sql", "00003_c.down.sql")

	// An older binary starting against a newer schema has nothing to do…
	got, err := store.MigrateUp(ctx, pool, older)
	require.NoError(t, err)
	require.Empty(t, got)

	// …lists the unknown version without a name…
	status, err := store.MigrationStatus(ctx, pool, older)
	require.NoError(t, err)
	require.Len(t, status, 3)
	require.Equal(t, store.MigrationState{Version: 3, Applied: true, AppliedAt: status[2].AppliedAt}, status[2])

	// …and cannot revert what it has no files for.
	got, err = store.MigrateDown(ctx, pool, older, 1)
	require.ErrorContains(t, err, "migration 3 is applied but has no files")
	require.Empty(t, got)
}
