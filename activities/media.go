package activities

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image.DecodeConfig of GIFs
	_ "image/jpeg"
	_ "image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/tempdir"
)

// MediaConfig is how the bot treats media. Size limits apply in the gateway's
// FetchMedia; the rest on the AI queue.
type MediaConfig struct {
	MaxAudioBytes    int64  `env:"MEDIA_MAX_AUDIO_BYTES" envDefault:"16777216"`
	MaxImageBytes    int64  `env:"MEDIA_MAX_IMAGE_BYTES" envDefault:"16777216"`
	MaxDocumentBytes int64  `env:"MEDIA_MAX_DOCUMENT_BYTES" envDefault:"20971520"`
	TempDir          string `env:"MEDIA_TEMP_DIR"` // base of the per-process scratch directories; "" = the OS temp dir
	// TranscriptionLanguage is an ISO-639-1 hint for transcription; "" detects it.
	TranscriptionLanguage string `env:"MEDIA_TRANSCRIPTION_LANGUAGE"`
	EchoTranscript        bool   `env:"MEDIA_ECHO_TRANSCRIPT" envDefault:"false"`
	// VoiceReplies is the default of /voice for chats that never used it.
	VoiceReplies bool `env:"MEDIA_VOICE_REPLIES" envDefault:"false"`
	// VoiceWithText also sends the text of an answer given as a voice note.
	VoiceWithText bool   `env:"MEDIA_VOICE_WITH_TEXT" envDefault:"true"`
	OCRLanguage   string `env:"MEDIA_OCR_LANGUAGE" envDefault:"eng"`
	// OCRMaxPages bounds the pages of a scanned PDF that go through OCR.
	OCRMaxPages int `env:"MEDIA_OCR_MAX_PAGES" envDefault:"20"`
}

// Validate names every bad field.
func (c MediaConfig) Validate() []error {
	var errs []error
	for name, v := range map[string]int64{"MEDIA_MAX_AUDIO_BYTES": c.MaxAudioBytes, "MEDIA_MAX_IMAGE_BYTES": c.MaxImageBytes, "MEDIA_MAX_DOCUMENT_BYTES": c.MaxDocumentBytes} {
		if v < 1 || v > 100<<20 {
			errs = append(errs, fmt.Errorf("%s: %d is not between 1 and 104857600", name, v))
		}
	}
	if c.OCRMaxPages < 1 || c.OCRMaxPages > 500 {
		errs = append(errs, fmt.Errorf("MEDIA_OCR_MAX_PAGES: %d is not between 1 and 500", c.OCRMaxPages))
	}
	return errs
}

// mediaLLM is the LLM as the media activities use it.
type mediaLLM interface {
	chatCompleter
	Transcribe(ctx context.Context, audio io.Reader, filename, language string) (string, error)
	Speak(ctx context.Context, text string) ([]byte, error)
	GenerateImage(ctx context.Context, prompt string) ([]byte, error)
}

// MediaActivities are the AI-queue activities of media: transcription,
// vision, documents, speech and image generation. Workflows call them
// through a nil *MediaActivities. They read and write media in the blob
// store by key and work in a private temp directory removed on return.
type MediaActivities struct {
	logger       *slog.Logger
	cfg          MediaConfig
	bot          Config
	store        *store.Store
	llm          mediaLLM
	tmp          *tempdir.Root
	now          func() time.Time
	voiceDefault settingsSource // the runtime setting voice_replies; nil: MEDIA_VOICE_REPLIES
}

// settingsSource is where the runtime settings come from (the governor).
type settingsSource interface {
	Settings(ctx context.Context) (governance.Settings, error)
}

// MediaDeps are what the media activities reach. Store, LLM and TempDir are
// required. Settings, when set, makes the bot-wide default of voice replies
// the runtime setting voice_replies (changed with /config set) instead of
// MEDIA_VOICE_REPLIES alone.
type MediaDeps struct {
	Store    *store.Store
	LLM      mediaLLM
	TempDir  *tempdir.Root
	Settings settingsSource
	Now      func() time.Time // nil: time.Now
}

// NewMedia returns MediaActivities with every dependency they use.
func NewMedia(logger *slog.Logger, cfg MediaConfig, bot Config, d MediaDeps) (*MediaActivities, error) {
	st, lc, tmp, now := d.Store, d.LLM, d.TempDir, d.Now
	if logger == nil || st == nil || lc == nil || tmp == nil {
		return nil, errors.New("media activities: logger, store, llm and temp dir are required")
	}
	bot.Retention = cmp.Or(bot.Retention, 30*24*time.Hour)
	cfg.OCRLanguage = cmp.Or(cfg.OCRLanguage, "eng")
	cfg.OCRMaxPages = cmp.Or(cfg.OCRMaxPages, 20)
	if now == nil {
		now = time.Now
	}
	return &MediaActivities{logger: logger, cfg: cfg, bot: bot, store: st, llm: lc, tmp: tmp, now: now, voiceDefault: d.Settings}, nil
}

// MediaSettings is what a media message's workflow needs to know about its chat.
type MediaSettings struct {
	VoiceReplies   bool      // answer voice notes with voice notes
	VoiceWithText  bool      // and send the text too
	EchoTranscript bool      // send the transcript of a voice note first
	ExpiresAt      time.Time // when media of this message expires (retention)
}

const voiceSettingKey = "voice_replies"

// Settings returns the chat's media settings.
func (m *MediaActivities) Settings(ctx context.Context, in message.Inbound) (MediaSettings, error) {
	s := MediaSettings{
		VoiceReplies: m.cfg.VoiceReplies, VoiceWithText: m.cfg.VoiceWithText,
		EchoTranscript: m.cfg.EchoTranscript, ExpiresAt: m.now().Add(m.bot.Retention),
	}
	if m.voiceDefault != nil {
		set, err := m.voiceDefault.Settings(ctx)
		if err != nil {
			return MediaSettings{}, err
		}
		s.VoiceReplies = set.VoiceReplies
	}
	v, err := m.store.ChatSetting(ctx, in.Account, in.Chat, voiceSettingKey)
	if err != nil {
		return MediaSettings{}, err
	}
	switch v {
	case "true":
		s.VoiceReplies = true
	case "false":
		s.VoiceReplies = false
	}
	return s, nil
}

// SetVoiceReplies turns voice replies on or off for a chat (/voice on|off).
func (m *MediaActivities) SetVoiceReplies(ctx context.Context, in message.Inbound, on bool) error {
	return m.store.SetChatSetting(ctx, in.Account, in.Chat, voiceSettingKey, fmt.Sprint(on))
}

// LastReply is the text of the bot's last reply in the chat ("" if none).
func (m *MediaActivities) LastReply(ctx context.Context, in message.Inbound) (string, error) {
	text, err := m.store.LastReply(ctx, in.Account, in.Chat)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return text, err
}

// blob loads a blob; a missing one is a non-retryable internal error.
func (m *MediaActivities) blob(ctx context.Context, key string) (store.Blob, error) {
	b, err := m.store.GetBlob(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return store.Blob{}, temporal.NewNonRetryableApplicationError("media blob missing", string(errcode.Internal), err)
	}
	return b, err
}

func failed(code errcode.Code, msg string, cause error) error {
	return temporal.NewNonRetryableApplicationError(msg, string(code), cause)
}

// whisperExt maps the audio types the transcription API takes as they are
// to a file extension; other types are converted with ffmpeg first.
var whisperExt = map[string]string{
	"audio/ogg": ".ogg", "audio/opus": ".ogg", "audio/mpeg": ".mp3", "audio/mp3": ".mp3",
	"audio/mp4": ".m4a", "audio/m4a": ".m4a", "audio/x-m4a": ".m4a", "audio/wav": ".wav",
	"audio/x-wav": ".wav", "audio/wave": ".wav", "audio/webm": ".webm", "audio/flac": ".flac",
}

// baseMime is a MIME type without parameters, lower case.
func baseMime(mime string) string {
	base, _, _ := strings.Cut(mime, ";")
	return strings.ToLower(strings.TrimSpace(base))
}

// Transcribe turns a voice note into text. Formats the API takes go as they
// are; others (AMR, AAC, 3GP, …) are converted to Ogg/Opus with ffmpeg.
func (m *MediaActivities) Transcribe(ctx context.Context, key string) (string, error) {
	b, err := m.blob(ctx, key)
	if err != nil {
		return "", err
	}
	data, name := b.Data, "voice"
	ext, ok := whisperExt[baseMime(b.Mime)]
	switch {
	case ok && ext == ".ogg" && !validOgg(data):
		return "", failed(errcode.MediaCorrupt, "voice note is not a valid Ogg file", nil)
	case ok:
		name += ext
	default:
		if data, err = m.convertAudio(ctx, data); err != nil {
			return "", err
		}
		name += ".ogg"
	}
	stop := Heartbeat(ctx)
	text, err := m.llm.Transcribe(ctx, bytes.NewReader(data), name, m.cfg.TranscriptionLanguage)
	stop()
	if err != nil {
		return "", classifyLLM(ctx, m.logger, err)
	}
	if strings.TrimSpace(text) == "" {
		return "", failed(errcode.MediaCorrupt, "no speech in the voice note", nil)
	}
	return text, nil
}

// validOgg reports whether data starts like an Ogg stream of Opus or Vorbis.
func validOgg(data []byte) bool {
	head := data[:min(len(data), 512)]
	return bytes.HasPrefix(data, []byte("OggS")) &&
		(bytes.Contains(head, []byte("OpusHead")) || bytes.Contains(head, []byte("vorbis")))
}

// convertAudio converts any audio ffmpeg reads to Ogg/Opus, in the temp dir.
func (m *MediaActivities) convertAudio(ctx context.Context, data []byte) ([]byte, error) {
	dir, done, err := m.tmp.Work("audio")
	if err != nil {
		return nil, err
	}
	defer done()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out.ogg")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		return nil, err
	}
	stop := Heartbeat(ctx)
	//nolint:gosec // G204: fixed program, arguments are our own file names.
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-loglevel", "error", "-i", in, "-vn", "-ac", "1", "-c:a", "libopus", "-b:a", "32k", out)
	outb, err := cmd.CombinedOutput()
	stop()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, failed(errcode.Internal, "ffmpeg is not installed", err)
	}
	if err != nil {
		m.logger.WarnContext(ctx, "audio conversion failed", slog.String("ffmpeg", lastLine(outb)), slog.Any("error", err))
		return nil, failed(errcode.MediaCorrupt, "audio could not be decoded", err)
	}
	return os.ReadFile(out) //nolint:gosec // G304: our own file in our private work dir
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// ImageInput is an image to look at and the user's question about it.
type ImageInput struct {
	Inbound message.Inbound // its Text is the caption
	BlobKey string
}

// DescribeImage answers an image's caption (or describes the image) with
// the vision model; the image goes as a data URL.
func (m *MediaActivities) DescribeImage(ctx context.Context, in ImageInput) (TurnResult, error) {
	b, err := m.blob(ctx, in.BlobKey)
	if err != nil {
		return TurnResult{}, err
	}
	mime, err := imageMime(b.Data)
	if err != nil {
		return TurnResult{}, err
	}
	question := strings.TrimSpace(in.Inbound.Text)
	if question == "" {
		question = "Describe this image briefly."
	}
	dataURL := "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b.Data)
	return m.chat(ctx, in.Inbound, llm.Message{Role: "user", Content: question, ImageDataURL: dataURL})
}

// imageMime checks that data is an image the vision API takes and returns its type.
func imageMime(data []byte) (string, error) {
	if len(data) > 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP" {
		return "image/webp", nil
	}
	_, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", failed(errcode.MediaCorrupt, "image could not be decoded", err)
	}
	return "image/" + format, nil
}

// chat runs one completion with the system prompt and classifies its error.
func (m *MediaActivities) chat(ctx context.Context, in message.Inbound, msg llm.Message) (TurnResult, error) {
	stop := Heartbeat(ctx)
	resp, err := m.llm.Chat(ctx, llm.ChatRequest{System: m.bot.SystemPrompt, Messages: []llm.Message{msg}, User: in.SenderHash})
	stop()
	if err != nil {
		return TurnResult{}, classifyLLM(ctx, m.logger, err)
	}
	return TurnResult{Text: resp.Text, Model: resp.Model, PromptTokens: resp.PromptTokens, CompletionTokens: resp.CompletionTokens}, nil
}

// classifyLLM turns an LLM error into a Temporal error typed by its code.
func classifyLLM(ctx context.Context, logger *slog.Logger, err error) error {
	llmErr, ok := errors.AsType[*llm.Error](err)
	if !ok {
		return err
	}
	attempt := 0
	if activity.IsActivity(ctx) {
		attempt = int(activity.GetInfo(ctx).Attempt)
	}
	logger.WarnContext(ctx, "llm media call failed", slog.String("code", string(llmErr.Code)),
		slog.Int("status", llmErr.Status), slog.Bool("retryable", llmErr.Retryable), slog.Int("attempt", attempt), slog.Any("error", err))
	if !llmErr.Retryable {
		return temporal.NewNonRetryableApplicationError("llm call failed", string(llmErr.Code), err)
	}
	return temporal.NewApplicationErrorWithOptions("llm call failed", string(llmErr.Code), temporal.ApplicationErrorOptions{
		Cause: err, NextRetryDelay: llmErr.RetryAfter,
	})
}

// Generated is media the bot made for a reply, stored as a blob.
type Generated struct {
	BlobKey  string
	Mime     string
	Seconds  uint32 // voice notes
	Waveform []byte // voice notes: 64 samples 0–100
}

// GenerateInput asks for speech or an image for one reply.
type GenerateInput struct {
	Account   string
	Chat      string
	ReplyID   string
	Text      string // what to say, or the image prompt
	ExpiresAt time.Time
}

// Speak turns a reply's text into an Ogg/Opus voice note with its duration
// and waveform, ready to send as a WhatsApp PTT message.
func (m *MediaActivities) Speak(ctx context.Context, in GenerateInput) (Generated, error) {
	text := []rune(strings.TrimSpace(in.Text))
	if len(text) > llm.MaxSpeechInput {
		text = text[:llm.MaxSpeechInput]
	}
	stop := Heartbeat(ctx)
	audio, err := m.llm.Speak(ctx, string(text))
	stop()
	if err != nil {
		return Generated{}, classifyLLM(ctx, m.logger, err)
	}
	if !validOgg(audio) || !bytes.Contains(audio[:min(len(audio), 512)], []byte("OpusHead")) {
		return Generated{}, failed(errcode.MediaCorrupt, "speech is not Ogg/Opus", nil)
	}
	g := Generated{BlobKey: message.ReplyBlobKey(in.Account, in.ReplyID), Mime: "audio/ogg; codecs=opus",
		Seconds: oggSeconds(audio), Waveform: m.waveform(ctx, audio)}
	return g, m.store.PutBlob(ctx, store.Blob{Key: g.BlobKey, Account: in.Account, ChatJID: in.Chat, Mime: g.Mime, Data: audio, ExpiresAt: in.ExpiresAt})
}

// oggSeconds reads an Ogg/Opus file's duration from its last page's granule
// position (48 kHz samples) minus the header's pre-skip, rounded up, at least 1.
func oggSeconds(data []byte) uint32 {
	last := bytes.LastIndex(data, []byte("OggS"))
	head := bytes.Index(data, []byte("OpusHead"))
	if last < 0 || last+14 > len(data) || head < 0 || head+12 > len(data) {
		return 1
	}
	granule := binary.LittleEndian.Uint64(data[last+6:])
	preSkip := uint64(binary.LittleEndian.Uint16(data[head+10:]))
	if granule <= preSkip {
		return 1
	}
	return uint32(max(1, (granule-preSkip+47999)/48000)) //nolint:gosec // G115: a voice note's seconds fit
}

// waveformSamples is the length of a WhatsApp voice note waveform.
const waveformSamples = 64

// waveform decodes the audio with ffmpeg and returns 64 loudness samples
// (0–100). Without ffmpeg, or on a decoding error, the waveform is flat.
func (m *MediaActivities) waveform(ctx context.Context, audio []byte) []byte {
	out := make([]byte, waveformSamples)
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-loglevel", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "8000", "pipe:1")
	cmd.Stdin = bytes.NewReader(audio)
	pcm, err := cmd.Output()
	if err != nil || len(pcm) < 2*waveformSamples {
		m.logger.DebugContext(ctx, "waveform left flat", slog.Any("error", err))
		return out
	}
	n := len(pcm) / 2
	per := n / waveformSamples
	peaks := make([]float64, waveformSamples)
	top := 0.0
	for i := range waveformSamples {
		sum := 0.0
		for j := i * per; j < (i+1)*per; j++ {
			v := float64(int16(binary.LittleEndian.Uint16(pcm[2*j:]))) //nolint:gosec // G115: reinterpreting PCM bits
			sum += v * v
		}
		peaks[i] = sum / float64(per)
		top = max(top, peaks[i])
	}
	if top == 0 {
		return out
	}
	for i, p := range peaks {
		out[i] = byte(100 * p / top)
	}
	return out
}

// GenerateImage draws an image for a prompt (/image) and stores it.
func (m *MediaActivities) GenerateImage(ctx context.Context, in GenerateInput) (Generated, error) {
	stop := Heartbeat(ctx)
	img, err := m.llm.GenerateImage(ctx, in.Text)
	stop()
	if err != nil {
		return Generated{}, classifyLLM(ctx, m.logger, err)
	}
	g := Generated{BlobKey: message.ReplyBlobKey(in.Account, in.ReplyID), Mime: http.DetectContentType(img)}
	return g, m.store.PutBlob(ctx, store.Blob{Key: g.BlobKey, Account: in.Account, ChatJID: in.Chat, Mime: g.Mime, Data: img, ExpiresAt: in.ExpiresAt})
}
