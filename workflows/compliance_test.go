package workflows_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/workflows"
)

func TestRetentionCommandRepliesWithoutTheLLM(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var c *activities.Compliance
	env.RegisterActivity(c)
	env.OnActivity(c.Retention, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RetentionInput) (string, error) {
		return "retention " + strings.Join(in.Args, " "), nil
	})
	env.ExecuteWorkflow(workflows.MessageWorkflow, inbound("M1", "/retention set 7"))
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"retention set 7"}, log.texts())
}

func TestWipeCommandAsksForConfirmation(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	env.RegisterWorkflow(workflows.WipeWorkflow)
	var c *activities.Compliance
	env.RegisterActivity(c)
	env.OnWorkflow(workflows.WipeWorkflow, mock.Anything, mock.Anything).Return(workflows.WipeStatus{}, nil).Maybe()
	env.ExecuteWorkflow(workflows.MessageWorkflow, inbound("M1", "/wipe"))
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, log.texts(), 1)
	require.Contains(t, log.texts()[0], "Reply YES within 2 minutes")
}

func TestCommandsInGroupsPointToAPrivateChat(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	in := inbound("M1", "/export")
	in.IsGroup, in.Chat = true, "120363000000000001@g.us"
	env.ExecuteWorkflow(workflows.MessageWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"For your privacy, send /export to me in a private chat."}, log.texts())
}
