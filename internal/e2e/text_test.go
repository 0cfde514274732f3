package e2e_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/openaifake"
)

const waitReply = 30 * time.Second

func TestTextMessageGetsExactlyOneReply(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000001"
	require.True(t, h.gw.HandleEvent(textEvent("E2E0000000001", user, "hello")))

	id := h.messageWorkflowID(user, "E2E0000000001")
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(id, waitReply))
	sent := h.sentTo(user)
	require.Len(t, sent, 1)
	reqs := h.chatRequests()
	require.Len(t, reqs, 1)
	require.Contains(t, sent[0].Text, "hello", "the reply is the LLM's text")
	require.Equal(t, lastChatText(t, reqs[0]), "hello")

	// The turn was recorded: the next message carries it as memory.
	require.True(t, h.gw.HandleEvent(textEvent("E2E0000000002", user, "and again")))
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(h.messageWorkflowID(user, "E2E0000000002"), waitReply))
	reqs = h.chatRequests()
	require.Len(t, reqs, 2)
	msgs := reqs[1].Chat.Messages
	require.GreaterOrEqual(t, len(msgs), 4, "system + remembered user/assistant + new user")
	require.Equal(t, "hello", msgs[len(msgs)-3].Text)
	require.Equal(t, sent[0].Text, msgs[len(msgs)-2].Text)
}

func TestRedeliveredMessageRunsOnce(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000002"
	evt := textEvent("E2EDUP0000001", user, "are you there?")
	require.True(t, h.gw.HandleEvent(evt))
	require.True(t, h.gw.HandleEvent(evt), "a redelivery while the first is running")
	id := h.messageWorkflowID(user, evt.Info.ID)
	h.waitClosed(id, waitReply)
	require.True(t, h.gw.HandleEvent(evt), "a redelivery after the first finished")
	st := h.waitChatSettled(user, 3)
	require.Equal(t, 1, st.Handled)
	require.Equal(t, 2, st.Duplicates)

	require.Len(t, h.sentTo(user), 1)
	require.Equal(t, 1, h.countRuns(id))
	require.Len(t, h.chatRequests(), 1)
}

func TestLLMServerErrorIsRetried(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000003"
	h.fake.Enqueue(openaifake.Fault{Status: 500})
	require.True(t, h.gw.HandleEvent(textEvent("E2E500000001", user, "retry me")))
	h.waitClosed(h.messageWorkflowID(user, "E2E500000001"), waitReply)
	sent := h.sentTo(user)
	require.Len(t, sent, 1)
	require.Contains(t, sent[0].Text, "retry me")
	require.Len(t, h.chatRequests(), 2, "one failed call, one retry")
}

func TestLLMBadRequestGetsFriendlyCode(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000004"
	h.fake.Enqueue(openaifake.Fault{Status: 400})
	require.True(t, h.gw.HandleEvent(textEvent("E2E400000001", user, "bad")))
	id := h.messageWorkflowID(user, "E2E400000001")
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(id, waitReply))
	sent := h.sentTo(user)
	require.Len(t, sent, 1)
	require.Equal(t, errcode.UserMessage(errcode.LLMRejected), sent[0].Text)
	require.Len(t, h.chatRequests(), 1, "a 400 is not retried")
}

func TestRepliesKeepArrivalOrder(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000005"
	h.fake.SetLatency(50 * time.Millisecond)
	ids := []string{"E2EORD0000001", "E2EORD0000002", "E2EORD0000003"}
	words := []string{"first", "second", "third"}
	for i := range ids {
		require.True(t, h.gw.HandleEvent(textEvent(ids[i], user, words[i])))
	}
	for _, id := range ids {
		h.waitClosed(h.messageWorkflowID(user, id), waitReply)
	}
	got := texts(h.sentTo(user))
	require.Len(t, got, 3)
	for i, w := range words {
		require.Contains(t, got[i], w)
	}
}
