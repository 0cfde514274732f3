package migrations_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/migrations"
)

// TestFiles checks the embedded set: it parses, and versions increase.
// (Branches reserve numbers in advance, e.g. media owns 00003 while 00002
// lands from another branch, so a gap is allowed while they merge.) Running them up, down and up again is in internal/store.
func TestFiles(t *testing.T) {
	t.Parallel()
	migs, err := store.ParseMigrations(migrations.FS)
	require.NoError(t, err)
	require.NotEmpty(t, migs)
	prev := 0
	for _, m := range migs {
		require.Greater(t, m.Version, prev, "versions increase")
		prev = m.Version
		require.NotEmpty(t, strings.TrimSpace(m.Up), m.UpFile)
		require.NotEmpty(t, strings.TrimSpace(m.Down), m.DownFile)
	}

	names, err := fs.Glob(migrations.FS, "*")
	require.NoError(t, err)
	for _, n := range names {
		require.True(t, strings.HasSuffix(n, ".sql"), "only migrations live here: %s", n)
	}
}
