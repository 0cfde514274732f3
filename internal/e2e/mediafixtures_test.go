package e2e_test

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/testkit"
	"github.com/wabot/wabot/workflows"
)

// Real media made in the test: a voice note spoken by espeak-ng and encoded
// to Ogg/Opus by ffmpeg, images from Go's encoders, PDFs written by hand, and
// a scanned PDF made by rendering one with poppler and wrapping the page
// image (no text layer) into a new PDF.

// requireTool skips nothing: CI installs the tools (.ci/run); a missing one fails.
func requireTool(t *testing.T, name string) {
	t.Helper()
	_, err := exec.LookPath(name)
	require.NoError(t, err, "%s is not installed (apt-get install it; .ci/run does)", name)
}

// voiceNote speaks text with espeak-ng and encodes it as a WhatsApp-style
// Ogg/Opus voice note. The fake transcriber reads the TRANSCRIPT: tag.
func voiceNote(t *testing.T, text string) []byte {
	t.Helper()
	requireTool(t, "espeak-ng")
	requireTool(t, "ffmpeg")
	dir := t.TempDir()
	wav, ogg := filepath.Join(dir, "v.wav"), filepath.Join(dir, "v.ogg")
	out, err := exec.Command("espeak-ng", "-w", wav, text).CombinedOutput()
	require.NoError(t, err, string(out))
	out, err = exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", wav, "-ac", "1", "-c:a", "libopus",
		"-b:a", "24k", "-metadata", "comment="+openaifake.TranscriptMarker+text+"\n", ogg).CombinedOutput()
	require.NoError(t, err, string(out))
	b, err := os.ReadFile(ogg)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte("OggS")))
	return b
}

// scannedPDF renders a text PDF to a page image with poppler and wraps the
// JPEG into a PDF without any text layer, like a scan.
func scannedPDF(t *testing.T, lines ...string) []byte {
	t.Helper()
	requireTool(t, "pdftoppm")
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pdf")
	require.NoError(t, os.WriteFile(src, testkit.TextPDF(28, lines...), 0o600))
	out, err := exec.Command("pdftoppm", "-r", "150", "-jpeg", "-singlefile", src, filepath.Join(dir, "page")).CombinedOutput()
	require.NoError(t, err, string(out))
	jpg, err := os.ReadFile(filepath.Join(dir, "page.jpg"))
	require.NoError(t, err)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg))
	require.NoError(t, err)
	return testkit.PDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>",
		testkit.PDFStream("", []byte("q 612 0 0 792 0 0 cm /Im1 Do Q")),
		testkit.PDFStream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode",
			cfg.Width, cfg.Height), jpg),
	)
}

// sendMedia sends a message with an attachment from user through the local
// transport (a real *events.Message into the real gateway handler) and waits
// for its workflow to complete.
func (h *harness) sendMedia(user, id, caption string, a *localchat.Attachment) workflows.MessageResult {
	h.t.Helper()
	_, err := h.transport.Receive(h.ctx, localchat.Incoming{From: user, ID: id, Text: caption, Media: a})
	require.NoError(h.t, err)
	return h.result(user, id)
}

// result waits for a message's workflow to complete and returns its result.
func (h *harness) result(user, id string) workflows.MessageResult {
	h.t.Helper()
	wid := h.messageWorkflowID(user, id)
	require.Equal(h.t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(wid, waitMedia))
	var res workflows.MessageResult
	require.NoError(h.t, h.deps.Temporal.GetWorkflow(h.ctx, wid, "").Get(h.ctx, &res))
	return res
}

// requireTempEmpty checks that no worker left files in its scratch directory.
func (h *harness) requireTempEmpty() {
	h.t.Helper()
	dirs, err := filepath.Glob(filepath.Join(h.tmpBase, "wabot-*"))
	require.NoError(h.t, err)
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		require.NoError(h.t, err)
		require.Empty(h.t, entries, "temp dir %s is not empty", d)
	}
}
