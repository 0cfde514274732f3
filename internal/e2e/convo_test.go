package e2e_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/testkit"
	"github.com/wabot/wabot/workflows"
)

// chatStatus queries a chat inbox's status.
func (h *harness) chatStatus(user string) (workflows.ChatStatus, bool) {
	id := workflows.ChatWorkflowID(h.account, h.deps.Hasher.Hash(jid(user)))
	var st workflows.ChatStatus
	v, err := h.deps.Temporal.QueryWorkflow(h.ctx, id, "", workflows.QueryStatus)
	if err != nil || v.Get(&st) != nil {
		return st, false
	}
	return st, true
}

// waitArrived waits for a held LLM request.
func waitArrived(t *testing.T, arrived <-chan struct{}) {
	t.Helper()
	select {
	case <-arrived:
	case <-time.After(waitReply):
		t.Fatal("the LLM call never arrived")
	}
}

// Three messages 300 ms apart are one LLM call whose prompt holds all three,
// and one reply; a fourth that arrives while that reply is being generated
// is answered next, with the first answer in its context.
func TestBurstIsOneTurnAndALateMessageIsAnsweredNext(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true, env: []string{"GATEWAY_BURST_WINDOW=1500ms", "GATEWAY_BURST_MAX=6s"}})
	const user = "4915100000301"
	arrived, release := h.fake.Hold()
	t.Cleanup(release)
	ids := []string{"E2EBURST00001", "E2EBURST00002", "E2EBURST00003"}
	for i, text := range []string{"hi", "I have a question", "about my invoice"} {
		if i > 0 {
			time.Sleep(300 * time.Millisecond) // typing speed: the pace of the input, not a check
		}
		require.True(t, h.gw.HandleEvent(textEvent(ids[i], user, text)))
	}
	waitArrived(t, arrived)
	require.True(t, h.gw.HandleEvent(textEvent("E2EBURST00004", user, "and one more thing")))
	release()

	h.waitSent(user, func(s localchat.Sent) bool { return strings.Contains(s.Text, "and one more thing") })
	reqs := h.chatRequests()
	require.Len(t, reqs, 2, "one LLM call for the burst, one for the late message")
	require.Equal(t, "hi\nI have a question\nabout my invoice", lastChatText(t, reqs[0]))
	require.Equal(t, "and one more thing", lastChatText(t, reqs[1]))
	var sawAnswer bool
	for _, m := range reqs[1].Chat.Messages {
		sawAnswer = sawAnswer || (m.Role == "assistant" && strings.Contains(m.Text, "about my invoice"))
	}
	require.True(t, sawAnswer, "the late message's turn has the burst's answer in context")
	sent := h.sentTo(user)
	require.Len(t, sent, 2)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(h.messageWorkflowID(user, ids[0]), waitReply))
	require.Equal(t, workflows.MessageResult{Skipped: "burst", AnsweredBy: ids[2]}, h.result(user, ids[0]), "each message keeps its own run, linked")
}

// /stop during a slow LLM call cancels the call: its run ends cancelled,
// nothing is sent for it, and the /stop is answered.
func TestStopCancelsTheLLMCall(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000302"
	h.fake.Enqueue(openaifake.Fault{Hang: true})
	require.True(t, h.gw.HandleEvent(textEvent("E2ESTOP000001", user, "write me a very long essay")))
	testkit.WaitFor(t, waitReply, func() bool { return len(h.chatRequests()) == 1 }, "the LLM call never arrived")
	require.True(t, h.gw.HandleEvent(textEvent("E2ESTOP000002", user, "/stop")))

	id := h.messageWorkflowID(user, "E2ESTOP000001")
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_CANCELED, h.waitClosed(id, waitReply))
	h.waitSent(user, func(s localchat.Sent) bool { return s.Text == "Stopped." })
	iter := h.deps.Temporal.GetWorkflowHistory(h.ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	cancelRequested := false
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		cancelRequested = cancelRequested || ev.GetEventType() == enums.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED
	}
	require.True(t, cancelRequested, "the LLM activity was cancelled")
	require.Equal(t, []string{"Stopped."}, texts(h.sentTo(user)), "nothing was sent for the stopped answer")

	require.True(t, h.gw.HandleEvent(textEvent("E2ESTOP000003", user, "/stop")))
	h.waitSent(user, func(s localchat.Sent) bool { return s.Text == "There's nothing to stop." })
}

// The owner answering by hand pauses the bot in that chat: the next user
// message is recorded, not answered, also across a worker restart; once
// the pause ran out, the bot answers again.
func TestTakeoverPausesTheBotAcrossAWorkerRestart(t *testing.T) {
	t.Parallel()
	const pause = 15 * time.Second
	h := setup(t, options{env: []string{"GATEWAY_TAKEOVER_PAUSE=" + pause.String()}})
	const user = "4915100000303"
	worker := startWorker(t, h)

	own := textEvent("E2EOWN0000001", user, "Hi, it's me, the owner, writing myself")
	own.Info.IsFromMe, own.Info.Sender = true, localchat.BotJID
	require.True(t, h.gw.HandleEvent(own))
	testkit.WaitFor(t, waitReply, func() bool {
		st, ok := h.chatStatus(user)
		return ok && !st.PausedUntil.IsZero()
	}, "the chat never paused")
	desc, err := h.deps.Temporal.DescribeWorkflowExecution(h.ctx, workflows.ChatWorkflowID(h.account, h.deps.Hasher.Hash(jid(user))), "")
	require.NoError(t, err)
	require.Contains(t, string(desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[workflows.SAOutcome.GetName()].GetData()), "paused",
		"operators find paused chats by WabotOutcome")

	require.True(t, h.gw.HandleEvent(textEvent("E2EOWN0000002", user, "hello? anyone?")))
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(h.messageWorkflowID(user, "E2EOWN0000002"), waitReply))
	require.Equal(t, workflows.MessageResult{Skipped: "paused"}, h.result(user, "E2EOWN0000002"))

	require.NoError(t, worker.Process.Signal(syscall.SIGKILL))
	_ = worker.Wait()
	startWorker(t, h)

	require.True(t, h.gw.HandleEvent(textEvent("E2EOWN0000003", user, "still nobody?")))
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(h.messageWorkflowID(user, "E2EOWN0000003"), waitReply))
	require.Equal(t, workflows.MessageResult{Skipped: "paused"}, h.result(user, "E2EOWN0000003"), "the pause survived the restart")
	require.Empty(t, h.sentTo(user), "nothing answered during the pause")
	require.Empty(t, h.chatRequests())

	testkit.WaitFor(t, 2*pause, func() bool {
		st, ok := h.chatStatus(user)
		return ok && st.PausedUntil.IsZero()
	}, "the pause never ended")
	require.True(t, h.gw.HandleEvent(textEvent("E2EOWN0000004", user, "there you are")))
	h.waitSent(user, func(s localchat.Sent) bool { return strings.Contains(s.Text, "there you are") })
}

// TestRecordConvoHistories records (with -update-histories) an inbox run
// with a burst, a /stop and a takeover, and the message runs it leaves —
// held for a burst, stopped, held for a pause — for the replay test.
func TestRecordConvoHistories(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true, env: []string{"GATEWAY_BURST_WINDOW=500ms"}})
	const user = "4915100000304"
	require.True(t, h.gw.HandleEvent(textEvent("E2EHISTC00001", user, "one")))
	require.True(t, h.gw.HandleEvent(textEvent("E2EHISTC00002", user, "two")))
	h.waitSent(user, func(s localchat.Sent) bool { return strings.Contains(s.Text, "two") })

	h.fake.Enqueue(openaifake.Fault{Hang: true})
	require.True(t, h.gw.HandleEvent(textEvent("E2EHISTC00003", user, "long essay")))
	testkit.WaitFor(t, waitReply, func() bool { return len(h.chatRequests()) == 2 }, "the LLM call never arrived")
	require.True(t, h.gw.HandleEvent(textEvent("E2EHISTC00004", user, "/stop")))
	h.waitSent(user, func(s localchat.Sent) bool { return s.Text == "Stopped." })

	own := textEvent("E2EHISTC00005", user, "I'll take it from here")
	own.Info.IsFromMe, own.Info.Sender = true, localchat.BotJID
	require.True(t, h.gw.HandleEvent(own))
	testkit.WaitFor(t, waitReply, func() bool { st, ok := h.chatStatus(user); return ok && !st.PausedUntil.IsZero() }, "no pause")
	require.True(t, h.gw.HandleEvent(textEvent("E2EHISTC00006", user, "hello?")))
	paused := h.messageWorkflowID(user, "E2EHISTC00006")
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(paused, waitReply))
	h.waitChatSettled(user, 5)

	h.keepHistories(map[string]string{
		"chat_workflow.json":               workflows.ChatWorkflowID(h.account, h.deps.Hasher.Hash(jid(user))),
		"message_workflow_burst.json":      h.messageWorkflowID(user, "E2EHISTC00002"),
		"message_workflow_burst_held.json": h.messageWorkflowID(user, "E2EHISTC00001"),
		"message_workflow_stopped.json":    h.messageWorkflowID(user, "E2EHISTC00003"),
		"message_workflow_paused.json":     paused,
	})
}
