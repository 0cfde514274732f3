package governance

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Settings are the runtime settings in effect: the configured defaults with
// the values set from chat or the CLI on top. Workers read them on each
// message, so a change applies to the next message on every worker.
type Settings struct {
	Model           string
	SystemPrompt    string
	MaxTokens       int
	MemoryTokens    int
	Language        string // "auto" or a language the LLM is told to answer in
	VoiceReplies    bool   // answer voice notes with voice by default
	GroupPolicy     string // mention (answer when mentioned or replied to) or off
	Answer          string // everyone, allowlist or owners
	UserPerMinute   int    // 0 = unlimited
	ChatPerMinute   int
	GlobalPerMinute int

	// Stored lists the keys set from chat or the CLI (the rest are the
	// configured defaults), e.g. so the LLM client keeps choosing its vision
	// model unless "model" was set explicitly.
	Stored map[string]bool
}

// IsStored reports whether key was set from chat or the CLI.
func (s Settings) IsStored(key string) bool { return s.Stored[key] }

// setting is one key of the registry: how to validate a text value into its
// canonical form, and how to read and write it on Settings.
type setting struct {
	key   string
	help  string
	parse func(string) (string, error) // canonical form, or why not
	get   func(Settings) string
	set   func(*Settings, string) // value already canonical
}

// ErrSecret is returned for keys that look like secrets: those are never
// settable from chat (they live in the process environment only).
var ErrSecret = errors.New("secrets (API keys, tokens, passwords, URLs) cannot be set from chat; set them in the environment of the processes")

// ErrUnknownSetting is returned for keys that are not in the registry.
var ErrUnknownSetting = errors.New("unknown setting")

// secretWords are the parts of a key that mark it as a secret.
var secretWords = []string{"key", "secret", "token", "password", "passwd", "url", "dsn", "credential"}

// LooksSecret reports whether key names a secret. The registry is an
// allow-list of non-secret settings, so a registered key (max_tokens) is
// never refused; any other key with a secret word is refused as a secret
// rather than merely unknown, and audited.
func LooksSecret(key string) bool {
	k := strings.ToLower(key)
	return slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(k, w) })
}

func intRange(lo, hi int) func(string) (string, error) {
	return func(s string) (string, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < lo || n > hi {
			return "", fmt.Errorf("want a whole number from %d to %d", lo, hi)
		}
		return strconv.Itoa(n), nil
	}
}

func oneOf(values ...string) func(string) (string, error) {
	return func(s string) (string, error) {
		v := strings.ToLower(strings.TrimSpace(s))
		if !slices.Contains(values, v) {
			return "", fmt.Errorf("want one of %s", strings.Join(values, ", "))
		}
		return v, nil
	}
}

func text(maxLen int, allowed func(rune) bool) func(string) (string, error) {
	return func(s string) (string, error) {
		s = strings.TrimSpace(s)
		if s == "" || utf8.RuneCountInString(s) > maxLen {
			return "", fmt.Errorf("want 1 to %d characters", maxLen)
		}
		for _, r := range s {
			if !allowed(r) {
				return "", fmt.Errorf("%q is not allowed here", r)
			}
		}
		return s, nil
	}
}

func modelRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._:/", r)
}

func promptRune(r rune) bool { return r == '\n' || r >= ' ' && r != utf8.RuneError }

func languageRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == ' '
}

func parseBool(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "true", "yes", "1":
		return "on", nil
	case "off", "false", "no", "0":
		return "off", nil
	}
	return "", errors.New("want on or off")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// registry is every setting, in the order /config list shows them.
var registry = []setting{
	{"model", "chat model of the LLM", text(100, modelRune),
		func(s Settings) string { return s.Model }, func(s *Settings, v string) { s.Model = v }},
	{"system_prompt", "instructions given to the LLM first", text(4000, promptRune),
		func(s Settings) string { return s.SystemPrompt }, func(s *Settings, v string) { s.SystemPrompt = v }},
	{"max_tokens", "token limit of one reply", intRange(16, 128000),
		func(s Settings) string { return strconv.Itoa(s.MaxTokens) }, func(s *Settings, v string) { s.MaxTokens = atoi(v) }},
	{"memory_tokens", "token budget of the chat memory sent with each turn", intRange(0, 1_000_000),
		func(s Settings) string { return strconv.Itoa(s.MemoryTokens) }, func(s *Settings, v string) { s.MemoryTokens = atoi(v) }},
	{"language", "language of the answers (auto = the user's)", text(40, languageRune),
		func(s Settings) string { return s.Language }, func(s *Settings, v string) { s.Language = v }},
	{"voice_replies", "answer voice notes with voice by default (on/off)", parseBool,
		func(s Settings) string { return onOff(s.VoiceReplies) }, func(s *Settings, v string) { s.VoiceReplies = v == "on" }},
	{"group_policy", "groups: mention (answer when mentioned or replied to) or off", oneOf("mention", "off"),
		func(s Settings) string { return s.GroupPolicy }, func(s *Settings, v string) { s.GroupPolicy = v }},
	{"answer", "who the bot answers: everyone, allowlist or owners", oneOf(AnswerEveryone, AnswerAllowList, AnswerOwners),
		func(s Settings) string { return s.Answer }, func(s *Settings, v string) { s.Answer = v }},
	{"rate.user_per_minute", "messages per user per minute (0 = unlimited)", intRange(0, maxPerMinute),
		func(s Settings) string { return strconv.Itoa(s.UserPerMinute) }, func(s *Settings, v string) { s.UserPerMinute = atoi(v) }},
	{"rate.chat_per_minute", "messages per chat per minute (0 = unlimited)", intRange(0, maxPerMinute),
		func(s Settings) string { return strconv.Itoa(s.ChatPerMinute) }, func(s *Settings, v string) { s.ChatPerMinute = atoi(v) }},
	{"rate.global_per_minute", "LLM messages per minute for the whole bot (0 = unlimited); more wait, none are lost", intRange(0, maxPerMinute),
		func(s Settings) string { return strconv.Itoa(s.GlobalPerMinute) }, func(s *Settings, v string) { s.GlobalPerMinute = atoi(v) }},
}

func lookup(key string) (setting, bool) {
	i := slices.IndexFunc(registry, func(s setting) bool { return s.key == key })
	if i < 0 {
		return setting{}, false
	}
	return registry[i], true
}

// SettingInfo describes one setting and its effective value.
type SettingInfo struct {
	Key   string
	Value string
	Help  string
}

// Describe lists every setting with its value in s, in registry order.
func Describe(s Settings) []SettingInfo {
	out := make([]SettingInfo, len(registry))
	for i, r := range registry {
		out[i] = SettingInfo{Key: r.key, Value: r.get(s), Help: r.help}
	}
	return out
}

// Validate checks a key and value as /config set would and returns the
// canonical value. Secret-looking unknown keys yield ErrSecret, other
// unknown keys ErrUnknownSetting.
func Validate(key, value string) (string, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	r, ok := lookup(key)
	switch {
	case !ok && LooksSecret(key):
		return "", ErrSecret
	case !ok:
		return "", fmt.Errorf("%w %q (send /config list for the keys)", ErrUnknownSetting, key)
	}
	v, err := r.parse(value)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}

// apply sets stored values over defaults; rows whose key or value a newer
// or older binary does not know are ignored.
func apply(s Settings, stored map[string]string) Settings {
	for _, r := range registry {
		v, ok := stored[r.key]
		if !ok {
			continue
		}
		if canon, err := r.parse(v); err == nil {
			r.set(&s, canon)
			if s.Stored == nil {
				s.Stored = map[string]bool{}
			}
			s.Stored[r.key] = true
		}
	}
	return s
}
