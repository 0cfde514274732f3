package gateway

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"strings"
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
	// ViewOnce lets view-once media be downloaded and shown to a model like
	// any other; off, it gets a polite VIEW_ONCE reply instead.
	ViewOnce bool
	// BurstWindow, BurstMax and TakeoverPause start each chat's inbox
	// (workflows.ChatInput): see there.
	BurstWindow, BurstMax, TakeoverPause time.Duration
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
	receipts    *Receipts    // nil: no reactions, no quoting of overtaken messages
	ownSends    sentLog      // the bot's own replies, to tell them from the owner's messages
	connectedAt atomic.Int64 // unix nanos of the last connection
	accepted    atomic.Int64
}

// WithReceipts makes the gateway note accepted messages in r (reaction on
// receipt, quoting of overtaken messages); give the same r to the Activities.
func (g *Gateway) WithReceipts(r *Receipts) *Gateway {
	g.receipts = r
	return g
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

// WithOwnSends lets the gateway recognise the bot's own replies (recorded
// in s by Send) among the account's messages, so only messages the owner
// typed on the phone count as a takeover.
func (g *Gateway) WithOwnSends(s sentLog) *Gateway {
	g.ownSends = s
	return g
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
	raw := evt.Message
	if raw == nil {
		raw = evt.RawMessage
	}
	c := unwrap(raw)
	c.viewOnce = c.viewOnce || evt.IsViewOnce
	c.edit = c.edit || evt.IsEdit
	if evt.Info.IsFromMe {
		return g.handleOwn(ctx, evt, c)
	}
	if reason := g.skipReason(evt, c); reason != "" {
		g.logger.DebugContext(ctx, "message skipped", slog.String("reason", reason), slog.String("message_id", evt.Info.ID))
		return true
	}
	in, ok := g.normalize(evt, c)
	if !ok {
		g.logger.DebugContext(ctx, "message without content skipped", slog.String("message_id", evt.Info.ID))
		return true
	}
	if err := g.Submit(ctx, in); err != nil {
		g.logger.ErrorContext(ctx, "handing message to temporal failed; not acknowledged",
			slog.String("chat_hash", in.ChatHash), slog.String("message_id", in.ID), slog.Any("error", err))
		return false
	}
	g.receipts.Accepted(in)
	return true
}

// Submit hands an Inbound to its chat's workflow (starting it if needed).
// It returns only after Temporal durably accepted the message.
func (g *Gateway) Submit(ctx context.Context, in message.Inbound) error {
	if err := g.signal(ctx, in.ChatHash, workflows.SignalInbound, in); err != nil {
		return err
	}
	g.accepted.Add(1)
	g.logger.InfoContext(ctx, "message accepted", slog.String("chat_hash", in.ChatHash),
		slog.String("message_id", in.ID), slog.String("kind", string(in.Kind)))
	return nil
}

// signal signals-with-start a chat's inbox workflow.
func (g *Gateway) signal(ctx context.Context, chatHash, name string, arg any) error {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.StartTimeout)
	defer cancel()
	id := workflows.ChatWorkflowID(g.cfg.Account, chatHash)
	opts := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                g.cfg.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SAAccount.ValueSet(g.cfg.Account), workflows.SAChat.ValueSet(chatHash),
		),
	}
	input := workflows.ChatInput{Account: g.cfg.Account, ChatHash: chatHash, IdleTimeout: g.cfg.ChatIdleTimeout,
		BurstWindow: g.cfg.BurstWindow, BurstMax: g.cfg.BurstMax, TakeoverPause: g.cfg.TakeoverPause}
	_, err := g.temporal.SignalWithStartWorkflow(ctx, id, name, arg, opts, workflows.ChatWorkflow, input)
	return err
}

// skipReason says why a message is not for the bot, or "" when it is.
func (g *Gateway) skipReason(evt *events.Message, c content) string {
	info := evt.Info
	switch {
	case info.IsFromMe:
		return "own_message"
	case info.Chat == types.StatusBroadcastJID || info.Chat.Server == types.BroadcastServer:
		return "broadcast"
	case info.Chat.Server == types.NewsletterServer:
		return "newsletter"
	case serviceAccount(info.Chat) || serviceAccount(info.Sender) || c.msg.GetMessageContextInfo().GetBotMetadata() != nil:
		return "bot" // Meta AI, WhatsApp's own notices, other bots: no bot-to-bot loop
	case evt.SourceWebMsg != nil:
		return "history"
	case info.Timestamp.UnixNano() < g.connectedAt.Load()-int64(g.cfg.MaxOfflineAge):
		return "too_old"
	case info.IsGroup && !g.addressedInGroup(c.msg):
		return "group_not_mentioned"
	}
	return ""
}

// serviceAccount reports JIDs that are bots or WhatsApp's own service
// accounts rather than people.
func serviceAccount(j types.JID) bool {
	j = j.ToNonAD()
	return j.IsBot() || j == types.PSAJID || j == types.LegacyPSAJID || j == types.OfficialBusinessJID ||
		j.Server == types.BotServer || (j.User == "" && j.Server == types.DefaultUserServer)
}

// handleOwn handles a message of the linked number itself: typed on the
// owner's phone (a takeover: the bot pauses in that chat; "/bot pause" and
// "/bot resume" say so explicitly), or an echo of the bot's own reply
// (recognised by its ID in the outbound log), which is ignored.
func (g *Gateway) handleOwn(ctx context.Context, evt *events.Message, c content) bool {
	info := evt.Info
	chat := info.Chat.ToNonAD()
	if chat.Server == types.BroadcastServer || chat.Server == types.NewsletterServer || serviceAccount(chat) ||
		evt.SourceWebMsg != nil || g.isSelf(chat.String()) || info.ID == "" {
		return true
	}
	if info.Timestamp.UnixNano() < g.connectedAt.Load()-int64(g.cfg.MaxOfflineAge) {
		return true
	}
	kind, text, _ := classify(c.msg)
	if kind == "" || c.edit {
		return true // a reaction or an edit is no takeover
	}
	if g.ownSends != nil {
		echo, err := g.ownSends.WasSent(ctx, g.cfg.Account, info.ID)
		if err != nil {
			g.logger.ErrorContext(ctx, "checking the outbound log failed; not acknowledged", slog.Any("error", err))
			return false
		}
		if echo {
			return true
		}
	}
	action := workflows.OwnerManual
	switch strings.ToLower(strings.Join(strings.Fields(text), " ")) {
	case "/bot pause", "!bot pause":
		action = workflows.OwnerPause
	case "/bot resume", "!bot resume":
		action = workflows.OwnerResume
	}
	chatHash := g.hasher.Hash(chat.String())
	if err := g.signal(ctx, chatHash, workflows.SignalOwner, workflows.OwnerEvent{Action: action, MessageID: info.ID}); err != nil {
		g.logger.ErrorContext(ctx, "handing owner message to temporal failed; not acknowledged",
			slog.String("chat_hash", chatHash), slog.Any("error", err))
		return false
	}
	g.logger.InfoContext(ctx, "owner wrote in chat", slog.String("chat_hash", chatHash), slog.String("action", action))
	return true
}
