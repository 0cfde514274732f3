package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"

	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/store"
)

// Document limits.
const (
	chunkChars  = 1200 // target size of a searchable chunk
	maxChunks   = 2000 // a document's text beyond this is not kept
	askChunks   = 4    // chunks that go into the prompt of a question
	maxDocChars = maxChunks * chunkChars
)

// DocumentInput is a document to extract.
type DocumentInput struct {
	Inbound   message.Inbound // its Media names the file
	BlobKey   string
	ExpiresAt time.Time
}

// DocumentResult tells what was extracted.
type DocumentResult struct {
	Chunks int
	Chars  int
	OCR    bool // the text came from OCR
}

// ExtractDocument reads a document's text — a PDF with pdftotext, OCR with
// tesseract when the PDF has no text layer, an image of a page with OCR,
// plain text as is — and stores it in chunks for full-text search.
func (m *MediaActivities) ExtractDocument(ctx context.Context, in DocumentInput) (DocumentResult, error) {
	b, err := m.blob(ctx, in.BlobKey)
	if err != nil {
		return DocumentResult{}, err
	}
	dir, done, err := m.tmp.Work("doc")
	if err != nil {
		return DocumentResult{}, err
	}
	defer done()
	var res DocumentResult
	name := ""
	if in.Inbound.Media != nil {
		name = in.Inbound.Media.FileName
	}
	mime, ext := baseMime(b.Mime), strings.ToLower(filepath.Ext(name))
	var text string
	switch {
	case mime == "application/pdf" || ext == ".pdf":
		text, res.OCR, err = m.pdfText(ctx, dir, b.Data)
	case strings.HasPrefix(mime, "image/"):
		res.OCR = true
		text, err = m.ocrImage(ctx, dir, b.Data)
	case strings.HasPrefix(mime, "text/") || slices.Contains([]string{".txt", ".md", ".csv"}, ext):
		if !utf8.Valid(b.Data) {
			return DocumentResult{}, failed(errcode.MediaCorrupt, "text document is not UTF-8", nil)
		}
		text = string(b.Data)
	default:
		return DocumentResult{}, failed(errcode.UnsupportedMedia, "unsupported document type", nil)
	}
	if err != nil {
		return DocumentResult{}, err
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return DocumentResult{}, failed(errcode.MediaCorrupt, "document has no readable text", nil)
	}
	parts := chunk(text, chunkChars)
	chunks := make([]store.DocumentChunk, len(parts))
	for i, p := range parts {
		chunks[i] = store.DocumentChunk{MessageID: in.Inbound.ID, FileName: name, Seq: i, Content: p}
	}
	if err := m.store.SaveDocumentChunks(ctx, in.Inbound.Account, in.Inbound.Chat, in.ExpiresAt, chunks); err != nil {
		return DocumentResult{}, err
	}
	res.Chunks, res.Chars = len(chunks), len(text)
	m.logger.InfoContext(ctx, "document extracted", slog.String("chat_hash", in.Inbound.ChatHash),
		slog.String("message_id", in.Inbound.ID), slog.Int("chunks", res.Chunks), slog.Bool("ocr", res.OCR))
	return res, nil
}

// run runs a tool and maps its failure to MediaCorrupt (a missing tool to Internal).
func (m *MediaActivities) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	stop := Heartbeat(ctx)
	defer stop()
	//nolint:gosec // G204: fixed programs; arguments are our own file names and settings.
	cmd := exec.CommandContext(ctx, tool, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, failed(errcode.Internal, tool+" is not installed", err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m.logger.WarnContext(ctx, "document tool failed", slog.String("tool", tool),
			slog.String("stderr", lastLine([]byte(stderr.String()))), slog.Any("error", err))
		return nil, failed(errcode.MediaCorrupt, tool+" could not read the document", err)
	}
	return out, nil
}

// pdfText extracts a PDF's text layer, or OCRs its pages when it has none.
func (m *MediaActivities) pdfText(ctx context.Context, dir string, data []byte) (string, bool, error) {
	pdf := filepath.Join(dir, "doc.pdf")
	if err := os.WriteFile(pdf, data, 0o600); err != nil {
		return "", false, err
	}
	out, err := m.run(ctx, "pdftotext", "-q", "-enc", "UTF-8", "-layout", pdf, "-")
	if err != nil {
		return "", false, err
	}
	if text := strings.TrimSpace(string(out)); text != "" {
		return text, false, nil
	}
	if _, err := m.run(ctx, "pdftoppm", "-q", "-r", "200", "-gray", "-png", "-l", fmt.Sprint(m.cfg.OCRMaxPages), pdf, filepath.Join(dir, "page")); err != nil {
		return "", true, err
	}
	pages, err := filepath.Glob(filepath.Join(dir, "page*.png"))
	if err != nil {
		return "", true, err
	}
	slices.Sort(pages)
	var b strings.Builder
	for i, p := range pages {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, i)
		}
		txt, err := m.run(ctx, "tesseract", p, "stdout", "-l", m.cfg.OCRLanguage)
		if err != nil {
			return "", true, err
		}
		b.Write(txt)
		b.WriteString("\n\n")
	}
	return b.String(), true, nil
}

// ocrImage reads the text of an image of a page.
func (m *MediaActivities) ocrImage(ctx context.Context, dir string, data []byte) (string, error) {
	if _, err := imageMime(data); err != nil {
		return "", err
	}
	p := filepath.Join(dir, "page.img")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return "", err
	}
	out, err := m.run(ctx, "tesseract", p, "stdout", "-l", m.cfg.OCRLanguage)
	return string(out), err
}

// chunk splits text into pieces of about size bytes, at paragraph, line,
// sentence or word breaks where it can, keeping at most maxChunks.
func chunk(text string, size int) []string {
	text = strings.ToValidUTF8(text[:min(len(text), maxDocChars)], "")
	var out []string
	for len(text) > 0 && len(out) < maxChunks {
		n := len(text)
		if n > size {
			n = boundary(text, size)
		}
		if p := strings.TrimSpace(text[:n]); p != "" {
			out = append(out, p)
		}
		text = text[n:]
	}
	return out
}

// boundary is where to cut text (longer than size) at most size bytes in.
func boundary(text string, size int) int {
	head := text[:size]
	for _, sep := range []string{"\n\n", "\n", ". ", " "} {
		if i := strings.LastIndex(head, sep); i >= size/2 {
			return i + len(sep)
		}
	}
	n := size
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return max(n, 1)
}

// AskInput is a question about a document: the one replied to, or the
// chat's newest.
type AskInput struct {
	Inbound    message.Inbound
	Question   string
	DocumentID string // message ID of the document; "" = the chat's newest
}

// noDocument is the answer when the chat has no document to ask about.
const noDocument = "I don't have a document from you yet. Send me a PDF or text file, then ask with /askfile <question> or reply to it."

// AskDocument answers a question from the document's most relevant chunks
// (PostgreSQL full-text search).
func (m *MediaActivities) AskDocument(ctx context.Context, in AskInput) (TurnResult, error) {
	chunks, err := m.store.SearchDocument(ctx, in.Inbound.Account, in.Inbound.Chat, in.DocumentID, in.Question, askChunks)
	if err != nil {
		return TurnResult{}, err
	}
	if len(chunks) == 0 {
		return TurnResult{Text: noDocument}, nil
	}
	slices.SortFunc(chunks, func(a, b store.DocumentChunk) int { return a.Seq - b.Seq })
	var b strings.Builder
	fmt.Fprintf(&b, "Answer the question using only these excerpts of the document %q. If they do not hold the answer, say so.\n\n", chunks[0].FileName)
	for _, c := range chunks {
		fmt.Fprintf(&b, "[excerpt %d]\n%s\n\n", c.Seq+1, c.Content)
	}
	b.WriteString("Question: " + in.Question)
	return m.chat(ctx, in.Inbound, llm.Message{Role: "user", Content: b.String()})
}
