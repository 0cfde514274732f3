package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/workflows"
)

// command is a command message as the gateway normalizes it.
func command(id, text string) message.Inbound {
	in := inbound(id, text)
	in.Kind = message.KindCommand
	return in
}

// A command the registry answers in its activity (/retention) is sent as
// RunCommand answered it, without the LLM.
func TestRetentionCommandRepliesWithoutTheLLM(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var a *activities.Activities
	env.OnActivity(a.RunCommand, mock.Anything, mock.Anything).Return(activities.CommandResult{Name: "retention", Text: "Retention of your data set to 7 days."}, nil)
	env.ExecuteWorkflow(workflows.MessageWorkflow, command("M1", "/retention set 7"))
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"Retention of your data set to 7 days."}, log.texts())
}

// /wipe: the registry names the route "wipe"; the route starts the
// WipeWorkflow, which asks for a YES.
func TestWipeCommandAsksForConfirmation(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	env.RegisterWorkflow(workflows.WipeWorkflow)
	var c *activities.Compliance
	env.RegisterActivity(c)
	var a *activities.Activities
	env.OnActivity(a.RunCommand, mock.Anything, mock.Anything).Return(activities.CommandResult{Name: "wipe", Route: activities.RouteWipe}, nil)
	started := false
	env.OnWorkflow(workflows.WipeWorkflow, mock.Anything, mock.Anything).Return(func(workflow.Context, workflows.WipeRequest) (workflows.WipeStatus, error) {
		started = true
		return workflows.WipeStatus{}, nil
	})
	env.ExecuteWorkflow(workflows.MessageWorkflow, command("M1", "/wipe"))
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, log.texts(), 1)
	require.Contains(t, log.texts()[0], "Reply YES within 2 minutes")
	require.True(t, started)
	var res workflows.MessageResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "wipe", res.Command)
}

// A refused command (here /export in a group: the registry's Direct) is
// answered with the refusal; its route never runs.
func TestRefusedCommandNeverRunsItsRoute(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	env.RegisterWorkflow(workflows.ExportWorkflow)
	var a *activities.Activities
	refusal := activities.CommandResult{Name: "export", Route: activities.RouteExport, Code: errcode.Forbidden,
		Text: errcode.UserMessage(errcode.Forbidden) + "\nFor your privacy, send /export to me in a private chat."}
	env.OnActivity(a.RunCommand, mock.Anything, mock.Anything).Return(refusal, nil)
	in := command("M1", "/export")
	in.IsGroup, in.Chat = true, "120363000000000001@g.us"
	env.ExecuteWorkflow(workflows.MessageWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{refusal.Text}, log.texts())
	var res workflows.MessageResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, errcode.Forbidden, res.Code)
}

// A confirmed wipe deletes rows, keys and histories, tells the person, and
// only then makes each listed gateway's WhatsApp store forget them (a notice
// sent later would create a new session); the audit entry counts it all.
func TestWipeForgetsTheContactLastOnEachGateway(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.WipeWorkflow)
	var c *activities.Compliance
	env.RegisterActivity(c)
	log := &sendLog{}
	env.RegisterActivityWithOptions(log.send, activity.RegisterOptions{Name: workflows.ActivitySend})
	var order []string
	var forgot []string
	env.RegisterActivityWithOptions(func(ctx context.Context, subject string) (int64, error) {
		order = append(order, "forget after "+strings.Join(log.texts(), " | "))
		forgot = append(forgot, activity.GetInfo(ctx).TaskQueue+" "+subject)
		return 11, nil
	}, activity.RegisterOptions{Name: workflows.ActivityForgetContact})
	env.OnActivity(c.WipeRows, mock.Anything, mock.Anything).Return(func(context.Context, activities.WipeInput) (map[string]int64, error) {
		order = append(order, "rows")
		return map[string]int64{"messages": 3}, nil
	})
	env.OnActivity(c.WipeRedis, mock.Anything, mock.Anything).Return(int64(2), nil)
	var reap activities.DeleteRunStart
	env.OnActivity(c.StartDeleteRun, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DeleteRunStart) error {
		reap = in
		return nil
	})
	env.OnActivity(c.WipeTemporal, mock.Anything, mock.Anything).Return(4, nil)
	var audited activities.AuditInput
	env.OnActivity(c.Audit, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AuditInput) (int64, error) {
		audited = in
		return 9, nil
	})

	env.ExecuteWorkflow(workflows.WipeWorkflow, workflows.WipeRequest{Account: "acct", Subject: "15550100@s.whatsapp.net",
		Confirmed: true, Notify: true, Actor: "user", ForgetOn: []string{"acct", "second"}})
	require.NoError(t, env.GetWorkflowError())
	var st workflows.WipeStatus
	require.NoError(t, env.GetWorkflowResult(&st))
	require.Equal(t, []string{
		workflows.GatewayTaskQueue("acct") + " 15550100@s.whatsapp.net",
		workflows.GatewayTaskQueue("second") + " 15550100@s.whatsapp.net",
	}, forgot)
	require.Len(t, order, 4)
	require.Contains(t, order[2], "Done: everything I stored about you is deleted.", "forgotten after the last notice")
	require.Equal(t, int64(22), st.TransportRecords)
	require.Equal(t, "done", st.Stage)
	require.Equal(t, "22", audited.Entry.Details["transport_records"])
	require.NotContains(t, fmt.Sprint(audited.Entry.Details), "15550100")
	require.NotEmpty(t, reap.RunID, "the wipe's own run is deleted afterwards")
	require.Equal(t, time.Minute, reap.After)
	require.Equal(t, "DeleteRunWorkflow", reap.Workflow, "the registered name of workflows.DeleteRunWorkflow")
	require.Equal(t, "wipe-"+reap.RunID, audited.RunID, "the run's key holds no workflow ID (it names the person's hash)")
}

// DeleteRunWorkflow waits its grace period, then deletes the run, retrying
// while the run is still open.
func TestDeleteRunWorkflowWaitsThenRetriesUntilClosed(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.DeleteRunWorkflow)
	var c *activities.Compliance
	env.RegisterActivity(c)
	start := env.Now()
	var calls []time.Duration
	env.OnActivity(c.DeleteClosedRun, mock.Anything, "run-1").Return(func(context.Context, string) (bool, error) {
		calls = append(calls, env.Now().Sub(start))
		if len(calls) < 3 {
			return false, errors.New("run is still open")
		}
		return true, nil
	})
	env.ExecuteWorkflow(workflows.DeleteRunWorkflow, workflows.DeleteRunRequest{RunID: "run-1", After: time.Minute})
	require.NoError(t, env.GetWorkflowError())
	var deleted bool
	require.NoError(t, env.GetWorkflowResult(&deleted))
	require.True(t, deleted)
	require.Len(t, calls, 3)
	require.GreaterOrEqual(t, calls[0], time.Minute, "not before the grace period")
}
