package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/workflows"
)

// ScheduleID is the ID of one of the compliance schedules for a task queue
// (one set per deployment; tests use their own queues).
func ScheduleID(base, taskQueue string) string { return base + "-" + taskQueue }

// EnsureSchedules creates the compliance schedules if they are missing and
// brings their interval up to date if they exist: the retention sweep every
// RETENTION_SWEEP_INTERVAL and the audit verification every
// AUDIT_VERIFY_INTERVAL. Overlapping runs are skipped. A schedule an
// operator paused stays paused.
func EnsureSchedules(ctx context.Context, d *Deps) error {
	tq := d.Config.Temporal.TaskQueue
	for _, s := range []struct {
		id, command string
		every       time.Duration
		wf          any
	}{
		{ScheduleID(workflows.ScheduleRetention, tq), "retention_sweep", d.Config.Compliance.SweepInterval, workflows.RetentionSweepWorkflow},
		{ScheduleID(workflows.ScheduleAuditVerify, tq), "audit_verify", d.Config.Compliance.AuditVerifyInterval, workflows.AuditVerifyWorkflow},
	} {
		if err := ensureSchedule(ctx, d, s.id, s.command, s.every, s.wf); err != nil {
			return err
		}
	}
	return nil
}

func ensureSchedule(ctx context.Context, d *Deps, id, command string, every time.Duration, wf any) error {
	sc := d.Temporal.ScheduleClient()
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    spec,
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{
			ID: id, Workflow: wf, TaskQueue: d.Config.Temporal.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SACommand.ValueSet(command)),
		},
	})
	if err == nil {
		d.Logger.InfoContext(ctx, "schedule created", slog.String("schedule_id", id), slog.Duration("every", every))
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("creating schedule %s: %w", id, err)
	}
	err = sc.GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			cur := in.Description.Schedule.Spec
			if cur != nil && len(cur.Intervals) == 1 && cur.Intervals[0].Every == every {
				return nil, temporal.ErrSkipScheduleUpdate
			}
			s := in.Description.Schedule
			s.Spec = &spec
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("updating schedule %s: %w", id, err)
	}
	return nil
}

// NewCompliance builds the compliance activities over d's connections; gov
// (the process's governor) says who is an admin.
func NewCompliance(d *Deps, gov *governance.Governor) (*activities.Compliance, error) {
	return activities.NewCompliance(d.Logger, d.Config.Compliance, d.Config.Bot.Retention, activities.ComplianceDeps{
		Store: d.Store, Audit: audit.New(d.Pool, nil), Redis: d.Redis, RedisPrefix: d.Config.Redis.KeyPrefix,
		Temporal: d.Temporal, Namespace: d.Config.Temporal.Namespace, Hash: d.Hasher.Hash,
		OnAuditVerified: d.Alerts.AuditVerified,
		IsAdmin: func(ctx context.Context, jid string) bool {
			r, err := gov.RoleOf(ctx, jid)
			return err == nil && r.AtLeast(governance.RoleAdmin)
		},
	})
}

// RegisterCompliance registers the compliance workflows and activities.
func RegisterCompliance(w worker.Registry, c *activities.Compliance) {
	w.RegisterWorkflow(workflows.RetentionSweepWorkflow)
	w.RegisterWorkflow(workflows.AuditVerifyWorkflow)
	w.RegisterWorkflow(workflows.ExportWorkflow)
	w.RegisterWorkflow(workflows.WipeWorkflow)
	w.RegisterWorkflow(workflows.DeleteRunWorkflow)
	w.RegisterActivity(c)
}
