package governance

import (
	"encoding/json"
	"fmt"
	"time"
)

// Config is the governance part of the configuration. Lists and the answer
// policy here are the starting point; admins edit them from chat (stored in
// PostgreSQL, merged with these).
type Config struct {
	// Owners are the numbers with every right; only configuration makes owners.
	Owners []string `env:"BOT_OWNERS" envSeparator:","`
	// AllowList and DenyList are numbers always allowed / never answered.
	AllowList []string `env:"BOT_ALLOWLIST" envSeparator:","`
	DenyList  []string `env:"BOT_DENYLIST" envSeparator:","`
	// Answer is who the bot answers by default: everyone, allowlist, owners.
	Answer string `env:"BOT_ANSWER" envDefault:"everyone"`
	// SessionTTL is how long an admin session stays open without use.
	SessionTTL time.Duration `env:"ADMIN_SESSION_TTL" envDefault:"15m"`
	// Rate limits (messages per minute; 0 = unlimited), defaults of the
	// settings rate.user_per_minute, rate.chat_per_minute, rate.global_per_minute.
	UserPerMinute   int `env:"RATE_USER_PER_MINUTE" envDefault:"20"`
	ChatPerMinute   int `env:"RATE_CHAT_PER_MINUTE" envDefault:"60"`
	GlobalPerMinute int `env:"RATE_GLOBAL_PER_MINUTE" envDefault:"600"`
}

// Validate names every bad field.
func (c Config) Validate() []error {
	var errs []error
	for name, list := range map[string][]string{"BOT_OWNERS": c.Owners, "BOT_ALLOWLIST": c.AllowList, "BOT_DENYLIST": c.DenyList} {
		for i, n := range list {
			if _, err := ParseNumber(n); err != nil {
				errs = append(errs, fmt.Errorf("%s: entry %d is not a phone number (6 to 15 digits)", name, i+1))
			}
		}
	}
	if err := checkAnswer(c.Answer); err != nil {
		errs = append(errs, fmt.Errorf("BOT_ANSWER: %w", err))
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("ADMIN_SESSION_TTL: %s is not between 1m and 24h", c.SessionTTL))
	}
	for name, v := range map[string]int{"RATE_USER_PER_MINUTE": c.UserPerMinute, "RATE_CHAT_PER_MINUTE": c.ChatPerMinute, "RATE_GLOBAL_PER_MINUTE": c.GlobalPerMinute} {
		if v < 0 || v > maxPerMinute {
			errs = append(errs, fmt.Errorf("%s: %d is not between 0 and %d", name, v, maxPerMinute))
		}
	}
	return errs
}

const maxPerMinute = 1_000_000

// Who the bot answers.
const (
	AnswerEveryone  = "everyone"
	AnswerAllowList = "allowlist"
	AnswerOwners    = "owners"
)

func checkAnswer(s string) error {
	switch s {
	case AnswerEveryone, AnswerAllowList, AnswerOwners:
		return nil
	}
	return fmt.Errorf("%q: want everyone, allowlist or owners", s)
}

// MarshalJSON masks the number lists (`wabot config` prints the configuration
// and must not print phone numbers): each number shows as its short label.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // no MarshalJSON: no recursion
	p := plain(c)
	p.Owners, p.AllowList, p.DenyList = MaskNumbers(c.Owners), MaskNumbers(c.AllowList), MaskNumbers(c.DenyList)
	return json.Marshal(p)
}

// MaskNumbers returns the numbers' short labels ("+49…5678").
func MaskNumbers(numbers []string) []string {
	out := make([]string, len(numbers))
	for i, s := range numbers {
		out[i] = "***"
		if n, err := ParseNumber(s); err == nil {
			out[i] = n.Label
		}
	}
	return out
}
