package app

import (
	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/governance"
)

// NewGovernor builds the roles/settings/sessions service of a process: the
// configured defaults of the runtime settings, the audit log, the identity
// hasher and Redis for admin sessions.
func NewGovernor(d *Deps) (*governance.Governor, error) {
	defaults := governance.Settings{
		Model:        d.Config.OpenAI.Model,
		SystemPrompt: d.Config.Bot.SystemPrompt,
		MaxTokens:    d.Config.OpenAI.MaxTokens,
		MemoryTokens: d.Config.Bot.MemoryTokens,
		VoiceReplies: d.Config.Media.VoiceReplies,
	}
	return governance.New(d.Config.Gov, defaults, d.Pool, audit.New(d.Pool, nil), d.Hasher, d.Redis, d.Config.Redis.KeyPrefix)
}
