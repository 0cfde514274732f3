package e2e_test

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/testkit"
)

// TestWorkerTempDirLifecycle: a real `wabot worker` creates its 0700 scratch
// directory named with its PID, removes it on SIGTERM, leaves it behind when
// killed, and the next start sweeps what the dead process left.
func TestWorkerTempDirLifecycle(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: false})
	dirOf := func(pid int) string { return filepath.Join(h.tmpBase, "wabot-"+strconv.Itoa(pid)) }

	first := startWorker(t, h)
	testkit.WaitFor(t, 30*time.Second, func() bool { _, err := os.Stat(dirOf(first.Process.Pid)); return err == nil }, "worker temp dir")
	info, err := os.Stat(dirOf(first.Process.Pid))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	require.NoError(t, first.Process.Signal(syscall.SIGTERM))
	_ = first.Wait()
	require.NoDirExists(t, dirOf(first.Process.Pid), "SIGTERM removes the temp dir")

	crashed := startWorker(t, h)
	testkit.WaitFor(t, 30*time.Second, func() bool { _, err := os.Stat(dirOf(crashed.Process.Pid)); return err == nil }, "worker temp dir")
	require.NoError(t, os.WriteFile(filepath.Join(dirOf(crashed.Process.Pid), "left-over.ogg"), []byte("x"), 0o600))
	require.NoError(t, crashed.Process.Signal(syscall.SIGKILL))
	_ = crashed.Wait()
	require.DirExists(t, dirOf(crashed.Process.Pid), "a crash leaves it behind")

	next := startWorker(t, h)
	testkit.WaitFor(t, 30*time.Second, func() bool { _, err := os.Stat(dirOf(next.Process.Pid)); return err == nil }, "worker temp dir")
	require.NoDirExists(t, dirOf(crashed.Process.Pid), "the next start sweeps it")
	entries, err := os.ReadDir(h.tmpBase)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the live worker's directory")
}
