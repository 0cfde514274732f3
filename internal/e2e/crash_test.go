package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/wabot/wabot/internal/testkit"
	"github.com/wabot/wabot/workflows"
)

// startWorker runs a real `wabot worker` process with the harness's config.
func startWorker(t *testing.T, h *harness) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t, "wabot"), "worker")
	cmd.Env = append(os.Environ(), h.env...)
	out := &testkit.LockedBuffer{}
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

// TestSendLostWithItsGatewayIsRetriedSoon: a gateway that stops or crashes
// may take a Send task off the queue and never answer for it (a poll the
// server had already answered when the worker cancelled it). The server
// counts the task as started; the retry must come within the gateway's
// heartbeat timeout, not after Send's whole start-to-close timeout.
func TestSendLostWithItsGatewayIsRetriedSoon(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000007"
	h.gw.Worker.Stop() // the gateway's worker is gone; its event handler still hands messages to Temporal
	require.True(t, h.gw.HandleEvent(textEvent("E2ELOST000001", user, "lost and found")))

	// A dead gateway's poll: take the Send task and never answer.
	queue := &taskqueuepb.TaskQueue{Name: workflows.GatewayTaskQueue(h.account), Kind: enums.TASK_QUEUE_KIND_NORMAL}
	pollCtx, cancel := context.WithTimeout(h.ctx, waitReply)
	defer cancel()
	for {
		resp, err := h.deps.Temporal.WorkflowService().PollActivityTaskQueue(pollCtx, &workflowservice.PollActivityTaskQueueRequest{
			Namespace: h.cfg.Temporal.Namespace, TaskQueue: queue, Identity: "dead-gateway",
		})
		require.NoError(t, err, "the Send task was never polled")
		if resp.GetActivityType().GetName() == workflows.ActivitySend {
			break
		} // else the typing indicator (or an empty long poll): dropped too
	}
	lost := time.Now()

	h.startGateway()
	testkit.WaitFor(t, 30*time.Second, func() bool { return len(h.sentTo(user)) > 0 }, "no reply within 30 s of the lost Send")
	t.Logf("reply %v after the Send task was lost", time.Since(lost).Round(time.Millisecond))
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(h.messageWorkflowID(user, "E2ELOST000001"), waitReply))
	sent := h.sentTo(user)
	require.Len(t, sent, 1)
	require.Contains(t, sent[0].Text, "lost and found")
}
