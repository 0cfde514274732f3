package activities

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/wabot/wabot/internal/store"
)

// SweepInput is one retention sweep run. Now is fixed by the workflow, so
// every attempt of the run deletes by the same cutoff.
type SweepInput struct {
	RunID string
	Now   time.Time
}

// SweepResult is what a sweep run deleted, per table (all attempts together).
type SweepResult struct {
	Deleted map[string]int64
	Skipped []string // optional tables that do not exist yet
}

// sweepProgress is the heartbeat of a sweep: the table it is at. A retry
// resumes there; the counts live in the database, written with each batch.
type sweepProgress struct {
	Table int
}

// SweepRetention deletes expired rows table by table in batches of
// RETENTION_SWEEP_BATCH, each batch its own short transaction (new messages
// never wait on it), heartbeating after each. After a crash the next attempt
// resumes at the table of the last heartbeat; rows already deleted are gone
// and counted, so the counts add up.
func (c *Compliance) SweepRetention(ctx context.Context, in SweepInput) (SweepResult, error) {
	var prog sweepProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &prog); err != nil {
			prog = sweepProgress{}
		}
	}
	res := SweepResult{}
	for i := prog.Table; i < len(store.SweepTables); i++ {
		st := store.SweepTables[i]
		if st.Optional {
			ok, err := c.store.TableExists(ctx, st.Name)
			if err != nil {
				return SweepResult{}, err
			}
			if !ok {
				res.Skipped = append(res.Skipped, st.Name)
				continue
			}
		}
		for {
			n, err := c.store.SweepBatch(ctx, in.RunID, st, in.Now, c.retention, c.cfg.SweepBatch)
			if err != nil {
				return SweepResult{}, err
			}
			recordHeartbeat(ctx, sweepProgress{Table: i})
			if err := c.hookAfterBatch(st.Name); err != nil {
				return SweepResult{}, err
			}
			if n < int64(c.cfg.SweepBatch) {
				break
			}
			if err := ctx.Err(); err != nil {
				return SweepResult{}, err
			}
		}
	}
	counts, err := c.store.ComplianceCounts(ctx, in.RunID)
	if err != nil {
		return SweepResult{}, err
	}
	res.Deleted = counts
	var total int64
	for _, n := range counts {
		total += n
	}
	c.logger.InfoContext(ctx, "retention sweep done", slog.String("run_id", in.RunID), slog.Int64("deleted", total))
	return res, nil
}

func recordHeartbeat(ctx context.Context, details any) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details)
	}
}

func (c *Compliance) hookAfterBatch(table string) error {
	if c.afterBatch == nil {
		return nil
	}
	return c.afterBatch(table)
}
