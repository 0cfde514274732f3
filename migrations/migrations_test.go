package migrations_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/migrations"
)

// TestFiles checks the embedded set: it parses, and versions run 1, 2, 3, …
// without gaps. Running them up, down and up again is in internal/store.
func TestFiles(t *testing.T) {
	t.Parallel()
	migs, err := store.ParseMigrations(migrations.FS)
	require.NoError(t, err)
	require.NotEmpty(t, migs)
	require.Equal(t, 1, migs[0].Version)
	for i, m := range migs {
		if i > 0 {
			require.Equal(t, migs[i-1].Version+1, m.Version, "no gaps: %s", m.UpFile)
		}
		require.NotEmpty(t, strings.TrimSpace(m.Up), m.UpFile)
		require.NotEmpty(t, strings.TrimSpace(m.Down), m.DownFile)
	}

	names, err := fs.Glob(migrations.FS, "*")
	require.NoError(t, err)
	for _, n := range names {
		require.True(t, strings.HasSuffix(n, ".sql"), "only migrations live here: %s", n)
	}
}
