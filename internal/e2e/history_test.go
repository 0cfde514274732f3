package e2e_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/wabot/wabot/gateway/localchat"
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
		&localchat.Attachment{Kind: localchat.KindImage, Mime: "image/png", Data: testImage(t, "png")})
	mediaID := h.messageWorkflowID(mediaUser, "E2EHIST000003")

	for file, id := range map[string]string{
		"message_workflow.json": msgID, "chat_workflow.json": chatID, "command_workflow.json": cmdID, "media_workflow.json": mediaID,
	} {
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
