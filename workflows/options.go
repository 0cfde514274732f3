package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/internal/errcode"
)

// gatewayHeartbeatTimeout is how soon an attempt of a gateway activity is
// given up when its gateway stops heartbeating (gateway.Heartbeats beats
// every second).
const gatewayHeartbeatTimeout = 10 * time.Second

// Activity options, one set per kind of work. Every activity has explicit
// timeouts and a retry policy; errors whose type is listed as non-retryable
// fail at once (activities also mark such errors non-retryable themselves).
var (
	// storeOptions: short PostgreSQL/Redis work. Retries until the database is
	// back, for up to an hour, so an outage delays replies but loses none.
	storeOptions = workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        200 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			NonRetryableErrorTypes: []string{string(errcode.InvalidArgument)},
		},
	}
	// llmOptions: one LLM call. It heartbeats while waiting, so a dead worker
	// is noticed within HeartbeatTimeout rather than StartToCloseTimeout.
	llmOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    5 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
			MaximumAttempts:    5,
			NonRetryableErrorTypes: []string{
				string(errcode.LLMRejected), string(errcode.LLMRefused), string(errcode.InvalidArgument),
			},
		},
	}
	// sendOptions: delivery through the gateway's socket. The reply ID is fixed
	// before the first attempt, so retries never double-send. Retries for a day:
	// a gateway that is down (phone offline, re-linking) delays, never drops.
	// Every gateway activity heartbeats (gateway.Heartbeats): an attempt lost
	// with its gateway (a crash, or a stop after the task was polled) is
	// retried after HeartbeatTimeout, not after StartToCloseTimeout.
	sendOptions = workflow.ActivityOptions{
		ScheduleToStartTimeout: 24 * time.Hour,
		StartToCloseTimeout:    90 * time.Second,
		HeartbeatTimeout:       gatewayHeartbeatTimeout,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{string(errcode.InvalidArgument)},
		},
	}
	// deleteRunOptions: deleting a finished wipe's run, retried while it is
	// still open, for up to a day.
	deleteRunOptions = workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}
	// presenceOptions: best effort; a typing indicator that is late is useless.
	presenceOptions = workflow.ActivityOptions{
		ScheduleToCloseTimeout: 10 * time.Second,
		StartToCloseTimeout:    5 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	}
)
