package e2e_test

import (
	"bytes"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/wabot/wabot/internal/testkit"
)

// lockedBuffer collects a process's output for the test log.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startWorker runs a real `wabot worker` process with the harness's config.
func startWorker(t *testing.T, h *harness) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t, "wabot"), "worker")
	cmd.Env = append(os.Environ(), h.env...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("worker output:\n%s", out.String())
		}
	})
	return cmd
}

func TestWorkerKilledDuringLLMCallRepliesOnce(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: false})
	const user = "4915100000006"
	arrived, release := h.fake.Hold()
	t.Cleanup(release)

	first := startWorker(t, h)
	require.True(t, h.gw.HandleEvent(textEvent("E2EKILL000001", user, "survive this")))
	select {
	case <-arrived:
	case <-time.After(waitReply):
		t.Fatal("the LLM call never arrived")
	}
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	release()

	startWorker(t, h)
	id := h.messageWorkflowID(user, "E2EKILL000001")
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(id, 60*time.Second))
	sent := h.sentTo(user)
	require.Len(t, sent, 1, "exactly one reply after the crash")
	require.Contains(t, sent[0].Text, "survive this")
	require.Len(t, h.chatRequests(), 2, "the killed attempt and the retry")
}
