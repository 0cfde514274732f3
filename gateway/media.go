package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/workflows"
)

// MediaLimits bound the size of downloaded media per kind, in bytes.
type MediaLimits struct {
	Audio    int64
	Image    int64
	Document int64
}

// limit is the bound for a kind of media.
func (l MediaLimits) limit(k message.Kind) int64 {
	switch k {
	case message.KindVoice, message.KindAudio:
		return cmp.Or(l.Audio, 16<<20)
	case message.KindImage:
		return cmp.Or(l.Image, 16<<20)
	default:
		return cmp.Or(l.Document, 20<<20)
	}
}

// blobStore is where media goes (PostgreSQL by default).
type blobStore interface {
	PutBlob(ctx context.Context, b store.Blob) error
	GetBlob(ctx context.Context, key string) (store.Blob, error)
}

// MediaActivities download inbound media and send media replies; they need
// the WhatsApp socket, so they run on the gateway's task queue.
type MediaActivities struct {
	logger *slog.Logger
	client Client
	blobs  blobStore
	sent   sentLog
	hasher interface{ Hash(string) string }
	limits MediaLimits
	// receipt: read receipts, reactions, quoting; see WithReceipts.
	receipt *Receipts
}

// WithReceipts is Activities.WithReceipts for media replies.
func (a *MediaActivities) WithReceipts(r *Receipts) *MediaActivities {
	a.receipt = r
	return a
}

// NewMediaActivities returns the media activities for one account's client.
func NewMediaActivities(logger *slog.Logger, c Client, blobs blobStore, sent sentLog, hasher interface{ Hash(string) string }, limits MediaLimits) *MediaActivities {
	return &MediaActivities{logger: logger, client: c, blobs: blobs, sent: sent, hasher: hasher, limits: limits}
}

// Register registers the activities under the names workflows call.
func (a *MediaActivities) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.FetchMedia, activity.RegisterOptions{Name: workflows.ActivityFetchMedia})
	r.RegisterActivityWithOptions(a.SendMedia, activity.RegisterOptions{Name: workflows.ActivitySendMedia})
}

func nonRetryable(code errcode.Code, msg string, cause error) error {
	return temporal.NewNonRetryableApplicationError(msg, string(code), cause)
}

// FetchMedia downloads a message's media with whatsmeow's Download (which
// decrypts and verifies it), checks its size against the kind's limit before
// (the declared length) and after the download, and stores it as a blob.
func (a *MediaActivities) FetchMedia(ctx context.Context, req message.FetchRequest) (message.FetchedMedia, error) {
	limit := a.limits.limit(req.Kind)
	if req.Media.Size > uint64(limit) { //nolint:gosec // G115: limits are positive
		return message.FetchedMedia{}, nonRetryable(errcode.FileTooLarge, "declared media size over the limit", nil)
	}
	dl, err := downloadable(req.Kind, req.Media)
	if err != nil {
		return message.FetchedMedia{}, err
	}
	data, err := a.client.Download(ctx, dl)
	if int64(len(data)) > limit { // whatsmeow returns the bytes with a length-mismatch warning
		return message.FetchedMedia{}, nonRetryable(errcode.FileTooLarge, "downloaded media over the limit", nil)
	}
	if errors.Is(err, whatsmeow.ErrFileLengthMismatch) && len(data) > 0 {
		a.logger.InfoContext(ctx, "media length differs from the declared one", slog.String("message_id", req.MessageID))
		err = nil
	}
	if err != nil {
		return message.FetchedMedia{}, a.downloadError(ctx, req, err)
	}
	if int64(len(data)) > limit {
		return message.FetchedMedia{}, nonRetryable(errcode.FileTooLarge, "downloaded media over the limit", nil)
	}
	if len(data) == 0 {
		return message.FetchedMedia{}, nonRetryable(errcode.MediaCorrupt, "empty media", nil)
	}
	mime := strings.TrimSpace(req.Media.Mimetype)
	if mime == "" {
		mime = http.DetectContentType(data)
	}
	key := message.BlobKey(req.Account, req.MessageID)
	if err := a.blobs.PutBlob(ctx, store.Blob{
		Key: key, Account: req.Account, ChatJID: req.Chat, Mime: mime, Data: data, ExpiresAt: req.ExpiresAt,
	}); err != nil {
		return message.FetchedMedia{}, fmt.Errorf("storing media: %w", err)
	}
	a.logger.InfoContext(ctx, "media fetched", slog.String("chat_hash", a.hasher.Hash(req.Chat)),
		slog.String("message_id", req.MessageID), slog.String("kind", string(req.Kind)), slog.Int("size", len(data)))
	return message.FetchedMedia{BlobKey: key, Mime: mime, Size: len(data)}, nil
}

// downloadError maps whatsmeow's download errors to stable codes.
func (a *MediaActivities) downloadError(ctx context.Context, req message.FetchRequest, err error) error {
	code := errcode.Code("")
	switch {
	case errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404), errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410),
		errors.Is(err, whatsmeow.ErrNoURLPresent):
		code = errcode.MediaExpired
	case errors.Is(err, whatsmeow.ErrInvalidMediaHMAC), errors.Is(err, whatsmeow.ErrInvalidMediaEncSHA256),
		errors.Is(err, whatsmeow.ErrInvalidMediaSHA256), errors.Is(err, whatsmeow.ErrTooShortFile),
		errors.Is(err, whatsmeow.ErrFileLengthMismatch), strings.Contains(err.Error(), "failed to decrypt file"):
		code = errcode.MediaCorrupt
	}
	a.logger.WarnContext(ctx, "media download failed", slog.String("chat_hash", a.hasher.Hash(req.Chat)),
		slog.String("message_id", req.MessageID), slog.String("code", string(code)), slog.Any("error", err))
	if code != "" {
		return nonRetryable(code, "media download failed", err)
	}
	if errors.Is(err, whatsmeow.ErrNotLoggedIn) || errors.Is(err, whatsmeow.ErrNotConnected) {
		return temporal.NewApplicationErrorWithOptions("whatsapp not connected", "NOT_LOGGED_IN",
			temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: 30 * time.Second})
	}
	return fmt.Errorf("downloading media: %w", err)
}

// downloadable rebuilds the WhatsApp message part whatsmeow downloads: its
// proto type tells whatsmeow the media type (and so the decryption keys).
func downloadable(kind message.Kind, m message.Media) (whatsmeow.DownloadableMessage, error) {
	var length *uint64 // unknown: whatsmeow then skips its length check
	if m.Size > 0 {
		length = proto.Uint64(m.Size)
	}
	switch kind {
	case message.KindVoice, message.KindAudio:
		return &waE2E.AudioMessage{URL: &m.URL, DirectPath: &m.DirectPath, MediaKey: m.MediaKey,
			FileSHA256: m.FileSHA256, FileEncSHA256: m.FileEncSHA256, FileLength: length, Mimetype: &m.Mimetype}, nil
	case message.KindImage:
		return &waE2E.ImageMessage{URL: &m.URL, DirectPath: &m.DirectPath, MediaKey: m.MediaKey,
			FileSHA256: m.FileSHA256, FileEncSHA256: m.FileEncSHA256, FileLength: length, Mimetype: &m.Mimetype}, nil
	case message.KindDocument:
		return &waE2E.DocumentMessage{URL: &m.URL, DirectPath: &m.DirectPath, MediaKey: m.MediaKey,
			FileSHA256: m.FileSHA256, FileEncSHA256: m.FileEncSHA256, FileLength: length, Mimetype: &m.Mimetype}, nil
	}
	return nil, nonRetryable(errcode.UnsupportedMedia, "no download for kind "+string(kind), nil)
}

// SendMedia uploads a blob and sends it as a voice note or an image. Like
// Send, its ID is fixed before the first attempt and a recorded send is not
// repeated.
func (a *MediaActivities) SendMedia(ctx context.Context, r message.MediaReply) error {
	to, err := types.ParseJID(r.Chat)
	if err != nil || r.ID == "" || r.BlobKey == "" {
		return nonRetryable(errcode.InvalidArgument, "bad media reply address, id or blob", err)
	}
	if done, err := a.sent.WasSent(ctx, r.Account, r.ID); err != nil {
		return fmt.Errorf("checking outbound log: %w", err)
	} else if done {
		return nil
	}
	b, err := a.blobs.GetBlob(ctx, r.BlobKey)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nonRetryable(errcode.Internal, "media reply blob missing", err)
		}
		return err
	}
	mediaType := whatsmeow.MediaImage
	if r.Kind == message.KindVoice {
		mediaType = whatsmeow.MediaAudio
	}
	up, err := a.client.Upload(ctx, b.Data, mediaType)
	if err != nil {
		return fmt.Errorf("uploading media: %w", err)
	}
	r.QuotedID, r.Quoted = quoteOvertaken(a.receipt, r.Chat, r.QuotedID, r.Quoted, r.Answering)
	msg := mediaMessage(r, up)
	if _, err := a.client.SendMessage(ctx, to, msg, whatsmeow.SendRequestExtra{ID: r.ID}); err != nil {
		return fmt.Errorf("sending media reply %s: %w", r.ID, err)
	}
	if err := a.sent.MarkSent(ctx, r.Account, r.ID, r.Chat, time.Now()); err != nil {
		return fmt.Errorf("recording media reply %s as sent: %w", r.ID, err)
	}
	a.logger.InfoContext(ctx, "media reply sent", slog.String("chat_hash", a.hasher.Hash(r.Chat)),
		slog.String("reply_id", r.ID), slog.String("kind", string(r.Kind)))
	a.receipt.Answered(ctx, r.Chat, r.Answering)
	return nil
}

// mediaMessage builds the WhatsApp message of an uploaded media reply.
func mediaMessage(r message.MediaReply, up whatsmeow.UploadResponse) *waE2E.Message {
	var ci *waE2E.ContextInfo
	if r.QuotedID != "" {
		ci = &waE2E.ContextInfo{StanzaID: proto.String(r.QuotedID), QuotedMessage: &waE2E.Message{Conversation: proto.String("")}}
		if r.Quoted != "" {
			ci.Participant = proto.String(r.Quoted)
		}
	}
	if r.Kind == message.KindVoice {
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
			Mimetype: proto.String(cmp.Or(r.Mime, "audio/ogg; codecs=opus")), PTT: proto.Bool(true),
			Seconds: proto.Uint32(r.Seconds), Waveform: r.Waveform, ContextInfo: ci,
		}}
	}
	img := &waE2E.ImageMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		Mimetype: proto.String(cmp.Or(r.Mime, "image/png")), ContextInfo: ci,
	}
	if r.Caption != "" {
		img.Caption = proto.String(r.Caption)
	}
	return &waE2E.Message{ImageMessage: img}
}
