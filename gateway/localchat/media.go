package localchat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"
)

// Media on the local transport. WhatsApp keeps media encrypted on its CDN
// and whatsmeow's Download fetches and decrypts it; the local transport
// keeps the plain bytes in memory keyed by the message's URL ("/media/<n>",
// which the page also loads them from), and its Download looks them up. A
// URL it does not know answers like expired WhatsApp media (HTTP 404). The
// real encrypted download path is exercised against whatsmeow.Client itself
// in gateway's tests.

// Media kinds a local user can attach.
const (
	KindImage    = "image"
	KindDocument = "document"
	KindVoice    = "voice" // a voice note (PTT)
	KindAudio    = "audio"
)

// Attachment is media a local user sends.
type Attachment struct {
	Kind     string // KindImage, KindDocument, KindVoice or KindAudio
	Mime     string
	FileName string // documents
	Data     []byte
	Seconds  uint32 // voice notes, if known
	// DeclaredSize, when set, is the file length the message claims instead
	// of len(Data) (tests of size limits).
	DeclaredSize uint64
}

// Media describes a chat line's media for the page.
type Media struct {
	Kind     string `json:"kind"`
	Mime     string `json:"mime"`
	URL      string `json:"url"`
	FileName string `json:"file_name,omitempty"`
	Seconds  uint32 `json:"seconds,omitempty"`
}

// SentMedia is a media message the bot sent.
type SentMedia struct {
	Kind     string // KindVoice, KindAudio, KindImage or KindDocument
	Mime     string
	PTT      bool
	Seconds  uint32
	Waveform []byte
	Caption  string
	Data     []byte // the uploaded bytes
}

type stored struct {
	mime string
	data []byte
}

// StoreMedia keeps data and returns the URL a message can point at.
func (t *Transport) StoreMedia(data []byte, mime string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nextID++
	url := fmt.Sprintf("/media/%d", t.nextID)
	t.media[url] = stored{mime: mime, data: data}
	return url
}

// incomingMessage builds the WhatsApp message of what a local user sent,
// and the chat line the page shows for it.
func (t *Transport) incomingMessage(id string, in Incoming) (*waE2E.Message, ChatMessage, error) {
	line := ChatMessage{ID: id, Direction: In, Text: in.Text}
	a := in.Media
	if a == nil {
		return &waE2E.Message{Conversation: proto.String(in.Text)}, line, nil
	}
	if len(a.Data) == 0 {
		return nil, line, errors.New("localchat: empty attachment")
	}
	mime := a.Mime
	if mime == "" {
		mime = http.DetectContentType(a.Data)
	}
	url := t.StoreMedia(a.Data, mime)
	sum := sha256.Sum256(a.Data)
	size := uint64(len(a.Data))
	if a.DeclaredSize > 0 {
		size = a.DeclaredSize
	}
	line.Media = &Media{Kind: a.Kind, Mime: mime, URL: url, FileName: a.FileName, Seconds: a.Seconds}
	var caption *string
	if in.Text != "" {
		caption = proto.String(in.Text)
	}
	switch a.Kind {
	case KindImage:
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{URL: &url, Mimetype: &mime, FileSHA256: sum[:],
			FileLength: &size, Caption: caption}}, line, nil
	case KindDocument:
		name := a.FileName
		if name == "" {
			name = "document"
		}
		return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{URL: &url, Mimetype: &mime, FileSHA256: sum[:],
			FileLength: &size, FileName: &name, Title: &name, Caption: caption}}, line, nil
	case KindVoice, KindAudio:
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{URL: &url, Mimetype: &mime, FileSHA256: sum[:],
			FileLength: &size, Seconds: proto.Uint32(a.Seconds), PTT: proto.Bool(a.Kind == KindVoice)}}, line, nil
	}
	return nil, line, fmt.Errorf("localchat: unknown attachment kind %q", a.Kind)
}

// outgoingMedia describes a media message the bot sends (nil for text).
// Call with t.mu held.
func (t *Transport) outgoingMedia(msg *waE2E.Message) (*SentMedia, *Media) {
	switch {
	case msg.GetAudioMessage() != nil:
		a := msg.GetAudioMessage()
		sm := &SentMedia{Kind: KindVoice, Mime: a.GetMimetype(), PTT: a.GetPTT(), Seconds: a.GetSeconds(),
			Waveform: a.GetWaveform(), Data: t.media[a.GetURL()].data}
		if !a.GetPTT() {
			sm.Kind = KindAudio
		}
		return sm, &Media{Kind: sm.Kind, Mime: sm.Mime, URL: a.GetURL(), Seconds: sm.Seconds}
	case msg.GetImageMessage() != nil:
		i := msg.GetImageMessage()
		sm := &SentMedia{Kind: KindImage, Mime: i.GetMimetype(), Caption: i.GetCaption(), Data: t.media[i.GetURL()].data}
		return sm, &Media{Kind: KindImage, Mime: sm.Mime, URL: i.GetURL()}
	case msg.GetDocumentMessage() != nil:
		d := msg.GetDocumentMessage()
		sm := &SentMedia{Kind: KindDocument, Mime: d.GetMimetype(), Caption: d.GetCaption(), Data: t.media[d.GetURL()].data}
		return sm, &Media{Kind: KindDocument, Mime: sm.Mime, URL: d.GetURL(), FileName: d.GetFileName()}
	}
	return nil, nil
}

// Download implements gateway.Client: it returns the bytes kept for the
// message's URL, or whatsmeow's 404 error (media expired) if there are none.
func (t *Transport) Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, ok := msg.(interface{ GetURL() string })
	if !ok || u.GetURL() == "" {
		return nil, whatsmeow.ErrNoURLPresent
	}
	t.mu.Lock()
	m, found := t.media[u.GetURL()]
	t.mu.Unlock()
	if !found {
		return nil, whatsmeow.ErrMediaDownloadFailedWith404
	}
	if sum := msg.GetFileSHA256(); len(sum) == sha256.Size && sha256.Sum256(m.data) != [sha256.Size]byte(sum) {
		return nil, whatsmeow.ErrInvalidMediaSHA256
	}
	return m.data, nil
}

// Upload implements gateway.Client: it keeps the bytes under a new URL.
func (t *Transport) Upload(ctx context.Context, data []byte, appInfo whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	if err := ctx.Err(); err != nil {
		return whatsmeow.UploadResponse{}, err
	}
	mime := http.DetectContentType(data)
	if appInfo == whatsmeow.MediaAudio && strings.HasPrefix(string(data), "OggS") {
		mime = "audio/ogg"
	}
	url := t.StoreMedia(data, mime)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sum := sha256.Sum256(data)
	return whatsmeow.UploadResponse{URL: url, DirectPath: url, MediaKey: key, FileSHA256: sum[:], FileEncSHA256: sum[:],
		FileLength: uint64(len(data))}, nil
}

// mediaBytes returns the bytes and type kept for a URL.
func (t *Transport) mediaBytes(url string) ([]byte, string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.media[url]
	return m.data, m.mime, ok
}
