package gateway

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/workflows"
)

// Config is one gateway's behaviour.
type Config struct {
	Account string // the account name; names the gateway task queue
	// TaskQueue is where workflows run.
	TaskQueue string
	// MaxOfflineAge: messages WhatsApp delivers after a reconnect are answered
	// if they are at most this much older than the connection; older ones
	// (e.g. a backlog when a number is first linked) are skipped.
	MaxOfflineAge time.Duration
	// ChatIdleTimeout ends an idle chat inbox workflow.
	ChatIdleTimeout time.Duration
	// StartTimeout bounds one start/signal call to Temporal.
	StartTimeout time.Duration
}

// workflowStarter is the part of the Temporal client the gateway uses.
type workflowStarter interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
}

// Gateway turns transport events into workflows.
type Gateway struct {
	logger      *slog.Logger
	cfg         Config
	temporal    workflowStarter
	self        Identity
	hasher      logging.Hasher
	now         func() time.Time
	connectedAt atomic.Int64 // unix nanos of the last connection
	accepted    atomic.Int64
}

// New returns a Gateway. now may be nil (time.Now).
func New(logger *slog.Logger, cfg Config, tc workflowStarter, self Identity, hasher logging.Hasher, now func() time.Time) (*Gateway, error) {
	if logger == nil || tc == nil || self == nil {
		return nil, errors.New("gateway: logger, temporal client and identity are required")
	}
	if cfg.Account == "" {
		return nil, errors.New("gateway: account is required")
	}
	cfg.TaskQueue = cmp.Or(cfg.TaskQueue, workflows.DefaultTaskQueue)
	cfg.MaxOfflineAge = cmp.Or(cfg.MaxOfflineAge, 6*time.Hour)
	cfg.ChatIdleTimeout = cmp.Or(cfg.ChatIdleTimeout, 10*time.Minute)
	cfg.StartTimeout = cmp.Or(cfg.StartTimeout, 10*time.Second)
	if now == nil {
		now = time.Now
	}
	g := &Gateway{logger: logger.With(slog.String("account", cfg.Account)), cfg: cfg, temporal: tc, self: self, hasher: hasher, now: now}
	g.connectedAt.Store(now().UnixNano())
	return g, nil
}

// Account is the gateway's account name.
func (g *Gateway) Account() string { return g.cfg.Account }

// Accepted counts messages handed to Temporal since start.
func (g *Gateway) Accepted() int64 { return g.accepted.Load() }

// HandleEvent is the one whatsmeow event dispatcher. It returns false only
// when a message could not be handed to Temporal: whatsmeow then withholds
// the ack and WhatsApp redelivers the message later, so nothing is lost.
func (g *Gateway) HandleEvent(evt any) bool {
	ctx := context.Background()
	switch e := evt.(type) {
	case *events.Message:
		return g.handleMessage(ctx, e)
	case *events.Connected:
		g.connectedAt.Store(g.now().UnixNano())
		g.logger.InfoContext(ctx, "whatsapp connected")
	case *events.Disconnected:
		g.logger.WarnContext(ctx, "whatsapp disconnected; reconnecting")
	case *events.LoggedOut:
		g.logger.ErrorContext(ctx, "whatsapp logged out; link the number again", slog.String("reason", e.Reason.String()))
	case *events.HistorySync:
		g.logger.DebugContext(ctx, "history sync ignored")
	case *events.StreamReplaced:
		g.logger.ErrorContext(ctx, "whatsapp session replaced by another client")
	}
	return true
}

// handleMessage handles one message and reports whether it may be acknowledged.
func (g *Gateway) handleMessage(ctx context.Context, evt *events.Message) bool {
	if evt.Message == nil && evt.RawMessage != nil {
		evt = evt.UnwrapRaw()
	}
	if reason := g.skipReason(evt); reason != "" {
		g.logger.DebugContext(ctx, "message skipped", slog.String("reason", reason), slog.String("message_id", evt.Info.ID))
		return true
	}
	in, ok := g.normalize(evt)
	if !ok {
		g.logger.DebugContext(ctx, "message without content skipped", slog.String("message_id", evt.Info.ID))
		return true
	}
	if err := g.Submit(ctx, in); err != nil {
		g.logger.ErrorContext(ctx, "handing message to temporal failed; not acknowledged",
			slog.String("chat_hash", in.ChatHash), slog.String("message_id", in.ID), slog.Any("error", err))
		return false
	}
	return true
}

// Submit hands an Inbound to its chat's workflow (starting it if needed).
// It returns only after Temporal durably accepted the message.
func (g *Gateway) Submit(ctx context.Context, in message.Inbound) error {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.StartTimeout)
	defer cancel()
	id := workflows.ChatWorkflowID(g.cfg.Account, in.ChatHash)
	opts := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                g.cfg.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SAAccount.ValueSet(g.cfg.Account), workflows.SAChat.ValueSet(in.ChatHash),
		),
	}
	input := workflows.ChatInput{Account: g.cfg.Account, ChatHash: in.ChatHash, IdleTimeout: g.cfg.ChatIdleTimeout}
	if _, err := g.temporal.SignalWithStartWorkflow(ctx, id, workflows.SignalInbound, in, opts, workflows.ChatWorkflow, input); err != nil {
		return err
	}
	g.accepted.Add(1)
	g.logger.InfoContext(ctx, "message accepted", slog.String("chat_hash", in.ChatHash),
		slog.String("message_id", in.ID), slog.String("kind", string(in.Kind)))
	return nil
}

// skipReason says why a message is not for the bot, or "" when it is.
func (g *Gateway) skipReason(evt *events.Message) string {
	info := evt.Info
	switch {
	case info.IsFromMe:
		return "own_message"
	case info.Chat == types.StatusBroadcastJID || info.Chat.Server == types.BroadcastServer:
		return "broadcast"
	case info.Chat.Server == types.NewsletterServer:
		return "newsletter"
	case evt.SourceWebMsg != nil:
		return "history"
	case info.Timestamp.UnixNano() < g.connectedAt.Load()-int64(g.cfg.MaxOfflineAge):
		return "too_old"
	case info.IsGroup && !g.addressedInGroup(evt):
		return "group_not_mentioned"
	}
	return ""
}
