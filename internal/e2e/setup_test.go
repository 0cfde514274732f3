package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/testkit"
	"github.com/wabot/wabot/workflows"
)

// TestPayloadKeys encrypt every e2e run's payloads, so the histories
// recorded for the replay tests are encrypted too; workflows' replay test
// decrypts them with the same fixed key (a test key, never a real one).
const TestPayloadKeys = "test:d2Fib3QtcmVwbGF5LXRlc3Qta2V5LTMyLWJ5dGVzISE="

const testCodecToken = "e2e-codec-token-0123456789"

// harness is one isolated bot: its own database, Redis prefix, task queue,
// gateway account and OpenAI stand-in, on the shared test Temporal server
// (and, when options say so, on PostgreSQL and Redis servers of its own).
type harness struct {
	t         *testing.T
	ctx       context.Context
	cfg       config.Config
	env       []string // the environment a `wabot worker` process would get
	deps      *app.Deps
	pool      *pgxpool.Pool
	fake      *openaifake.Server
	transport *localchat.Transport
	gw        *app.Gateway
	account   string
	tmpBase   string // MEDIA_TEMP_DIR: the workers' scratch directories live under it
}

type options struct {
	inProcessWorker bool
	env             []string // extra environment, e.g. BOT_OWNERS=… (governance tests)
	// databaseURL and redisURL replace, when set, a fresh database on the
	// shared PostgreSQL and a key prefix on the shared Redis: the chaos
	// test's private servers (testkit.PrivatePostgres, PrivateRedis), which
	// it restarts. The database must be migrated.
	databaseURL string
	redisURL    string
}

func setup(t *testing.T, opts options) *harness {
	t.Helper()
	ctx := t.Context()
	var pool *pgxpool.Pool
	dsn := opts.databaseURL
	if dsn == "" {
		pool, dsn = testkit.PostgresURL(t)
	} else {
		var err error
		pool, err = pgxpool.New(ctx, dsn)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
	}
	redisURL, prefix := opts.redisURL, testkit.Name("wabot_test:")+":"
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379/0"
		_, prefix = testkit.Redis(t)
	}
	fake := openaifake.New()
	t.Cleanup(fake.Close)
	tmpBase := t.TempDir()
	env := []string{
		"MEDIA_TEMP_DIR=" + tmpBase,
		"DATABASE_URL=" + dsn,
		"REDIS_URL=" + redisURL,
		"REDIS_KEY_PREFIX=" + prefix,
		"TEMPORAL_ADDRESS=" + testkit.TemporalAddress(t),
		"TEMPORAL_TASK_QUEUE=" + testkit.Name("ai-"),
		"OPENAI_BASE_URL=" + fake.URL(),
		"OPENAI_API_KEY=test-key",
		"LOG_FORMAT=json",
		"ADMIN_ADDR=127.0.0.1:0",
		"GATEWAY_CHAT_IDLE_TIMEOUT=30s",
		"GATEWAY_BURST_WINDOW=0s", // answer at once; the burst tests set their own window
		"WABOT_PAYLOAD_KEYS=" + TestPayloadKeys,
		"WABOT_CODEC_TOKEN=" + testCodecToken,
		"COMPLIANCE_SCHEDULES=false",
	}
	env = append(env, opts.env...)
	cfg, err := config.Load(env)
	require.NoError(t, err)
	d, err := app.Connect(ctx, testkit.Logger(t), cfg)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	if opts.inProcessWorker {
		w, err := app.NewAIWorker(d)
		require.NoError(t, err)
		require.NoError(t, w.Start())
		t.Cleanup(w.Stop)
	}
	h := &harness{t: t, ctx: ctx, cfg: cfg, env: env, deps: d, pool: pool, fake: fake, account: testkit.Name("acct"), tmpBase: tmpBase}
	h.transport = localchat.New(nil)
	h.startGateway()
	return h
}

// startGateway starts a gateway (again, after a test stopped it) for the
// harness's account and hands it the transport's events.
func (h *harness) startGateway() {
	h.t.Helper()
	gw, err := app.StartGateway(h.deps, h.account, h.transport, gateway.StaticIdentity{PN: localchat.BotJID})
	require.NoError(h.t, err)
	h.t.Cleanup(gw.Worker.Stop)
	h.gw = gw
	h.transport.SetHandler(gw.HandleEvent)
}

// textEvent is a WhatsApp text message from user (digits) as whatsmeow emits it.
func textEvent(id, user, text string) *events.Message {
	jid := types.NewJID(user, types.DefaultUserServer)
	msg := &waE2E.Message{Conversation: proto.String(text)}
	return &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: jid, Sender: jid},
			ID:            id, PushName: "Test", Timestamp: time.Now(), Type: "text",
		},
		Message: msg, RawMessage: msg,
	}
}

// sentTo returns the texts of every SendMessage call to user, duplicates included.
func (h *harness) sentTo(user string) []localchat.Sent {
	var out []localchat.Sent
	for _, s := range h.transport.SentMessages() {
		if s.To.User == user {
			out = append(out, s)
		}
	}
	return out
}

func texts(sent []localchat.Sent) []string {
	out := make([]string, len(sent))
	for i, s := range sent {
		out[i] = s.Text
	}
	return out
}

// messageWorkflowID is the ID of the MessageWorkflow of a message from user.
func (h *harness) messageWorkflowID(user, messageID string) string {
	chat := types.NewJID(user, types.DefaultUserServer).String()
	return workflows.MessageWorkflowID(h.account, h.deps.Hasher.Hash(chat), messageID)
}

// waitClosed waits for a workflow to close and returns its status.
func (h *harness) waitClosed(id string, timeout time.Duration) enums.WorkflowExecutionStatus {
	h.t.Helper()
	var status enums.WorkflowExecutionStatus
	testkit.WaitFor(h.t, timeout, func() bool {
		desc, err := h.deps.Temporal.DescribeWorkflowExecution(h.ctx, id, "")
		if err != nil {
			return false
		}
		status = desc.GetWorkflowExecutionInfo().GetStatus()
		return status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING
	}, "workflow %s did not close", id)
	return status
}

// countRuns counts the runs of a workflow ID, closed or open.
func (h *harness) countRuns(id string) int {
	h.t.Helper()
	resp, err := h.deps.Temporal.ListWorkflow(h.ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: h.cfg.Temporal.Namespace, Query: fmt.Sprintf("WorkflowId = %q", id),
	})
	require.NoError(h.t, err)
	return len(resp.GetExecutions())
}

// lastChatText is the text of the last message of a chat completion request.
func lastChatText(t *testing.T, r openaifake.Request) string {
	t.Helper()
	require.NotNil(t, r.Chat, "not a chat request: %s", r.Path)
	require.NotEmpty(t, r.Chat.Messages)
	return r.Chat.Messages[len(r.Chat.Messages)-1].Text
}

// chatRequests are the chat completion requests the stand-in received.
func (h *harness) chatRequests() []openaifake.Request {
	var out []openaifake.Request
	for _, r := range h.fake.Requests() {
		if r.Chat != nil {
			out = append(out, r)
		}
	}
	return out
}

// waitChatSettled waits until the chat's inbox received n deliveries and has
// nothing queued or running.
func (h *harness) waitChatSettled(user string, n int) workflows.ChatStatus {
	h.t.Helper()
	chat := types.NewJID(user, types.DefaultUserServer).String()
	id := workflows.ChatWorkflowID(h.account, h.deps.Hasher.Hash(chat))
	var st workflows.ChatStatus
	testkit.WaitFor(h.t, waitReply, func() bool {
		v, err := h.deps.Temporal.QueryWorkflow(h.ctx, id, "", workflows.QueryStatus)
		if err != nil || v.Get(&st) != nil {
			return false
		}
		return st.Received >= n && st.Queued == 0 && st.Current == ""
	}, "chat inbox %s did not settle", id)
	return st
}
