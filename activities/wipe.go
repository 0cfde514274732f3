package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/wabot/wabot/internal/store"
)

// WipeInput is one wipe run of one person's data.
type WipeInput struct {
	RunID   string
	Subject string // the person's JID
	// Except is a workflow ID to leave alone in Temporal (the wipe itself).
	Except string
}

// visibilityLag bounds how long WipeTemporal waits for deleted executions
// to leave the visibility store.
const visibilityLag = 15 * time.Second

// wipeProgress is the heartbeat of WipeRows: the step it is at.
type wipeProgress struct {
	Step int
}

// WipeRows deletes every row about the person from every table with a person
// column (and their memory entries in groups, first, while their messages
// still identify them), in bounded batches with the counts kept per run.
// Deleting what is already gone deletes nothing, so a retry after a crash
// finishes the job.
func (c *Compliance) WipeRows(ctx context.Context, in WipeInput) (map[string]int64, error) {
	if in.Subject == "" || in.RunID == "" {
		return nil, errors.New("wipe: subject and run id are required")
	}
	tables, err := c.store.PersonTables(ctx)
	if err != nil {
		return nil, err
	}
	steps := append([]store.PersonTable{{Name: store.GroupMemoryTable}}, tables...)
	var prog wipeProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &prog)
	}
	for i := prog.Step; i < len(steps); i++ {
		for {
			n, err := c.store.WipeBatch(ctx, in.RunID, steps[i], in.Subject, c.cfg.SweepBatch)
			if err != nil {
				return nil, err
			}
			recordHeartbeat(ctx, wipeProgress{Step: i})
			if err := c.hookAfterBatch(steps[i].Name); err != nil {
				return nil, err
			}
			if n < int64(c.cfg.SweepBatch) {
				break
			}
		}
	}
	return c.store.ComplianceCounts(ctx, in.RunID)
}

// WipeRedis deletes the person's Redis keys: every key under the configured
// prefix that contains their identity hash or their number (the convention
// for per-person keys such as rate limits and sessions).
func (c *Compliance) WipeRedis(ctx context.Context, in WipeInput) (int64, error) {
	if c.redis == nil {
		return 0, nil
	}
	var deleted int64
	for _, needle := range []string{c.hash(in.Subject), digits(in.Subject)} {
		if needle == "" {
			continue
		}
		iter := c.redis.Scan(ctx, 0, c.redisPrefix+"*"+needle+"*", 500).Iterator()
		var batch []string
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			n, err := c.redis.Del(ctx, batch...).Result()
			deleted += n
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) >= 500 {
				if err := flush(); err != nil {
					return deleted, fmt.Errorf("deleting redis keys: %w", err)
				}
			}
		}
		if err := iter.Err(); err != nil {
			return deleted, fmt.Errorf("scanning redis keys: %w", err)
		}
		if err := flush(); err != nil {
			return deleted, fmt.Errorf("deleting redis keys: %w", err)
		}
	}
	return deleted, nil
}

// WipeTemporal deletes every workflow execution whose WabotChat search
// attribute is the person's hash (their chat inbox, message and export runs),
// running ones included, with their histories. Visibility is eventually
// consistent: the activity lists again until nothing is left, heartbeating.
func (c *Compliance) WipeTemporal(ctx context.Context, in WipeInput) (int, error) {
	if c.temporal == nil {
		return 0, errors.New("wipe: no temporal client")
	}
	query := fmt.Sprintf("WabotChat = %q", c.hash(in.Subject))
	deleted := 0
	done := map[string]bool{} // run IDs deleted by this attempt
	lagSince := time.Time{}
	for {
		resp, err := c.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: c.namespace, Query: query, PageSize: 200,
		})
		if err != nil {
			return deleted, fmt.Errorf("listing the person's workflows: %w", err)
		}
		listed, fresh := 0, 0
		for _, e := range resp.GetExecutions() {
			ex := e.GetExecution()
			if ex.GetWorkflowId() == in.Except {
				continue
			}
			listed++
			if e.GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
				// Terminate first and delete once closed: deleting a running
				// execution races its close record against the delete in the
				// visibility queue and can leave a record behind.
				err := c.temporal.TerminateWorkflow(ctx, ex.GetWorkflowId(), ex.GetRunId(), "personal data wiped")
				if err == nil {
					fresh++
					continue
				}
				if _, gone := errors.AsType[*serviceerror.NotFound](err); !gone {
					return deleted, fmt.Errorf("terminating workflow execution: %w", err)
				}
				// Closed meanwhile (visibility still says running): delete it.
			}
			if done[ex.GetRunId()] {
				continue
			}
			_, err := c.temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
				Namespace: c.namespace, WorkflowExecution: ex,
			})
			if _, gone := errors.AsType[*serviceerror.NotFound](err); err != nil && !gone {
				return deleted, fmt.Errorf("deleting workflow execution: %w", err)
			}
			done[ex.GetRunId()] = true
			deleted++
			fresh++
			recordHeartbeat(ctx, deleted)
		}
		if listed == 0 {
			break
		}
		if fresh > 0 {
			lagSince = time.Time{}
			continue
		}
		// Only executions already deleted are listed: visibility lags. Wait
		// for it a while; what it still shows after that is gone anyway.
		if lagSince.IsZero() {
			lagSince = time.Now()
		} else if time.Since(lagSince) > visibilityLag {
			break
		}
		recordHeartbeat(ctx, deleted)
		select {
		case <-ctx.Done():
			return deleted, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	c.logger.InfoContext(ctx, "workflow histories deleted", slog.String("run_id", in.RunID), slog.Int("count", deleted))
	return deleted, nil
}

// DeleteRunStart starts the workflow (by its registered name) that deletes
// a finished wipe's own run; its input is the run ID and a grace period.
type DeleteRunStart struct {
	Workflow string
	RunID    string
	After    time.Duration
}

// StartDeleteRun starts a DeleteRunWorkflow on this activity's task queue,
// with no parent: a child's start event and visibility record would name
// the wipe, whose workflow ID holds the person's hash. Starting it again
// (a retry) finds it started and succeeds.
func (c *Compliance) StartDeleteRun(ctx context.Context, in DeleteRunStart) error {
	if c.temporal == nil {
		return errors.New("delete run: no temporal client")
	}
	_, err := c.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "delete-run-" + in.RunID, TaskQueue: activity.GetInfo(ctx).TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, in.Workflow, struct {
		RunID string
		After time.Duration
	}{in.RunID, in.After})
	if err != nil {
		return fmt.Errorf("starting the deletion of run %s: %w", in.RunID, err)
	}
	return nil
}

// DeleteClosedRun deletes one workflow execution, found by its run ID alone,
// once it has closed: a finished wipe's own run, whose history names the
// person it wiped. It returns false when no such run is listed (deleted
// already). A run still open is a retryable error: the caller retries until
// it closed.
func (c *Compliance) DeleteClosedRun(ctx context.Context, runID string) (bool, error) {
	if c.temporal == nil {
		return false, errors.New("delete run: no temporal client")
	}
	resp, err := c.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: c.namespace, Query: fmt.Sprintf("RunId = %q", runID), PageSize: 1,
	})
	if err != nil {
		return false, fmt.Errorf("finding run: %w", err)
	}
	if len(resp.GetExecutions()) == 0 {
		return false, nil
	}
	e := resp.GetExecutions()[0]
	if e.GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return false, errors.New("run is still open")
	}
	_, err = c.temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: c.namespace, WorkflowExecution: e.GetExecution(),
	})
	if _, gone := errors.AsType[*serviceerror.NotFound](err); err != nil && !gone {
		return false, fmt.Errorf("deleting run: %w", err)
	}
	c.logger.InfoContext(ctx, "closed run deleted", slog.String("run_id", runID))
	return true, nil
}
