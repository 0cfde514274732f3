package e2e_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/testkit"
	"github.com/wabot/wabot/workflows"
)

var updateHistories = flag.Bool("update-histories", false, "rewrite workflows/testdata/*.json from a real run")

// TestRecordHistories runs one message on the real server and, with
// -update-histories, keeps the workflows' histories for the replay tests in
// workflows/. Run it whenever a workflow's shape changes on purpose.
func TestRecordHistories(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000009"
	require.True(t, h.gw.HandleEvent(textEvent("E2EHIST000001", user, "remember this")))
	msgID := h.messageWorkflowID(user, "E2EHIST000001")
	h.waitClosed(msgID, waitReply)
	chatID := workflows.ChatWorkflowID(h.account, h.deps.Hasher.Hash(textEvent("", user, "").Info.Chat.String()))
	// A command message (governance branch of MessageWorkflow).
	require.True(t, h.gw.HandleEvent(textEvent("E2EHIST000002", user, "/help")))
	cmdID := h.messageWorkflowID(user, "E2EHIST000002")
	h.waitClosed(cmdID, waitReply)
	h.waitChatSettled(user, 2)

	// A media message: an image with a caption (fetch on the gateway queue, vision on the AI queue).
	const mediaUser = "4915100000010"
	h.sendMedia(mediaUser, "E2EHIST000003", "what is this?",
		&localchat.Attachment{Kind: localchat.KindImage, Mime: "image/png", Data: testkit.Image(t, "png")})
	mediaID := h.messageWorkflowID(mediaUser, "E2EHIST000003")

	// The compliance workflows: an /export (its message run and the export),
	// a /wipe confirmed by YES from another user, and a retention sweep.
	h.say(user, "E2EHIST000005", "/export")
	exportID := "export-" + h.account + "-" + h.deps.Hasher.Hash(jid(user)) + "-E2EHIST000005"
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(exportID, waitReply))
	// A media command: the registry hands it to the workflow's media route.
	h.say(mediaUser, "E2EHIST000004", "/voice on")
	voiceCmdID := h.messageWorkflowID(mediaUser, "E2EHIST000004")
	const wiper = "4915100000011"
	h.say(wiper, "E2EHIST000006", "/wipe")
	h.say(wiper, "E2EHIST000007", "YES")
	wipeID := workflows.WipeWorkflowID(h.account, h.deps.Hasher.Hash(jid(wiper)))
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(wipeID, time.Minute))
	sweep, err := h.deps.Temporal.ExecuteWorkflow(h.ctx, client.StartWorkflowOptions{ID: testkit.Name("sweep-"), TaskQueue: h.cfg.Temporal.TaskQueue},
		workflows.RetentionSweepWorkflow)
	require.NoError(t, err)
	require.NoError(t, sweep.Get(h.ctx, nil))

	h.keepHistories(map[string]string{
		"message_workflow.json": msgID, "chat_workflow.json": chatID, "command_workflow.json": cmdID, "media_workflow.json": mediaID,
		"message_export_command.json": h.messageWorkflowID(user, "E2EHIST000005"), "export_workflow.json": exportID,
		"wipe_workflow.json": wipeID, "retention_sweep_workflow.json": sweep.GetID(),
		"message_media_command.json": voiceCmdID, "message_wipe_command.json": h.messageWorkflowID(wiper, "E2EHIST000006"),
		"message_wipe_confirm.json": h.messageWorkflowID(wiper, "E2EHIST000007"),
	})
}

// keepHistories fetches the histories of the workflows (file name → ID) and,
// with -update-histories, writes them to workflows/testdata for the replay test.
func (h *harness) keepHistories(files map[string]string) {
	t := h.t
	t.Helper()
	for file, id := range files {
		hist := &historypb.History{}
		it := h.deps.Temporal.GetWorkflowHistory(h.ctx, id, "", false, 0)
		for it.HasNext() {
			e, err := it.Next()
			require.NoError(t, err)
			hist.Events = append(hist.Events, e)
		}
		require.NotEmpty(t, hist.Events)
		if !*updateHistories {
			continue
		}
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(hist)
		require.NoError(t, err)
		dir := filepath.Join(moduleRoot(t), "workflows", "testdata")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), b, 0o644))
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	return filepath.Dir(filepath.Dir(dir)) // internal/e2e → module root
}
