package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/message"
)

// Names of the media activities on a gateway task queue.
const (
	ActivityFetchMedia = "FetchMedia"
	ActivitySendMedia  = "SendMedia"
)

// mediaCodes never get better with a retry.
var mediaCodes = []string{
	string(errcode.FileTooLarge), string(errcode.UnsupportedMedia), string(errcode.ViewOnce), string(errcode.MediaExpired),
	string(errcode.MediaCorrupt), string(errcode.InvalidArgument), string(errcode.Internal),
}

var (
	// fetchOptions: a download through the gateway's socket. A gateway that
	// is down delays the answer for up to an hour; bad media fails at once.
	fetchOptions = workflow.ActivityOptions{
		StartToCloseTimeout:    2 * time.Minute,
		HeartbeatTimeout:       gatewayHeartbeatTimeout, // see sendOptions
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: mediaCodes,
		},
	}
	// mediaOptions: transcription, vision, OCR, speech, image generation.
	// They heartbeat, so a dead worker is noticed in seconds even though
	// OCR of a long scan may take minutes.
	mediaOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        4,
			NonRetryableErrorTypes: append([]string{string(errcode.LLMRejected), string(errcode.LLMRefused)}, mediaCodes...),
		},
	}
)

// Routes of the media path.
const (
	routeVoice       = "voice"
	routeImage       = "image"
	routeDocument    = "document"
	routeAskReply    = "ask_reply"
	routeUnsupported = "unsupported"
	routeCommand     = "command"
)

// mediaCommands are the commands this path answers; the others go on to
// the command handling of MessageWorkflow.
var mediaCommands = []string{"voice", "read", "image", "askfile"}

// mediaRoute says whether the media path handles in ("" = it does not).
func mediaRoute(in message.Inbound) string {
	switch in.Kind {
	case message.KindVoice, message.KindAudio:
		return routeVoice
	case message.KindImage:
		return routeImage
	case message.KindDocument:
		return routeDocument
	case message.KindSticker, message.KindVideo, message.KindLocation, message.KindContact,
		message.KindPoll, message.KindUnsupported, message.KindViewOnce:
		return routeUnsupported
	case message.KindCommand:
		name, _ := splitCommand(in.Text)
		for _, c := range mediaCommands {
			if name == c {
				return routeCommand
			}
		}
	case message.KindText:
		if in.QuotedKind == message.KindDocument && in.QuotedID != "" {
			return routeAskReply
		}
	}
	return ""
}

// splitCommand splits "/image a red fox" into "image" and "a red fox".
func splitCommand(text string) (name, args string) {
	text = strings.TrimSpace(text)
	if len(text) < 2 || (text[0] != '/' && text[0] != '!') {
		return "", ""
	}
	name, args, _ = strings.Cut(text[1:], " ")
	return strings.ToLower(name), strings.TrimSpace(args)
}

// Reply numbers (message.ReplyID's n) of the media path's messages.
const (
	replyText  = 0 // the text answer, or the error message
	replyMedia = 1 // the voice note or image
	replyEcho  = 2 // the transcript echoed before the answer
)

// mediaRun is one message on the media path.
type mediaRun struct {
	ctx  workflow.Context
	in   message.Inbound
	set  activities.MediaSettings
	turn activities.TurnResult
	said string // the text the reply records as the bot's answer
	sent string // ID of the last reply sent
}

// mediaStep answers a media message or a media command. MessageWorkflow
// calls it after admission when mediaRoute says so, and the command route
// "media" for media commands. tagCommand sets the WabotCommand attribute of
// a media command (runs before the command registry; since, runCommand has).
func mediaStep(ctx workflow.Context, in message.Inbound, route string, tagCommand bool) (MessageResult, error) {
	var m *activities.MediaActivities
	r := &mediaRun{ctx: ctx, in: in}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, storeOptions), m.Settings, in).Get(ctx, &r.set); err != nil {
		return MessageResult{}, err
	}
	if route == routeCommand && tagCommand {
		name, _ := splitCommand(in.Text)
		_ = workflow.UpsertTypedSearchAttributes(ctx, SACommand.ValueSet(name))
	}
	if route != routeUnsupported {
		gwCtx := workflow.WithTaskQueue(ctx, GatewayTaskQueue(in.Account))
		workflow.ExecuteActivity(workflow.WithActivityOptions(gwCtx, presenceOptions), ActivityPresence, in.Account, in.Chat, true)
	}
	var err error
	switch route {
	case routeUnsupported:
		code := errcode.UnsupportedMedia
		if in.Kind == message.KindViewOnce {
			code = errcode.ViewOnce
		}
		err = temporal.NewNonRetryableApplicationError("unsupported message kind "+string(in.Kind), string(code), nil)
	case routeVoice:
		err = r.voice()
	case routeImage:
		err = r.image()
	case routeDocument:
		err = r.document()
	case routeAskReply:
		err = r.ask(in.Text, in.QuotedID)
	case routeCommand:
		err = r.command()
	}
	return r.finish(err)
}

// finish sends the error message if a step failed, records the turn and
// sets the outcome.
func (r *mediaRun) finish(stepErr error) (MessageResult, error) {
	ctx, logger := r.ctx, workflow.GetLogger(r.ctx)
	code := errcode.Code("")
	if stepErr != nil {
		if isSendFailure(stepErr) {
			_ = setOutcome(ctx, "send_failed")
			return MessageResult{}, stepErr
		}
		code = codeOf(stepErr)
		logger.Warn("media step failed; replying with an error code", "code", string(code), "error", stepErr)
		r.turn = activities.TurnResult{}
		if err := r.sendText(replyText, errcode.UserMessage(code)); err != nil {
			_ = setOutcome(ctx, "send_failed")
			return MessageResult{}, err
		}
	}
	reply := message.Reply{Account: r.in.Account, Chat: r.in.Chat, ID: r.sent, Text: r.said}
	if reply.ID == "" { // nothing was sent (cannot happen today; keep the record sane)
		reply.ID = message.ReplyID(r.in.Account, r.in.ID, replyText)
	}
	var a *activities.Activities
	rec := activities.RecordInput{Inbound: r.in, Reply: reply, Turn: r.turn, Code: code}
	rec.Inbound.Text = memoryText(r.in)
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, storeOptions), a.RecordTurn, rec).Get(ctx, nil); err != nil {
		return MessageResult{ReplyID: reply.ID, Code: code}, err
	}
	outcome := "ok"
	if code != "" {
		outcome = string(code)
	}
	return MessageResult{ReplyID: reply.ID, Code: code}, setOutcome(ctx, outcome)
}

// memoryText is how a media message is remembered in the conversation:
// voice notes by their transcript, other media by a marker and the caption.
func memoryText(in message.Inbound) string {
	if in.Kind == message.KindVoice || in.Kind == message.KindAudio || in.Kind == message.KindText || in.Kind == message.KindCommand {
		if strings.TrimSpace(in.Text) != "" {
			return in.Text
		}
	}
	marker := "[" + string(in.Kind) + "]"
	if in.Media != nil && in.Media.FileName != "" {
		marker = "[" + string(in.Kind) + ": " + in.Media.FileName + "]"
	}
	return strings.TrimSpace(marker + " " + in.Text)
}

// sendError marks a failure to deliver, which fails the workflow (as in
// MessageWorkflow) instead of becoming an error reply.
type sendError struct{ err error }

func (e sendError) Error() string { return "sending reply: " + e.err.Error() }
func (e sendError) Unwrap() error { return e.err }

func isSendFailure(err error) bool {
	_, ok := errors.AsType[sendError](err)
	return ok
}

// sendText sends a text reply numbered n.
func (r *mediaRun) sendText(n int, text string) error {
	reply := message.ReplyTo(r.in, n, text)
	gwCtx := workflow.WithActivityOptions(workflow.WithTaskQueue(r.ctx, GatewayTaskQueue(r.in.Account)), sendOptions)
	if err := workflow.ExecuteActivity(gwCtx, ActivitySend, reply).Get(r.ctx, nil); err != nil {
		return sendError{err}
	}
	if n != replyEcho {
		r.sent, r.said = reply.ID, text
	}
	return nil
}

// sendMedia sends generated media (a voice note or an image) as reply n.
func (r *mediaRun) sendMedia(kind message.Kind, g activities.Generated, caption, text string) error {
	reply := message.MediaReply{
		Account: r.in.Account, Chat: r.in.Chat, ID: message.ReplyID(r.in.Account, r.in.ID, replyMedia), Kind: kind,
		BlobKey: g.BlobKey, Mime: g.Mime, Seconds: g.Seconds, Waveform: g.Waveform, Caption: caption,
		Answering: message.AnsweringOf(r.in),
	}
	if r.in.IsGroup {
		reply.QuotedID, reply.Quoted = r.in.ID, r.in.Sender
	}
	gwCtx := workflow.WithActivityOptions(workflow.WithTaskQueue(r.ctx, GatewayTaskQueue(r.in.Account)), sendOptions)
	if err := workflow.ExecuteActivity(gwCtx, ActivitySendMedia, reply).Get(r.ctx, nil); err != nil {
		return sendError{err}
	}
	if r.sent == "" {
		r.sent, r.said = reply.ID, text
	}
	return nil
}

// fetch downloads the message's media into the blob store.
func (r *mediaRun) fetch() (message.FetchedMedia, error) {
	var got message.FetchedMedia
	if r.in.Media == nil {
		return got, temporal.NewNonRetryableApplicationError("media message without media", string(errcode.MediaCorrupt), nil)
	}
	req := message.FetchRequest{Account: r.in.Account, Chat: r.in.Chat, MessageID: r.in.ID, Kind: r.in.Kind,
		Media: *r.in.Media, ExpiresAt: r.set.ExpiresAt}
	gwCtx := workflow.WithActivityOptions(workflow.WithTaskQueue(r.ctx, GatewayTaskQueue(r.in.Account)), fetchOptions)
	err := workflow.ExecuteActivity(gwCtx, ActivityFetchMedia, req).Get(r.ctx, &got)
	return got, err
}

func (r *mediaRun) exec(fn, arg, result any) error {
	return workflow.ExecuteActivity(workflow.WithActivityOptions(r.ctx, mediaOptions), fn, arg).Get(r.ctx, result)
}

// voice: download → transcribe → (echo) → LLM turn → text and/or voice note.
func (r *mediaRun) voice() error {
	var m *activities.MediaActivities
	var a *activities.Activities
	got, err := r.fetch()
	if err != nil {
		return err
	}
	var transcript string
	if err := r.exec(m.Transcribe, got.BlobKey, &transcript); err != nil {
		return err
	}
	if r.set.EchoTranscript {
		if err := r.sendText(replyEcho, "🎤 "+transcript); err != nil {
			return err
		}
	}
	r.in.Text = transcript // the turn and the memory see what was said
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(r.ctx, llmOptions), a.LLMTurn, r.in).Get(r.ctx, &r.turn); err != nil {
		return err
	}
	if !r.set.VoiceReplies {
		return r.sendText(replyText, r.turn.Text)
	}
	return r.speak(r.turn.Text, r.set.VoiceWithText)
}

// speak sends text as a voice note, and as text too when withText (or when
// speech fails, so the user still gets the answer).
func (r *mediaRun) speak(text string, withText bool) error {
	var m *activities.MediaActivities
	var g activities.Generated
	in := activities.GenerateInput{Account: r.in.Account, Chat: r.in.Chat, ReplyID: message.ReplyID(r.in.Account, r.in.ID, replyMedia),
		Text: text, ExpiresAt: r.set.ExpiresAt}
	if err := r.exec(m.Speak, in, &g); err != nil {
		workflow.GetLogger(r.ctx).Warn("speech failed; answering in text", "code", string(codeOf(err)), "error", err)
		return r.sendText(replyText, text)
	}
	if withText {
		if err := r.sendText(replyText, text); err != nil {
			return err
		}
	}
	return r.sendMedia(message.KindVoice, g, "", text)
}

// image: download → vision (the caption is the question) → text.
func (r *mediaRun) image() error {
	var m *activities.MediaActivities
	got, err := r.fetch()
	if err != nil {
		return err
	}
	if err := r.exec(m.DescribeImage, activities.ImageInput{Inbound: r.in, BlobKey: got.BlobKey}, &r.turn); err != nil {
		return err
	}
	return r.sendText(replyText, r.turn.Text)
}

// document: download → extract text (OCR if needed) → acknowledge; a
// caption is answered as a question about it.
func (r *mediaRun) document() error {
	var m *activities.MediaActivities
	got, err := r.fetch()
	if err != nil {
		return err
	}
	var res activities.DocumentResult
	if err := r.exec(m.ExtractDocument, activities.DocumentInput{Inbound: r.in, BlobKey: got.BlobKey, ExpiresAt: r.set.ExpiresAt}, &res); err != nil {
		return err
	}
	if strings.TrimSpace(r.in.Text) != "" {
		return r.ask(r.in.Text, r.in.ID)
	}
	how := ""
	if res.OCR {
		how = " (read with OCR)"
	}
	return r.sendText(replyText, fmt.Sprintf("Got your document%s: %d characters. Ask me about it with /askfile <question>, or reply to it with your question.", how, res.Chars))
}

// ask answers a question about a document (docID "" = the chat's newest).
func (r *mediaRun) ask(question, docID string) error {
	var m *activities.MediaActivities
	if err := r.exec(m.AskDocument, activities.AskInput{Inbound: r.in, Question: question, DocumentID: docID}, &r.turn); err != nil {
		return err
	}
	return r.sendText(replyText, r.turn.Text)
}

// command runs /voice on|off, /read, /image <prompt> and /askfile <question>.
func (r *mediaRun) command() error {
	var m *activities.MediaActivities
	name, args := splitCommand(r.in.Text)
	usage := func(u string) error {
		return temporal.NewNonRetryableApplicationError("usage: "+u, string(errcode.InvalidArgument), nil)
	}
	storeCtx := workflow.WithActivityOptions(r.ctx, storeOptions)
	switch name {
	case "voice":
		on := strings.EqualFold(args, "on")
		if !on && !strings.EqualFold(args, "off") {
			return usage("/voice on|off")
		}
		if err := workflow.ExecuteActivity(storeCtx, m.SetVoiceReplies, r.in, on).Get(r.ctx, nil); err != nil {
			return err
		}
		if on {
			return r.sendText(replyText, "Voice replies are on: I'll answer your voice notes with a voice note. Send /voice off to stop.")
		}
		return r.sendText(replyText, "Voice replies are off.")
	case "read":
		var last string
		if err := workflow.ExecuteActivity(storeCtx, m.LastReply, r.in).Get(r.ctx, &last); err != nil {
			return err
		}
		if last == "" {
			return r.sendText(replyText, "There's nothing for me to read yet.")
		}
		return r.speak(last, false)
	case "image":
		if args == "" {
			return usage("/image <what to draw>")
		}
		var g activities.Generated
		in := activities.GenerateInput{Account: r.in.Account, Chat: r.in.Chat, ReplyID: message.ReplyID(r.in.Account, r.in.ID, replyMedia),
			Text: args, ExpiresAt: r.set.ExpiresAt}
		if err := r.exec(m.GenerateImage, in, &g); err != nil {
			return err
		}
		return r.sendMedia(message.KindImage, g, "", "[image: "+args+"]")
	case "askfile":
		if args == "" {
			return usage("/askfile <question>")
		}
		return r.ask(args, "")
	}
	return usage("/" + name)
}
