package e2e_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/types"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/payloadcodec"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
	"github.com/wabot/wabot/workflows"
)

func jid(user string) string { return types.NewJID(user, types.DefaultUserServer).String() }

// say sends text from user and waits until its message workflow closed.
func (h *harness) say(user, id, text string) {
	h.t.Helper()
	require.True(h.t, h.gw.HandleEvent(textEvent(id, user, text)))
	require.Equal(h.t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(h.messageWorkflowID(user, id), waitReply))
}

// waitSent waits until some message to user satisfies ok and returns it.
func (h *harness) waitSent(user string, ok func(localchat.Sent) bool) localchat.Sent {
	h.t.Helper()
	var got localchat.Sent
	testkit.WaitFor(h.t, waitReply, func() bool {
		for _, s := range h.sentTo(user) {
			if ok(s) {
				got = s
				return true
			}
		}
		return false
	}, "no matching message to %s", user)
	return got
}

// rowsAbout counts the rows naming user in every personal-data table.
func (h *harness) rowsAbout(user string) map[string]int {
	h.t.Helper()
	st := store.New(h.pool)
	tables, err := st.PersonTables(h.ctx)
	require.NoError(h.t, err)
	out := map[string]int{}
	for _, tb := range append(tables, store.PersonTable{Name: store.GroupMemoryTable}) {
		rows, err := st.ExportRows(h.ctx, tb, jid(user))
		require.NoError(h.t, err)
		out[tb.Name] = len(rows)
	}
	return out
}

// visible counts the executions Temporal's visibility lists for a query.
func (h *harness) visible(query string) int {
	h.t.Helper()
	resp, err := h.deps.Temporal.ListWorkflow(h.ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: h.cfg.Temporal.Namespace, Query: query,
	})
	require.NoError(h.t, err)
	return len(resp.GetExecutions())
}

// historiesGone reports whether no execution matching query still has a
// history (deletion is asynchronous in Temporal; a record may stay listed a
// little longer while the visibility queue catches up).
func (h *harness) historiesGone(query string) bool {
	h.t.Helper()
	resp, err := h.deps.Temporal.ListWorkflow(h.ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: h.cfg.Temporal.Namespace, Query: query,
	})
	require.NoError(h.t, err)
	for _, e := range resp.GetExecutions() {
		ex := e.GetExecution()
		_, err := h.deps.Temporal.DescribeWorkflowExecution(h.ctx, ex.GetWorkflowId(), ex.GetRunId())
		if _, gone := errors.AsType[*serviceerror.NotFound](err); !gone {
			return false
		}
	}
	return true
}

func TestWipeOverWhatsAppLeavesNothing(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user, other = "4915100000021", "4915100000022"
	h.say(user, "E2EWIPE00001", "remember my cat Felix")
	h.say(other, "E2EWIPE00002", "remember my dog Rex")
	hash := h.deps.Hasher.Hash(jid(user))
	require.NoError(t, h.deps.Redis.Set(h.ctx, h.cfg.Redis.KeyPrefix+"ratelimit:"+hash, 1, time.Hour).Err())
	otherRows := h.rowsAbout(other)

	h.say(user, "E2EWIPE00003", "/wipe")
	h.waitSent(user, func(s localchat.Sent) bool { return strings.Contains(s.Text, "Reply YES") })
	require.NotZero(t, h.rowsAbout(user)["messages"], "nothing deleted before the YES")

	h.say(user, "E2EWIPE00004", "YES")
	wipeID := workflows.WipeWorkflowID(h.account, hash)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(wipeID, 60*time.Second))
	h.waitSent(user, func(s localchat.Sent) bool { return strings.Contains(s.Text, "Done: everything") })

	for table, n := range h.rowsAbout(user) {
		require.Zero(t, n, "rows about the person left in %s", table)
	}
	require.Equal(t, otherRows, h.rowsAbout(other), "the other person keeps everything")
	keys, err := h.deps.Redis.Keys(h.ctx, h.cfg.Redis.KeyPrefix+"*"+hash+"*").Result()
	require.NoError(t, err)
	require.Empty(t, keys)
	query := fmt.Sprintf("WabotChat = %q", hash)
	// Every execution's history is gone at once; the visibility store follows
	// through the server's visibility queue, which lags under a full test run.
	testkit.WaitFor(t, 90*time.Second, func() bool { return h.historiesGone(query) }, "a history of the person is left")
	testkit.WaitFor(t, 90*time.Second, func() bool { return h.visible(query) == 0 }, "the person's executions are still listed")
	_, err = h.deps.Temporal.DescribeWorkflowExecution(h.ctx, h.messageWorkflowID(user, "E2EWIPE00001"), "")
	require.Error(t, err, "the message workflow's history is gone")
	require.NotZero(t, h.visible(fmt.Sprintf("WabotChat = %q", h.deps.Hasher.Hash(jid(other)))))

	var action, target string
	require.NoError(t, h.pool.QueryRow(h.ctx, `SELECT action, target FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&action, &target))
	require.Equal(t, "data.wipe", action)
	require.Empty(t, target)

	// Last, the wipe's own run (its input names the person) is deleted a
	// minute after it finished, by a run that knows only its run ID.
	testkit.WaitFor(t, 3*time.Minute, func() bool {
		_, err := h.deps.Temporal.DescribeWorkflowExecution(h.ctx, wipeID, "")
		_, gone := errors.AsType[*serviceerror.NotFound](err)
		return gone
	}, "the wipe's own run is still there")
}

func TestWipeNotConfirmedIsAnOrdinaryYes(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000023"
	h.say(user, "E2EWIPE00011", "YES")
	require.Len(t, h.chatRequests(), 1, "without a pending wipe, YES goes to the model")
	require.NotZero(t, h.rowsAbout(user)["messages"])
}

func TestExportOverWhatsAppArrivesAsZip(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user, other = "4915100000031", "4915100000032"
	h.say(user, "E2EEXP00001", "my favourite colour is teal")
	h.say(other, "E2EEXP00002", "my favourite colour is crimson")
	h.say(user, "E2EEXP00003", "/export")
	doc := h.waitSent(user, func(s localchat.Sent) bool { return s.FileName != "" })
	require.True(t, strings.HasSuffix(doc.FileName, ".zip"))
	zr, err := zip.NewReader(bytes.NewReader(doc.Document), int64(len(doc.Document)))
	require.NoError(t, err)
	all := ""
	names := []string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		all += string(b)
		names = append(names, f.Name)
	}
	require.Contains(t, names, "README.txt")
	require.Contains(t, names, "messages.json")
	require.Contains(t, all, "teal")
	require.NotContains(t, all, "crimson")
	require.NotContains(t, all, other)
}

func TestPayloadsAreEncryptedAndTheCodecEndpointDecodes(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user, secretText = "4915100000041", "my secret diary entry"
	h.say(user, "E2ECODEC0001", secretText)

	// The raw history, as the server stores it.
	resp, err := h.deps.Temporal.WorkflowService().GetWorkflowExecutionHistory(h.ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace: h.cfg.Temporal.Namespace, Execution: &commonpb.WorkflowExecution{WorkflowId: h.messageWorkflowID(user, "E2ECODEC0001")},
	})
	require.NoError(t, err)
	raw, err := protojson.Marshal(resp.GetHistory())
	require.NoError(t, err)
	require.NotContains(t, string(raw), "secret diary")
	require.NotContains(t, string(raw), user)
	input := resp.GetHistory().GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
	require.Equal(t, payloadcodec.Encoding, string(input[0].GetMetadata()["encoding"]))

	// The admin server's codec endpoint decrypts for a holder of the token.
	srv := httptest.NewServer(app.AdminHandlerFor(h.deps))
	t.Cleanup(srv.Close)
	remote := func(header string) converter.PayloadCodec {
		return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
			Endpoint: srv.URL + payloadcodec.Path,
			ModifyRequest: func(r *http.Request) error {
				if header != "" {
					r.Header.Set("Authorization", header)
				}
				return nil
			},
		})
	}
	dec, err := remote("Bearer " + testCodecToken).Decode(input)
	require.NoError(t, err)
	require.Contains(t, string(dec[0].GetData()), secretText)
	enc, err := remote("Bearer " + testCodecToken).Encode(dec)
	require.NoError(t, err)
	require.NotContains(t, string(enc[0].GetData()), "secret diary")
	_, err = remote("").Decode(input)
	require.Error(t, err, "no token, no plain text")
	_, err = remote("Bearer nope").Decode(input)
	require.Error(t, err)
}

func TestSchedulesAreCreatedOnceAndRunTheSweep(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	require.NoError(t, app.EnsureSchedules(h.ctx, h.deps))
	require.NoError(t, app.EnsureSchedules(h.ctx, h.deps), "idempotent")
	id := app.ScheduleID(workflows.ScheduleRetention, h.cfg.Temporal.TaskQueue)
	handle := h.deps.Temporal.ScheduleClient().GetHandle(h.ctx, id)
	t.Cleanup(func() { _ = handle.Delete(t.Context()) })
	t.Cleanup(func() {
		_ = h.deps.Temporal.ScheduleClient().GetHandle(t.Context(), app.ScheduleID(workflows.ScheduleAuditVerify, h.cfg.Temporal.TaskQueue)).Delete(t.Context())
	})
	desc, err := handle.Describe(h.ctx)
	require.NoError(t, err)
	require.Equal(t, time.Hour, desc.Schedule.Spec.Intervals[0].Every)
	require.NoError(t, handle.Trigger(h.ctx, clientTrigger()))
	testkit.WaitFor(t, waitReply, func() bool {
		d, err := handle.Describe(h.ctx)
		if err != nil || len(d.Info.RecentActions) == 0 {
			return false
		}
		run := d.Info.RecentActions[0].StartWorkflowResult
		st := h.waitClosed(run.WorkflowID, waitReply)
		return st == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}, "the triggered sweep did not complete")
	var n int
	require.NoError(t, h.pool.QueryRow(h.ctx, `SELECT count(*) FROM audit_log WHERE action = 'retention.sweep'`).Scan(&n))
	require.Equal(t, 1, n)
}

func clientTrigger() client.ScheduleTriggerOptions {
	return client.ScheduleTriggerOptions{Overlap: enums.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}
}
