package e2e_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/testkit"
)

// waitMedia bounds one media message's run (OCR, ffmpeg and the race detector are slow).
const waitMedia = 90 * time.Second

// requests returns the stand-in's requests to path (e.g. "/v1/audio/transcriptions").
func (h *harness) requests(path string) []openaifake.Request {
	var out []openaifake.Request
	for _, r := range h.fake.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func TestVoiceNoteIsTranscribedAndAnswered(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000101"
	ogg := voiceNote(t, "what time is it")
	res := h.sendMedia(user, "E2EVOICE00001", "", &localchat.Attachment{Kind: localchat.KindVoice, Mime: "audio/ogg; codecs=opus", Data: ogg, Seconds: 2})
	require.Empty(t, res.Code)

	tr := h.requests("/v1/audio/transcriptions")
	require.Len(t, tr, 1)
	require.Equal(t, "voice.ogg", tr[0].FileName, "Ogg/Opus goes to the API as it is, no conversion")
	require.Equal(t, len(ogg), tr[0].FileSize)
	chats := h.chatRequests()
	require.Len(t, chats, 1)
	require.Equal(t, "what time is it", lastChatText(t, chats[0]), "the transcript is answered like text")
	sent := h.sentTo(user)
	require.Len(t, sent, 1)
	require.Contains(t, sent[0].Text, "what time is it")
	require.Nil(t, sent[0].Media, "voice replies are off by default")
	h.requireTempEmpty()
}

func TestVoiceNoteInAnotherFormatIsConverted(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000102"
	// An AMR-like type the API does not take: ffmpeg converts it to Ogg/Opus.
	in := voiceNote(t, "hello there")
	res := h.sendMedia(user, "E2EVOICEAMR01", "", &localchat.Attachment{Kind: localchat.KindAudio, Mime: "audio/x-unknown", Data: in})
	require.Empty(t, res.Code)
	tr := h.requests("/v1/audio/transcriptions")
	require.Len(t, tr, 1)
	require.Equal(t, "voice.ogg", tr[0].FileName)
	// What the API received is Ogg/Opus by its content (ffprobe), converted,
	// not the input renamed.
	require.False(t, bytes.Equal(in, tr[0].File), "the upload is the input unconverted")
	requireTool(t, "ffprobe")
	path := filepath.Join(t.TempDir(), "upload")
	require.NoError(t, os.WriteFile(path, tr[0].File, 0o600))
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=format_name:stream=codec_name", "-of", "json", path).CombinedOutput()
	require.NoError(t, err, "ffprobe cannot decode the upload: %s", out)
	var probe struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
		} `json:"streams"`
		Format struct {
			FormatName string `json:"format_name"`
		} `json:"format"`
	}
	require.NoError(t, json.Unmarshal(out, &probe), string(out))
	require.Equal(t, "ogg", probe.Format.FormatName, string(out))
	require.Len(t, probe.Streams, 1, string(out))
	require.Equal(t, "opus", probe.Streams[0].CodecName, string(out))
	h.requireTempEmpty()
}

func TestVoiceRepliesSendAVoiceNote(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000103"
	_, err := h.transport.Receive(h.ctx, localchat.Incoming{From: user, ID: "E2EVON0000001", Text: "/voice on"})
	require.NoError(t, err)
	h.result(user, "E2EVON0000001")

	res := h.sendMedia(user, "E2EVON0000002", "", &localchat.Attachment{Kind: localchat.KindVoice, Mime: "audio/ogg; codecs=opus", Data: voiceNote(t, "tell me a joke")})
	require.Empty(t, res.Code)
	sent := h.sentTo(user)
	require.Len(t, sent, 3, "the /voice answer, the text, the voice note")
	require.Contains(t, sent[0].Text, "Voice replies are on")
	require.Contains(t, sent[1].Text, "tell me a joke")
	requireVoiceNote(t, sent[2])
	speech := h.requests("/v1/audio/speech")
	require.Len(t, speech, 1)
	require.Equal(t, "opus", speech[0].Format)
	require.Equal(t, sent[1].Text, speech[0].Input)

	// /read speaks the last reply again.
	_, err = h.transport.Receive(h.ctx, localchat.Incoming{From: user, ID: "E2EVON0000003", Text: "/read"})
	require.NoError(t, err)
	h.result(user, "E2EVON0000003")
	sent = h.sentTo(user)
	require.Len(t, sent, 4)
	requireVoiceNote(t, sent[3])
	require.Equal(t, sent[1].Text, h.requests("/v1/audio/speech")[1].Input)
	h.requireTempEmpty()
}

// requireVoiceNote checks a sent message is a real WhatsApp voice note.
func requireVoiceNote(t *testing.T, s localchat.Sent) {
	t.Helper()
	require.NotNil(t, s.Media)
	require.Equal(t, localchat.KindVoice, s.Media.Kind)
	require.True(t, s.Media.PTT)
	require.Equal(t, "audio/ogg; codecs=opus", s.Media.Mime)
	require.True(t, bytes.HasPrefix(s.Media.Data, []byte("OggS")))
	require.True(t, bytes.Contains(s.Media.Data[:min(len(s.Media.Data), 512)], []byte("OpusHead")))
	require.GreaterOrEqual(t, s.Media.Seconds, uint32(1))
	require.Len(t, s.Media.Waveform, 64)
}

func TestImageWithCaptionGoesToVision(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000104"
	jpg := testkit.Image(t, "jpeg")
	res := h.sendMedia(user, "E2EIMG0000001", "what colours are in this picture?", &localchat.Attachment{Kind: localchat.KindImage, Mime: "image/jpeg", Data: jpg})
	require.Empty(t, res.Code)
	chats := h.chatRequests()
	require.Len(t, chats, 1)
	last := chats[0].Chat.Messages[len(chats[0].Chat.Messages)-1]
	require.Equal(t, "what colours are in this picture?", last.Text)
	require.Len(t, last.Images, 1)
	require.Equal(t, "image/jpeg", last.Images[0].MIME)
	require.Equal(t, len(jpg), last.Images[0].Size)
	require.Contains(t, h.sentTo(user)[0].Text, "[image: image/jpeg")

	png := testkit.Image(t, "png")
	res = h.sendMedia(user, "E2EIMG0000002", "", &localchat.Attachment{Kind: localchat.KindImage, Mime: "image/png", Data: png})
	require.Empty(t, res.Code)
	last = h.chatRequests()[1].Chat.Messages[len(h.chatRequests()[1].Chat.Messages)-1]
	require.Equal(t, "Describe this image briefly.", last.Text)
	require.Equal(t, "image/png", last.Images[0].MIME)
	h.requireTempEmpty()
}

func TestImageCommandSendsAnImage(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000105"
	_, err := h.transport.Receive(h.ctx, localchat.Incoming{From: user, ID: "E2EGEN0000001", Text: "/image a red fox in the snow"})
	require.NoError(t, err)
	res := h.result(user, "E2EGEN0000001")
	require.Empty(t, res.Code)
	gen := h.requests("/v1/images/generations")
	require.Len(t, gen, 1)
	require.Equal(t, "a red fox in the snow", gen[0].Input)
	sent := h.sentTo(user)
	require.Len(t, sent, 1)
	require.NotNil(t, sent[0].Media)
	require.Equal(t, localchat.KindImage, sent[0].Media.Kind)
	require.Equal(t, "image/png", sent[0].Media.Mime)
	require.True(t, bytes.HasPrefix(sent[0].Media.Data, []byte("\x89PNG\r\n\x1a\n")))
}

// filler is text around the fact a question must find.
var filler = []string{
	"Quarterly report of the harbour authority.",
	"Ships arrived on time and the weather was calm.",
	"The cafeteria menu changes every Monday.",
}

func TestDocumentQuestionIsAnsweredFromItsText(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000106"
	doc := testkit.TextPDF(12, append(filler, "The secret launch code is PELICAN42.", "Nothing else matters here.")...)
	res := h.sendMedia(user, "E2EPDF0000001", "", &localchat.Attachment{Kind: localchat.KindDocument, Mime: "application/pdf", FileName: "report.pdf", Data: doc})
	require.Empty(t, res.Code)
	require.Contains(t, h.sentTo(user)[0].Text, "Got your document")
	require.Empty(t, h.chatRequests(), "a document alone is acknowledged, not sent to the LLM")

	_, err := h.transport.Receive(h.ctx, localchat.Incoming{From: user, ID: "E2EPDF0000002", Text: "/askfile what is the launch code?"})
	require.NoError(t, err)
	require.Empty(t, h.result(user, "E2EPDF0000002").Code)
	prompt := lastChatText(t, h.chatRequests()[0])
	require.Contains(t, prompt, "PELICAN42", "the retrieved chunk reached the LLM")
	require.Contains(t, prompt, "what is the launch code?")
	require.Contains(t, h.sentTo(user)[1].Text, "PELICAN42")

	// A reply to the document asks about it too.
	jid := types.NewJID(user, types.DefaultUserServer)
	msg := &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
		Text: proto.String("which code is it?"),
		ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("E2EPDF0000001"), Participant: proto.String(jid.String()),
			QuotedMessage: &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{FileName: proto.String("report.pdf")}}},
	}}
	require.True(t, h.gw.HandleEvent(&events.Message{Info: types.MessageInfo{
		MessageSource: types.MessageSource{Chat: jid, Sender: jid}, ID: "E2EPDF0000003", Timestamp: time.Now(),
	}, Message: msg, RawMessage: msg}))
	require.Empty(t, h.result(user, "E2EPDF0000003").Code)
	require.Contains(t, lastChatText(t, h.chatRequests()[1]), "PELICAN42")
	h.requireTempEmpty()
}

func TestScannedDocumentIsReadWithOCR(t *testing.T) {
	t.Parallel()
	requireTool(t, "tesseract")
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000107"
	doc := scannedPDF(t, "MEETING POINT", "NORTH HARBOUR GATE", "AT NOON")
	res := h.sendMedia(user, "E2EOCR0000001", "", &localchat.Attachment{Kind: localchat.KindDocument, Mime: "application/pdf", FileName: "scan.pdf", Data: doc})
	require.Empty(t, res.Code)
	require.Contains(t, h.sentTo(user)[0].Text, "read with OCR")
	_, err := h.transport.Receive(h.ctx, localchat.Incoming{From: user, ID: "E2EOCR0000002", Text: "/askfile where is the meeting point?"})
	require.NoError(t, err)
	h.result(user, "E2EOCR0000002")
	require.Contains(t, strings.ToUpper(lastChatText(t, h.chatRequests()[0])), "HARBOUR")
	h.requireTempEmpty()
}

func TestBadMediaGetsItsCodeAndReply(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	jid := func(user string) types.JID { return types.NewJID(user, types.DefaultUserServer) }
	event := func(user, id string, msg *waE2E.Message) *events.Message {
		return &events.Message{Info: types.MessageInfo{MessageSource: types.MessageSource{Chat: jid(user), Sender: jid(user)},
			ID: id, Timestamp: time.Now()}, Message: msg, RawMessage: msg}
	}
	junk := bytes.Repeat([]byte("not media at all "), 20)
	cases := []struct {
		name   string
		user   string
		attach *localchat.Attachment
		event  *waE2E.Message
		fault  *openaifake.Fault
		code   errcode.Code
	}{
		{name: "sticker", user: "4915100000201", code: errcode.UnsupportedMedia,
			event: &waE2E.Message{StickerMessage: &waE2E.StickerMessage{Mimetype: proto.String("image/webp")}}},
		{name: "location", user: "4915100000202", code: errcode.UnsupportedMedia,
			event: &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(52.5)}}},
		{name: "contact", user: "4915100000203", code: errcode.UnsupportedMedia,
			event: &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Bob")}}},
		{name: "poll", user: "4915100000204", code: errcode.UnsupportedMedia,
			event: &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("Lunch?")}}},
		{name: "video", user: "4915100000205", code: errcode.UnsupportedMedia,
			event: &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Mimetype: proto.String("video/mp4")}}},
		{name: "expired media", user: "4915100000206", code: errcode.MediaExpired,
			event: &waE2E.Message{ImageMessage: &waE2E.ImageMessage{URL: proto.String("/media/gone"), Mimetype: proto.String("image/jpeg")}}},
		{name: "corrupt image", user: "4915100000207", code: errcode.MediaCorrupt,
			attach: &localchat.Attachment{Kind: localchat.KindImage, Mime: "image/jpeg", Data: junk}},
		{name: "corrupt pdf", user: "4915100000208", code: errcode.MediaCorrupt,
			attach: &localchat.Attachment{Kind: localchat.KindDocument, Mime: "application/pdf", FileName: "x.pdf", Data: append([]byte("%PDF-1.4\n"), junk...)}},
		{name: "corrupt voice", user: "4915100000209", code: errcode.MediaCorrupt,
			attach: &localchat.Attachment{Kind: localchat.KindVoice, Mime: "audio/ogg; codecs=opus", Data: junk}},
		{name: "undecodable audio", user: "4915100000210", code: errcode.MediaCorrupt,
			attach: &localchat.Attachment{Kind: localchat.KindAudio, Mime: "audio/amr", Data: junk}},
		{name: "too large", user: "4915100000211", code: errcode.FileTooLarge,
			attach: &localchat.Attachment{Kind: localchat.KindDocument, Mime: "application/pdf", Data: junk, DeclaredSize: 50 << 20}},
		{name: "unsupported document", user: "4915100000212", code: errcode.UnsupportedMedia,
			attach: &localchat.Attachment{Kind: localchat.KindDocument, Mime: "application/zip", FileName: "a.zip", Data: junk}},
		{name: "transcription refused", user: "4915100000213", code: errcode.LLMRejected, fault: &openaifake.Fault{Refuse: true},
			attach: &localchat.Attachment{Kind: localchat.KindVoice, Mime: "audio/ogg; codecs=opus", Data: voiceNote(t, "hi")}},
		{name: "vision refused", user: "4915100000216", code: errcode.LLMRefused, fault: &openaifake.Fault{Refuse: true},
			attach: &localchat.Attachment{Kind: localchat.KindImage, Mime: "image/png", Data: testkit.Image(t, "png")}},
		{name: "askfile without a document", user: "4915100000214", code: "",
			event: &waE2E.Message{Conversation: proto.String("/askfile anything?")}},
		{name: "voice without argument", user: "4915100000215", code: errcode.InvalidArgument,
			event: &waE2E.Message{Conversation: proto.String("/voice maybe")}},
	}
	for _, tc := range cases { // sequential: faults are queued per stand-in
		id := "E2EBAD" + tc.user[len(tc.user)-4:]
		if tc.fault != nil {
			h.fake.Enqueue(*tc.fault)
		}
		if tc.attach != nil {
			_, err := h.transport.Receive(h.ctx, localchat.Incoming{From: tc.user, ID: id, Media: tc.attach})
			require.NoError(t, err, tc.name)
		} else {
			require.True(t, h.gw.HandleEvent(event(tc.user, id, tc.event)), tc.name)
		}
		res := h.result(tc.user, id)
		require.Equal(t, tc.code, res.Code, tc.name)
		sent := h.sentTo(tc.user)
		require.Len(t, sent, 1, tc.name)
		if tc.code != "" {
			require.Equal(t, errcode.UserMessage(tc.code), sent[0].Text, tc.name)
		} else {
			require.Contains(t, sent[0].Text, "don't have a document", tc.name)
		}
	}
	h.requireTempEmpty()
}
