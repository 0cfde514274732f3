package activities_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/tempdir"
	"github.com/wabot/wabot/internal/testkit"
)

// llmClient is a real LLM client against the OpenAI stand-in.
func llmClient(t *testing.T) *llm.Client {
	t.Helper()
	fake := openaifake.New()
	t.Cleanup(fake.Close)
	c, err := llm.New(logging.Discard(), llm.Config{BaseURL: fake.URL(), APIKey: secret.New("k")})
	require.NoError(t, err)
	return c
}

// The bot-wide voice-reply default follows the runtime setting (/config set
// voice_replies on), and a chat's own /voice choice overrides it.
func TestVoiceRepliesDefaultFollowsTheSetting(t *testing.T) {
	t.Parallel()
	pool := testkit.Postgres(t)
	st := store.New(pool)
	tmp, err := tempdir.New(logging.Discard(), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = tmp.Close() })
	plain, err := activities.NewMedia(logging.Discard(), activities.MediaConfig{VoiceReplies: false}, activities.Config{},
		activities.MediaDeps{Store: st, LLM: llmClient(t), TempDir: tmp})
	require.NoError(t, err)
	in := inbound("V1", "")
	require.NoError(t, st.EnsureChat(t.Context(), in.Account, in.Chat, "dm"))

	s, err := plain.Settings(t.Context(), in)
	require.NoError(t, err)
	require.False(t, s.VoiceReplies, "MEDIA_VOICE_REPLIES=false without a runtime setting")

	// The real governor, as internal/app wires it: /config set voice_replies
	// stores the setting, the media activities read it on the next message.
	rdb, prefix := testkit.Redis(t)
	defaults, err := config.Load(nil)
	require.NoError(t, err)
	gov, err := governance.New(defaults.Gov, governance.Settings{}, pool, audit.New(pool, nil),
		logging.NewHasher(secret.String{}), rdb, prefix)
	require.NoError(t, err)
	m, err := activities.NewMedia(logging.Discard(), activities.MediaConfig{VoiceReplies: false}, activities.Config{},
		activities.MediaDeps{Store: st, LLM: llmClient(t), TempDir: tmp, Settings: gov})
	require.NoError(t, err)
	s, err = m.Settings(t.Context(), in)
	require.NoError(t, err)
	require.False(t, s.VoiceReplies, "no runtime setting stored yet")
	_, err = gov.SetSetting(t.Context(), "owner", "voice_replies", "on")
	require.NoError(t, err)
	s, err = m.Settings(t.Context(), in)
	require.NoError(t, err)
	require.True(t, s.VoiceReplies, "the runtime setting turned the default on")

	require.NoError(t, m.SetVoiceReplies(t.Context(), in, false))
	s, err = m.Settings(t.Context(), in)
	require.NoError(t, err)
	require.False(t, s.VoiceReplies, "the chat's /voice off wins over the default")
}
