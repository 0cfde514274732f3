package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/internal/errcode"
)

// localStoreChange is the workflow.GetVersion change ID of running the cheap
// store steps (Admit, RecordTurn) as local activities. Histories recorded
// before it (version DefaultVersion) keep replaying them as activities.
const localStoreChange = "local-store-activities"

// storeLocalOptions mirror storeOptions for a local activity: the same
// timeouts and retry policy. A local activity runs inside the workflow task
// on the worker that holds the workflow, so a store step costs no task-queue
// round trip (history → matching → poll → complete → next workflow task);
// see BENCHMARKS.md. If the worker dies mid-step, the workflow task times
// out and another worker runs the step again, which the idempotent store
// writes allow.
var storeLocalOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    15 * time.Second,
	ScheduleToCloseTimeout: time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        200 * time.Millisecond,
		BackoffCoefficient:     2,
		MaximumInterval:        30 * time.Second,
		NonRetryableErrorTypes: []string{string(errcode.InvalidArgument)},
	},
}

// executeStore runs a store activity: as a local activity in new runs, as a
// regular activity (storeOptions) when replaying runs from before the change.
func executeStore(ctx workflow.Context, activity any, args ...any) workflow.Future {
	if workflow.GetVersion(ctx, localStoreChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, storeOptions), activity, args...)
	}
	return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, storeLocalOptions), activity, args...)
}
