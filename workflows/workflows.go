// Package workflows holds the bot's Temporal workflows: ChatWorkflow, the
// per-chat inbox that keeps replies in arrival order, and MessageWorkflow, the
// life of one inbound message. Workflow code is deterministic: it uses only
// workflow.* APIs and reaches the world through activities.
package workflows

import (
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// DefaultTaskQueue is the queue of workflows and AI/store activities.
const DefaultTaskQueue = "wabot-ai"

// GatewayTaskQueue is the queue polled only by the process holding the
// WhatsApp socket of account.
func GatewayTaskQueue(account string) string { return "wabot-gateway-" + account }

// Names of activities that run on a gateway task queue. Workflows call them by
// name because the gateway, which registers them, itself depends on this package.
const (
	ActivitySend     = "Send"
	ActivityPresence = "Presence"
)

// SignalInbound delivers a message.Inbound to a ChatWorkflow.
const SignalInbound = "inbound"

// Search attributes that let operators find runs by chat, kind, command and outcome.
var (
	SAAccount = temporal.NewSearchAttributeKeyKeyword("WabotAccount")
	SAChat    = temporal.NewSearchAttributeKeyKeyword("WabotChat")
	SAKind    = temporal.NewSearchAttributeKeyKeyword("WabotKind")
	SACommand = temporal.NewSearchAttributeKeyKeyword("WabotCommand")
	SAOutcome = temporal.NewSearchAttributeKeyKeyword("WabotOutcome")
)

// SearchAttributes lists every attribute above with its type, for registering
// them on a namespace.
func SearchAttributes() map[string]enums.IndexedValueType {
	m := map[string]enums.IndexedValueType{}
	for _, k := range []temporal.SearchAttributeKeyKeyword{SAAccount, SAChat, SAKind, SACommand, SAOutcome} {
		m[k.GetName()] = enums.INDEXED_VALUE_TYPE_KEYWORD
	}
	return m
}

// ChatWorkflowID is the ID of a chat's inbox workflow. It holds hashes, never
// phone numbers, because IDs stay visible in Temporal.
func ChatWorkflowID(account, chatHash string) string { return "chat-" + account + "-" + chatHash }

// MessageWorkflowID is derived from the WhatsApp message ID, so a redelivered
// message maps to the same workflow and never runs twice.
func MessageWorkflowID(account, chatHash, messageID string) string {
	return "msg-" + account + "-" + chatHash + "-" + messageID
}
