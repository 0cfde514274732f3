package llm_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/secret"
)

func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := env.ParseAsWithOptions[llm.Config](env.Options{Environment: map[string]string{
		"OPENAI_API_KEY": testKey, "OPENAI_TIMEOUT": "15s", "OPENAI_VISION_MODEL": "gpt-4o",
	}})
	require.NoError(t, err)
	require.Equal(t, testKey, cfg.APIKey.Reveal())
	require.Equal(t, llm.DefaultModel, cfg.Model)
	require.Equal(t, "gpt-4o", cfg.VisionModel)
	require.Equal(t, llm.DefaultTranscriptionModel, cfg.TranscriptionModel)
	require.Equal(t, llm.DefaultSpeechModel, cfg.SpeechModel)
	require.Equal(t, llm.DefaultSpeechVoice, cfg.SpeechVoice)
	require.Equal(t, llm.DefaultImageModel, cfg.ImageModel)
	require.Equal(t, llm.DefaultModerationModel, cfg.ModerationModel)
	require.Equal(t, llm.DefaultMaxTokens, cfg.MaxTokens)
	require.Equal(t, 15*time.Second, cfg.Timeout)
	require.Empty(t, cfg.Validate())
	require.NotContains(t, fmt.Sprintf("%+v %#v", cfg, cfg), testKey)
}

func TestNewNeedsAKeyForOpenAI(t *testing.T) {
	t.Parallel()
	require.Empty(t, llm.Config{}.Validate(), "processes that never call the LLM need no key")
	_, err := llm.New(nil, llm.Config{})
	require.ErrorContains(t, err, "OPENAI_API_KEY")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	key := secret.New(testKey)
	tests := []struct {
		name string
		cfg  llm.Config
		want []string // the environment variables named, in order
	}{
		{"defaults with a key", llm.Config{APIKey: key}, nil},
		{"compatible endpoint without a key", llm.Config{BaseURL: "http://localhost:11434/v1"}, nil},
		{"key with a newline", llm.Config{APIKey: secret.New(testKey + "\n")}, []string{"OPENAI_API_KEY"}},
		{"base URL without scheme", llm.Config{APIKey: key, BaseURL: "api.openai.com/v1"}, []string{"OPENAI_BASE_URL"}},
		{"max tokens too big", llm.Config{APIKey: key, MaxTokens: 200000}, []string{"OPENAI_MAX_TOKENS"}},
		{"negative timeout", llm.Config{APIKey: key, Timeout: -time.Second}, []string{"OPENAI_TIMEOUT"}},
		{"unknown moderation model", llm.Config{APIKey: key, ModerationModel: "gpt-4o"}, []string{"OPENAI_MODERATION_MODEL"}},
		{"all at once", llm.Config{BaseURL: "ftp://x", MaxTokens: -1, Timeout: -1, ModerationModel: "x"},
			[]string{"OPENAI_BASE_URL", "OPENAI_MAX_TOKENS", "OPENAI_TIMEOUT", "OPENAI_MODERATION_MODEL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := tt.cfg.Validate()
			require.Len(t, errs, len(tt.want), "%v", errs)
			for i, err := range errs {
				require.Regexp(t, "^"+tt.want[i]+": ", err.Error())
				require.NotContains(t, err.Error(), testKey)
			}
			_, err := llm.New(nil, tt.cfg)
			if len(tt.want) == 0 {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.want[0])
			}
		})
	}
}

func TestMaxTokensError(t *testing.T) {
	t.Parallel()
	errs := llm.Config{APIKey: secret.New(testKey), MaxTokens: 200000}.Validate()
	require.Len(t, errs, 1)
	require.Equal(t, "OPENAI_MAX_TOKENS: must be between 1 and 128000 (got 200000)", errs[0].Error())
}
