package governance_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/internal/testkit"
)

const owner = "4915100000100"

func setup(t *testing.T, cfg governance.Config) (*governance.Governor, *audit.Log) {
	t.Helper()
	pool := testkit.Postgres(t)
	rdb, prefix := testkit.Redis(t)
	log := audit.New(pool, nil)
	cfg.Owners = append(cfg.Owners, owner)
	cfg.Answer = cmpOr(cfg.Answer, governance.AnswerEveryone)
	cfg.SessionTTL = cmpOrDur(cfg.SessionTTL, time.Minute)
	g, err := governance.New(cfg, governance.Settings{Model: "m0", SystemPrompt: "p0", MaxTokens: 100}, pool, log,
		logging.NewHasher(secret.String{}), rdb, prefix)
	require.NoError(t, err)
	return g, log
}

func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

func cmpOrDur(a, b time.Duration) time.Duration {
	if a == 0 {
		return b
	}
	return a
}

func TestValidateSettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key, value, want string
		err              error
	}{
		{"model", "gpt-4o", "gpt-4o", nil},
		{"MODEL", " llama3.1:8b ", "llama3.1:8b", nil},
		{"model", "bad model", "", nil},
		{"max_tokens", "500", "500", nil},
		{"max_tokens", "5", "", nil},
		{"voice_replies", "yes", "on", nil},
		{"answer", "Owners", "owners", nil},
		{"answer", "nobody", "", nil},
		{"rate.global_per_minute", "0", "0", nil},
		{"openai_api_key", "sk-1", "", governance.ErrSecret},
		{"database_url", "postgres://x", "", governance.ErrSecret},
		{"temporal_token", "t", "", governance.ErrSecret},
		{"admin_password", "t", "", governance.ErrSecret},
		{"colour", "blue", "", governance.ErrUnknownSetting},
	}
	for _, tc := range cases {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			got, err := governance.Validate(tc.key, tc.value)
			if tc.want != "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
			}
		})
	}
}

func TestSettingsApplyOnNextReadAndSecretsAreRefused(t *testing.T) {
	t.Parallel()
	g, log := setup(t, governance.Config{})
	ctx := t.Context()
	s, err := g.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, "m0", s.Model)
	require.Equal(t, governance.AnswerEveryone, s.Answer)

	v, err := g.SetSetting(ctx, "actorhash", "model", "gpt-test")
	require.NoError(t, err)
	require.Equal(t, "gpt-test", v)
	s, err = g.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, "gpt-test", s.Model)

	_, err = g.SetSetting(ctx, "actorhash", "openai_api_key", "sk-secret-value")
	require.ErrorIs(t, err, governance.ErrSecret)
	last, err := log.Last(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, audit.OutcomeDenied, last[0].Outcome)
	require.Equal(t, "config.set", last[0].Action)
	require.NotContains(t, last[0].Details, "value", "a refused secret is never stored")
	require.Equal(t, "model", last[1].Target)
	res, err := log.Verify(ctx)
	require.NoError(t, err)
	require.True(t, res.OK)
}

func TestRolesAndLists(t *testing.T) {
	t.Parallel()
	g, log := setup(t, governance.Config{DenyList: []string{"4915100000999"}})
	ctx := t.Context()
	h := logging.NewHasher(secret.String{})
	const admin = "4915100000200"
	r, err := g.RoleOf(ctx, owner+"@s.whatsapp.net")
	require.NoError(t, err)
	require.Equal(t, governance.RoleOwner, r)

	n, err := governance.ParseNumber("+49 151 0000 0200")
	require.NoError(t, err)
	require.NoError(t, g.Grant(ctx, h.Hash(owner), n, governance.RoleAdmin))
	r, err = g.RoleOf(ctx, admin)
	require.NoError(t, err)
	require.Equal(t, governance.RoleAdmin, r)
	on, err := governance.ParseNumber(owner)
	require.NoError(t, err)
	require.ErrorIs(t, g.Grant(ctx, h.Hash(owner), on, governance.RoleAdmin), governance.ErrOwner)
	require.Error(t, g.Grant(ctx, h.Hash(owner), n, governance.RoleOwner))

	members, err := g.Roles(ctx)
	require.NoError(t, err)
	require.Len(t, members, 2)
	had, err := g.Revoke(ctx, h.Hash(owner), n, governance.RoleAdmin)
	require.NoError(t, err)
	require.True(t, had)
	r, err = g.RoleOf(ctx, admin)
	require.NoError(t, err)
	require.Equal(t, governance.RoleUser, r)

	// Deny-list from configuration and from chat; allow-list policy.
	s, err := g.Settings(ctx)
	require.NoError(t, err)
	d, err := g.Admits(ctx, "4915100000999", s)
	require.NoError(t, err)
	require.Equal(t, governance.Decision{Reason: "denylist", Role: governance.RoleUser}, d)
	s.Answer = governance.AnswerAllowList
	d, err = g.Admits(ctx, "4915100000300", s)
	require.NoError(t, err)
	require.False(t, d.Answer)
	n3, _ := governance.ParseNumber("4915100000300")
	require.NoError(t, g.ListAdd(ctx, h.Hash(owner), "allow", n3))
	d, err = g.Admits(ctx, "4915100000300", s)
	require.NoError(t, err)
	require.True(t, d.Answer)
	require.NoError(t, g.ListAdd(ctx, h.Hash(owner), "deny", n3))
	d, err = g.Admits(ctx, "4915100000300", s)
	require.NoError(t, err)
	require.False(t, d.Answer, "deny wins over allow")
	s.Answer = governance.AnswerOwners
	d, err = g.Admits(ctx, owner, s)
	require.NoError(t, err)
	require.True(t, d.Answer)

	entries, err := log.Last(ctx, 10)
	require.NoError(t, err)
	require.Len(t, entries, 4, "grant, revoke, allow add, deny add")
	for _, e := range entries {
		require.NotContains(t, e.Target, "4915", "identities are hashed")
	}
}

// TestSessionExpiresAndSlides: a session expires in Redis (here forced to
// a millisecond), and each privileged use slides it back to the full TTL.
func TestSessionExpiresAndSlides(t *testing.T) {
	t.Parallel()
	pool := testkit.Postgres(t)
	rdb, prefix := testkit.Redis(t)
	g, err := governance.New(governance.Config{Answer: governance.AnswerEveryone, SessionTTL: time.Hour}, governance.Settings{},
		pool, audit.New(pool, nil), logging.NewHasher(secret.String{}), rdb, prefix)
	require.NoError(t, err)
	ctx := t.Context()
	key := prefix + "sudo:m1"
	require.NoError(t, g.OpenSession(ctx, "m1"))
	require.NoError(t, rdb.Expire(ctx, key, time.Minute).Err())
	ok, err := g.TouchSession(ctx, "m1")
	require.NoError(t, err)
	require.True(t, ok)
	ttl, err := rdb.TTL(ctx, key).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 59*time.Minute, "slid back to the full TTL")

	require.NoError(t, rdb.PExpire(ctx, key, time.Millisecond).Err())
	testkit.WaitFor(t, 5*time.Second, func() bool { return rdb.Exists(ctx, key).Val() == 0 }, "session key expired")
	ok, err = g.TouchSession(ctx, "m1")
	require.NoError(t, err)
	require.False(t, ok, "expired: SESSION_REQUIRED again")
}

func TestSessionsSlideAndClose(t *testing.T) {
	t.Parallel()
	g, _ := setup(t, governance.Config{})
	ctx := t.Context()
	ok, err := g.TouchSession(ctx, "m1")
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, g.OpenSession(ctx, "m1"))
	ok, err = g.TouchSession(ctx, "m1")
	require.NoError(t, err)
	require.True(t, ok)
	closed, err := g.CloseSession(ctx, "m1")
	require.NoError(t, err)
	require.True(t, closed)
	ok, err = g.TouchSession(ctx, "m1")
	require.NoError(t, err)
	require.False(t, ok)
}

func TestParseNumber(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"+49 151-1234 5678", "4915112345678", "4915112345678@s.whatsapp.net"} {
		n, err := governance.ParseNumber(ok)
		require.NoError(t, err, ok)
		require.Equal(t, "4915112345678", n.Digits)
		require.Equal(t, "+49…5678", n.Label)
	}
	for _, bad := range []string{"", "12345", "call me", "+49 151 x", "1234567890123456"} {
		_, err := governance.ParseNumber(bad)
		require.Error(t, err, bad)
	}
}
