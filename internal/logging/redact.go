package logging

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
)

// textKeys are attribute keys whose values are message content. They are
// replaced by their length unless message text logging is enabled.
var textKeys = map[string]bool{
	"text": true, "body": true, "content": true, "caption": true, "transcript": true,
	"prompt": true, "reply": true, "message_text": true, "question": true,
}

// identityKeys are attribute keys whose values are identities; they are hashed whole.
var identityKeys = map[string]bool{
	"jid": true, "chat": true, "sender": true, "phone": true, "number": true, "to": true, "from": true,
	"chat_jid": true, "sender_jid": true, "user": true,
}

var (
	// jidPattern matches WhatsApp JIDs: phone/LID users, groups, broadcasts.
	jidPattern = regexp.MustCompile(`[0-9][0-9.:-]{4,}@(?:s\.whatsapp\.net|c\.us|lid|g\.us|broadcast|newsletter|hosted(?:\.lid)?)`)
	// phonePattern matches international numbers written with a plus.
	phonePattern = regexp.MustCompile(`\+[0-9][0-9 ()-]{6,18}[0-9]`)
	// keyPattern matches OpenAI-style API keys and bearer tokens.
	keyPattern = regexp.MustCompile(`(?i)(sk-[a-z0-9_-]{6,}|bearer\s+[a-z0-9._~+/=-]{8,})`)
)

// Redactor is a slog.Handler that removes personal data and secrets from
// records before the wrapped handler sees them.
type Redactor struct {
	next        slog.Handler
	hasher      Hasher
	messageText bool
}

// NewRedactor wraps next.
func NewRedactor(next slog.Handler, h Hasher, messageText bool) *Redactor {
	return &Redactor{next: next, hasher: h, messageText: messageText}
}

func (r *Redactor) Enabled(ctx context.Context, l slog.Level) bool { return r.next.Enabled(ctx, l) }

func (r *Redactor) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, r.Scrub(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(r.attr(a))
		return true
	})
	return r.next.Handle(ctx, out)
}

func (r *Redactor) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = r.attr(a)
	}
	return &Redactor{next: r.next.WithAttrs(clean), hasher: r.hasher, messageText: r.messageText}
}

func (r *Redactor) WithGroup(name string) slog.Handler {
	return &Redactor{next: r.next.WithGroup(name), hasher: r.hasher, messageText: r.messageText}
}

// Scrub replaces JIDs and phone numbers in s by hashes and masks API keys.
func (r *Redactor) Scrub(s string) string {
	if s == "" {
		return s
	}
	s = keyPattern.ReplaceAllString(s, "[secret]")
	s = jidPattern.ReplaceAllStringFunc(s, func(m string) string { return "id:" + r.hasher.Hash(m) })
	return phonePattern.ReplaceAllStringFunc(s, func(m string) string { return "id:" + r.hasher.Hash(m) })
}

func (r *Redactor) attr(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	key := strings.ToLower(a.Key)
	switch {
	case a.Value.Kind() == slog.KindGroup:
		group := a.Value.Group()
		clean := make([]slog.Attr, len(group))
		for i, g := range group {
			clean[i] = r.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
	case textKeys[key] && !r.messageText:
		return slog.String(a.Key, "[redacted len="+strconv.Itoa(len(a.Value.String()))+"]")
	case identityKeys[key] && a.Value.Kind() == slog.KindString && a.Value.String() != "":
		return slog.String(a.Key, "id:"+r.hasher.Hash(a.Value.String()))
	case a.Value.Kind() == slog.KindString:
		return slog.String(a.Key, r.Scrub(a.Value.String()))
	case a.Value.Kind() == slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			return slog.String(a.Key, r.Scrub(err.Error()))
		}
		return slog.String(a.Key, r.Scrub(a.Value.String()))
	default:
		return a
	}
}
