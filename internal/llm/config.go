package llm

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wabot/wabot/internal/secret"
)

// Defaults for the zero values of Config.
const (
	DefaultModel              = "gpt-4o-mini"
	DefaultTranscriptionModel = "whisper-1"
	DefaultSpeechModel        = "tts-1"
	DefaultSpeechVoice        = "alloy"
	DefaultImageModel         = "dall-e-3"
	DefaultModerationModel    = "omni-moderation-latest"
	DefaultMaxTokens          = 800
	DefaultTimeout            = 60 * time.Second

	maxMaxTokens = 128000
)

// Config configures the Client. Zero values take the defaults above.
type Config struct {
	APIKey secret.String `env:"OPENAI_API_KEY"`
	// BaseURL is any OpenAI-compatible endpoint, including /v1; "" means
	// api.openai.com.
	BaseURL string `env:"OPENAI_BASE_URL"`
	Model   string `env:"OPENAI_MODEL" envDefault:"gpt-4o-mini"`
	// VisionModel answers messages with an image; "" means Model.
	VisionModel        string `env:"OPENAI_VISION_MODEL"`
	TranscriptionModel string `env:"OPENAI_TRANSCRIPTION_MODEL" envDefault:"whisper-1"`
	SpeechModel        string `env:"OPENAI_SPEECH_MODEL" envDefault:"tts-1"`
	SpeechVoice        string `env:"OPENAI_SPEECH_VOICE" envDefault:"alloy"`
	ImageModel         string `env:"OPENAI_IMAGE_MODEL" envDefault:"dall-e-3"`
	ModerationModel    string `env:"OPENAI_MODERATION_MODEL" envDefault:"omni-moderation-latest"`
	// MaxTokens caps each chat completion (sent as max_completion_tokens).
	MaxTokens int `env:"OPENAI_MAX_TOKENS" envDefault:"800"`
	// Timeout bounds each HTTP request, including reading the answer.
	Timeout time.Duration `env:"OPENAI_TIMEOUT" envDefault:"60s"`
}

func (c Config) withDefaults() Config {
	c.Model = cmp.Or(c.Model, DefaultModel)
	c.VisionModel = cmp.Or(c.VisionModel, c.Model)
	c.TranscriptionModel = cmp.Or(c.TranscriptionModel, DefaultTranscriptionModel)
	c.SpeechModel = cmp.Or(c.SpeechModel, DefaultSpeechModel)
	c.SpeechVoice = cmp.Or(c.SpeechVoice, DefaultSpeechVoice)
	c.ImageModel = cmp.Or(c.ImageModel, DefaultImageModel)
	c.ModerationModel = cmp.Or(c.ModerationModel, DefaultModerationModel)
	c.MaxTokens = cmp.Or(c.MaxTokens, DefaultMaxTokens)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	return c
}

// moderationModels are the models go-openai accepts for moderation.
var moderationModels = []string{
	"omni-moderation-latest", "omni-moderation-2024-09-26", "text-moderation-stable", "text-moderation-latest",
}

// Validate reports every bad field at once; each error names its
// environment variable. Zero values are valid: they take the defaults.
func (c Config) Validate() []error {
	c = c.withDefaults()
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, args...)))
	}
	key := c.APIKey.Reveal()
	if strings.ContainsAny(key, " \t\r\n") {
		bad("OPENAI_API_KEY", "contains whitespace (a copy-paste mistake?)")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("OPENAI_BASE_URL", "must be an http(s) URL including the API version, e.g. https://api.openai.com/v1")
		}
	}
	if c.MaxTokens < 1 || c.MaxTokens > maxMaxTokens {
		bad("OPENAI_MAX_TOKENS", "must be between 1 and %d (got %d)", maxMaxTokens, c.MaxTokens)
	}
	if c.Timeout <= 0 {
		bad("OPENAI_TIMEOUT", "must be positive (got %s)", c.Timeout)
	}
	if !slices.Contains(moderationModels, c.ModerationModel) {
		bad("OPENAI_MODERATION_MODEL", "must be one of %s (got %q)", strings.Join(moderationModels, ", "), c.ModerationModel)
	}
	return errs
}
