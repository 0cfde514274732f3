package tempdir_test

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/tempdir"
	"github.com/wabot/wabot/internal/testkit"
)

// TestMain doubles as the "crashing process": with WABOT_TEMPDIR_CHILD set
// it creates its directory, leaves a file in it and waits to be killed.
func TestMain(m *testing.M) {
	if base := os.Getenv("WABOT_TEMPDIR_CHILD"); base != "" {
		r, err := tempdir.New(slog.New(slog.DiscardHandler), base)
		if err != nil {
			os.Exit(2)
		}
		dir, _, _ := r.Work("ocr")
		_ = os.WriteFile(filepath.Join(dir, "page.png"), []byte("x"), 0o600)
		_, _ = os.Stdout.WriteString("ready\n")
		select {} // killed by the parent
	}
	os.Exit(m.Run())
}

func TestWorkDirsAreRemoved(t *testing.T) {
	t.Parallel()
	r, err := tempdir.New(testkit.Logger(t), t.TempDir())
	require.NoError(t, err)
	info, err := os.Stat(r.Dir())
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	require.Equal(t, "wabot-"+strconv.Itoa(os.Getpid()), filepath.Base(r.Dir()))

	dir, done, err := r.Work("ffmpeg")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.ogg"), []byte("x"), 0o600))
	require.Equal(t, 1, r.Entries())
	done()
	require.Equal(t, 0, r.Entries())
	require.NoError(t, r.Close())
	_, err = os.Stat(r.Dir())
	require.True(t, os.IsNotExist(err))
}

func TestCrashedProcessDirIsSweptAtStartup(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WABOT_TEMPDIR_CHILD="+base)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	buf := make([]byte, 6)
	_, err = out.Read(buf)
	require.NoError(t, err)
	childDir := filepath.Join(base, "wabot-"+strconv.Itoa(cmd.Process.Pid))
	require.DirExists(t, childDir)

	// A live process's directory is left alone.
	r, err := tempdir.New(testkit.Logger(t), base)
	require.NoError(t, err)
	require.DirExists(t, childDir)
	require.NoError(t, r.Close())

	// Simulated crash: SIGKILL leaves the directory behind; the next start sweeps it.
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.DirExists(t, childDir)
	r, err = tempdir.New(testkit.Logger(t), base)
	require.NoError(t, err)
	require.NoDirExists(t, childDir)
	require.NoError(t, r.Close())
	entries, err := os.ReadDir(base)
	require.NoError(t, err)
	require.Empty(t, entries)
}
