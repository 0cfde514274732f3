package e2e_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/openaifake"
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

// testImage is a small gradient encoded as JPEG or PNG.
func testImage(t *testing.T, format string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for x := range 48 {
		for y := range 32 {
			img.Set(x, y, color.RGBA{R: uint8(x * 5), G: uint8(y * 7), B: 128, A: 255})
		}
	}
	var buf bytes.Buffer
	if format == "png" {
		require.NoError(t, png.Encode(&buf, img))
	} else {
		require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}))
	}
	return buf.Bytes()
}

// pdf assembles a PDF from object bodies (object i+1 = objs[i]) with a
// correct cross-reference table.
func pdf(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func stream(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// textPDF is a one-page PDF with lines of Helvetica text.
func textPDF(size int, lines ...string) []byte {
	var c strings.Builder
	fmt.Fprintf(&c, "BT /F1 %d Tf 60 740 Td %d TL\n", size, size*3/2)
	for _, l := range lines {
		fmt.Fprintf(&c, "(%s) Tj T*\n", l)
	}
	c.WriteString("ET")
	return pdf(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		stream("", []byte(c.String())),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	)
}

// scannedPDF renders a text PDF to a page image with poppler and wraps the
// JPEG into a PDF without any text layer, like a scan.
func scannedPDF(t *testing.T, lines ...string) []byte {
	t.Helper()
	requireTool(t, "pdftoppm")
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pdf")
	require.NoError(t, os.WriteFile(src, textPDF(28, lines...), 0o600))
	out, err := exec.Command("pdftoppm", "-r", "150", "-jpeg", "-singlefile", src, filepath.Join(dir, "page")).CombinedOutput()
	require.NoError(t, err, string(out))
	jpg, err := os.ReadFile(filepath.Join(dir, "page.jpg"))
	require.NoError(t, err)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg))
	require.NoError(t, err)
	return pdf(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>",
		stream("", []byte("q 612 0 0 792 0 0 cm /Im1 Do Q")),
		stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode",
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
