package activities_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/command"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/ratelimit"
	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
)

// The numbers of each role in these tests.
const (
	ownerNum    = "4915100000001"
	adminNum    = "4915100000002"
	operatorNum = "4915100000003"
	userNum     = "4915100000004"
)

type echoLLM struct{}

func (echoLLM) Chat(_ context.Context, req llm.ChatRequest) (llm.ChatResponse, error) {
	return llm.ChatResponse{Text: "re: " + req.Messages[len(req.Messages)-1].Content, Model: "m"}, nil
}

type fixture struct {
	acts   *activities.Activities
	gov    *governance.Governor
	log    *audit.Log
	hasher logging.Hasher
}

func setup(t *testing.T, cfg governance.Config) *fixture {
	t.Helper()
	pool := testkit.Postgres(t)
	rdb, prefix := testkit.Redis(t)
	h := logging.NewHasher(secret.String{})
	log := audit.New(pool, nil)
	cfg.Owners = []string{ownerNum}
	if cfg.Answer == "" {
		cfg.Answer = governance.AnswerEveryone
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 15 * time.Minute
	}
	gov, err := governance.New(cfg, governance.Settings{Model: "m", SystemPrompt: "p", MaxTokens: 100, MemoryTokens: 1000}, pool, log, h, rdb, prefix)
	require.NoError(t, err)
	limits, err := ratelimit.New(rdb, prefix)
	require.NoError(t, err)
	comp, err := activities.NewCompliance(testkit.Logger(t), activities.ComplianceConfig{}, 0, activities.ComplianceDeps{
		Store: store.New(pool), Audit: log, Hash: h.Hash,
		IsAdmin: func(ctx context.Context, jid string) bool {
			r, err := gov.RoleOf(ctx, jid)
			return err == nil && r.AtLeast(governance.RoleAdmin)
		},
	})
	require.NoError(t, err)
	acts, err := activities.New(testkit.Logger(t), activities.Config{}, activities.Deps{
		Store: store.New(pool), LLM: echoLLM{}, Governor: gov, Limiter: limits, Compliance: comp,
	})
	require.NoError(t, err)
	ctx := t.Context()
	for num, r := range map[string]governance.Role{adminNum: governance.RoleAdmin, operatorNum: governance.RoleOperator} {
		n, err := governance.ParseNumber(num)
		require.NoError(t, err)
		require.NoError(t, gov.Grant(ctx, h.Hash(ownerNum), n, r))
	}
	return &fixture{acts: acts, gov: gov, log: log, hasher: h}
}

func (f *fixture) inbound(from, text string) message.Inbound {
	jid := from + "@s.whatsapp.net"
	kind := message.KindText
	if strings.HasPrefix(text, "/") || strings.HasPrefix(text, "!") {
		kind = message.KindCommand
	}
	return message.Inbound{
		Account: "acct", ID: fmt.Sprintf("M%s%d", from, time.Now().UnixNano()), Chat: jid, Sender: jid,
		ChatHash: f.hasher.Hash(jid), SenderHash: f.hasher.Hash(jid), Kind: kind, Text: text, Timestamp: time.Now(),
	}
}

// samples is a valid invocation of every command. The matrix test fails if
// a command has none, so adding a command means adding it here.
var samples = map[string]string{
	"help":         "/help",
	"gpt":          "!gpt what is Go?",
	"reset":        "/reset",
	"usage":        "/usage",
	"voice":        "/voice on",
	"read":         "/read",
	"image":        "/image a red fox",
	"askfile":      "/askfile what does it say?",
	"export":       "/export",
	"wipe":         "/wipe",
	"retention":    "/retention show",
	"sudo":         "/sudo",
	"config":       "!config",
	"config list":  "/config list",
	"config get":   "/config get model",
	"config set":   "/config set max_tokens 300",
	"role list":    "/role list",
	"role grant":   "/role grant 4915100000099 operator",
	"role revoke":  "/role revoke 4915100000099 operator",
	"allow list":   "/allow list",
	"allow add":    "/allow add 4915100000098",
	"allow remove": "/allow remove 4915100000098",
	"deny list":    "/deny list",
	"deny add":     "/deny add 4915100000097",
	"deny remove":  "/deny remove 4915100000097",
	"answer":       "/answer everyone",
	"audit verify": "/audit verify",
	"audit last":   "/audit last 3",
}

// minRoles is the specification the matrix checks the table against.
var minRoles = map[string]governance.Role{
	"help": governance.RoleUser, "gpt": governance.RoleUser, "reset": governance.RoleUser, "usage": governance.RoleUser,
	"voice": governance.RoleUser, "read": governance.RoleUser, "image": governance.RoleUser, "askfile": governance.RoleUser,
	"export": governance.RoleUser, "wipe": governance.RoleUser, "retention": governance.RoleUser,
	"sudo": governance.RoleOperator, "config": governance.RoleOperator, "config list": governance.RoleOperator,
	"config get": governance.RoleOperator, "config set": governance.RoleAdmin, "role list": governance.RoleAdmin,
	"role grant": governance.RoleOwner, "role revoke": governance.RoleOwner, "allow list": governance.RoleAdmin,
	"allow add": governance.RoleAdmin, "allow remove": governance.RoleAdmin, "deny list": governance.RoleAdmin,
	"deny add": governance.RoleAdmin, "deny remove": governance.RoleAdmin, "answer": governance.RoleAdmin,
	"audit verify": governance.RoleAdmin, "audit last": governance.RoleOwner,
}

// routes is where each command that runs on in the workflow goes.
var routes = map[string]command.Route{
	"voice": activities.RouteMedia, "read": activities.RouteMedia, "image": activities.RouteMedia, "askfile": activities.RouteMedia,
	"export": activities.RouteExport, "wipe": activities.RouteWipe,
}

// TestCommandMatrix: every command × every role × admin session open/closed
// → allowed (answered, or handed to its route), FORBIDDEN or
// SESSION_REQUIRED; every privileged outcome audited.
func TestCommandMatrix(t *testing.T) {
	t.Parallel()
	roles := map[governance.Role]string{
		governance.RoleUser: userNum, governance.RoleOperator: operatorNum,
		governance.RoleAdmin: adminNum, governance.RoleOwner: ownerNum,
	}
	for name, text := range samples {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, governance.Config{})
			ctx := t.Context()
			minRole := minRoles[name]
			privileged := minRole != governance.RoleUser
			for _, role := range governance.Roles {
				for _, session := range []bool{false, true} {
					num := roles[role]
					member := f.hasher.Hash(num)
					if session {
						require.NoError(t, f.gov.OpenSession(ctx, member))
					} else {
						_, err := f.gov.CloseSession(ctx, member)
						require.NoError(t, err)
					}
					res, err := f.acts.RunCommand(ctx, f.inbound(num, text))
					require.NoError(t, err)
					want := errcode.Code("")
					switch {
					case !role.AtLeast(minRole):
						want = errcode.Forbidden
					case privileged && name != "sudo" && !session:
						want = errcode.SessionRequired
					}
					require.Equal(t, want, res.Code, "%s as %s, session %v: %s", name, role, session, res.Text)
					require.Equal(t, name, res.Name)
					if want == "" {
						require.Equal(t, routes[name], res.Route, "%s runs on in the workflow", name)
						require.True(t, res.Text != "" || res.AskLLM != "" || res.Route != "", "%s answered nothing", name)
					}
					if !privileged {
						continue
					}
					last, err := f.log.Last(ctx, 1)
					require.NoError(t, err)
					require.Len(t, last, 1)
					action := "command." + strings.ReplaceAll(name, " ", "_")
					require.Equal(t, action, last[0].Action, "%s as %s, session %v", name, role, session)
					require.Equal(t, member, last[0].Actor)
					if want != "" {
						require.Equal(t, audit.OutcomeDenied, last[0].Outcome)
						require.Equal(t, string(want), last[0].Details["code"])
						require.Equal(t, errcode.UserMessage(want), res.Text)
					} else {
						require.Equal(t, audit.OutcomeOK, last[0].Outcome, res.Text)
					}
				}
			}
			v, err := f.log.Verify(ctx)
			require.NoError(t, err)
			require.True(t, v.OK)
		})
	}
}

// The matrix covers every command of the table, and the table agrees with
// the specified minimum roles, sessions and routes.
func TestCommandMatrixCoversTheTable(t *testing.T) {
	t.Parallel()
	f := setup(t, governance.Config{})
	specs := activities.Commands(f.acts)
	for _, s := range specs {
		require.Contains(t, samples, s.Name, "command %q has no sample in the matrix", s.Name)
		require.Equal(t, minRoles[s.Name], s.MinRole, s.Name)
		require.Equal(t, s.Privileged() && s.Name != "sudo", s.Session, "%s needs a session", s.Name)
		require.Equal(t, routes[s.Name], s.Runs, s.Name)
	}
	require.Len(t, specs, len(samples))
}

// /help is generated from the registry for the caller's role: each role
// sees more than the one below, and only what it may use.
func TestHelpDiffersPerRole(t *testing.T) {
	t.Parallel()
	f := setup(t, governance.Config{})
	ctx := t.Context()
	var prev string
	for _, num := range []string{userNum, operatorNum, adminNum, ownerNum} {
		res, err := f.acts.RunCommand(ctx, f.inbound(num, "/help"))
		require.NoError(t, err)
		require.Empty(t, res.Code)
		require.NotEqual(t, prev, res.Text)
		if prev != "" {
			require.Greater(t, strings.Count(res.Text, "\n"), strings.Count(prev, "\n"), res.Text)
		}
		prev = res.Text
	}
	user, err := f.acts.RunCommand(ctx, f.inbound(userNum, "/help"))
	require.NoError(t, err)
	require.Contains(t, user.Text, "/export — get everything I store about you as a ZIP (direct chat)")
	require.NotContains(t, user.Text, "/sudo")
	require.NotContains(t, prev, "/config list|get", "the bare !config is hidden")
	require.Contains(t, prev, "/audit last [N]")
}

// Commands that hold personal data are refused in groups with a pointer to a
// private chat; /retention works there.
func TestDirectOnlyCommandsInGroups(t *testing.T) {
	t.Parallel()
	f := setup(t, governance.Config{})
	for _, text := range []string{"/export", "/wipe"} {
		in := f.inbound(userNum, text)
		in.IsGroup, in.Chat = true, "120363000000000001@g.us"
		res, err := f.acts.RunCommand(t.Context(), in)
		require.NoError(t, err)
		require.Equal(t, errcode.Forbidden, res.Code, text)
		require.Contains(t, res.Text, "For your privacy, send "+text+" to me in a private chat.")
		require.Empty(t, res.Route, "a refused command never reaches its route")
	}
	in := f.inbound(userNum, "/retention show")
	in.IsGroup, in.Chat = true, "120363000000000001@g.us"
	res, err := f.acts.RunCommand(t.Context(), in)
	require.NoError(t, err)
	require.Empty(t, res.Code, res.Text)
}
