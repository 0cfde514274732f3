package activities

import (
	"context"
	"strings"
)

// turnConfig is what one LLM turn uses: the settings in effect now.
type turnConfig struct {
	System       string
	Model        string // "" = the client's configured model
	MaxTokens    int    // 0 = the client's configured limit
	MemoryTokens int
}

// turnSettings reads the runtime settings on every turn (one small query),
// so a /config set applies to the next message on every worker, without a
// restart or a cache to invalidate. Without governance it is the
// configuration.
func (a *Activities) turnSettings(ctx context.Context) (turnConfig, error) {
	if a.gov == nil {
		return turnConfig{System: a.cfg.SystemPrompt, MemoryTokens: a.cfg.MemoryTokens}, nil
	}
	s, err := a.gov.Settings(ctx)
	if err != nil {
		return turnConfig{}, err
	}
	system := s.SystemPrompt
	if lang := strings.TrimSpace(s.Language); lang != "" && !strings.EqualFold(lang, "auto") {
		system += "\nAlways answer in " + lang + "."
	}
	tc := turnConfig{System: system, MaxTokens: s.MaxTokens, MemoryTokens: s.MemoryTokens}
	if s.IsStored("model") {
		// Only an explicit setting overrides the client's choice (which
		// picks OPENAI_VISION_MODEL for images).
		tc.Model = s.Model
	}
	return tc, nil
}
