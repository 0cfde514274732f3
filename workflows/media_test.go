package workflows_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/workflows"
)

// TestMediaPathCodes: kinds the bot cannot handle and bad media commands get
// their code and friendly reply, without an LLM call or a download.
func TestMediaPathCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		kind message.Kind
		text string
		code errcode.Code
	}{
		{"sticker", message.KindSticker, "", errcode.UnsupportedMedia},
		{"video", message.KindVideo, "look", errcode.UnsupportedMedia},
		{"location", message.KindLocation, "", errcode.UnsupportedMedia},
		{"contact", message.KindContact, "", errcode.UnsupportedMedia},
		{"poll", message.KindPoll, "", errcode.UnsupportedMedia},
		{"unknown", message.KindUnsupported, "", errcode.UnsupportedMedia},
		{"image without prompt", message.KindCommand, "/image", errcode.InvalidArgument},
		{"askfile without question", message.KindCommand, "/askfile  ", errcode.InvalidArgument},
		{"voice with a bad argument", message.KindCommand, "/voice loud", errcode.InvalidArgument},
		{"image without media", message.KindImage, "", errcode.MediaCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, log := mediaSetup(t)
			var m *activities.MediaActivities
			env.OnActivity(m.Settings, mock.Anything, mock.Anything).Return(activities.MediaSettings{}, nil)
			in := inbound("M1", tc.text)
			in.Kind = tc.kind
			env.ExecuteWorkflow(workflows.MessageWorkflow, in)
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var res workflows.MessageResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.Equal(t, tc.code, res.Code)
			require.Equal(t, []string{errcode.UserMessage(tc.code)}, log.texts())
		})
	}
}

// TestVoiceNoteWorkflow: download → transcript → LLM turn with the
// transcript → text reply, and the transcript echoed first when asked.
func TestVoiceNoteWorkflow(t *testing.T) {
	t.Parallel()
	env, log := mediaSetup(t)
	var m *activities.MediaActivities
	var a *activities.Activities
	env.OnActivity(m.Settings, mock.Anything, mock.Anything).Return(activities.MediaSettings{EchoTranscript: true}, nil)
	env.OnActivity(m.Transcribe, mock.Anything, message.BlobKey("acct", "V1")).Return("hello from a voice note", nil)
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(echo)
	in := inbound("V1", "")
	in.Kind, in.Media = message.KindVoice, &message.Media{Mimetype: "audio/ogg; codecs=opus", PTT: true}
	env.ExecuteWorkflow(workflows.MessageWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"🎤 hello from a voice note", "re: hello from a voice note"}, log.texts())
}

// mediaSetup is setup plus the media activities: the AI ones to mock, and
// a FetchMedia on the gateway queue that stores nothing.
func mediaSetup(t *testing.T) (*testsuite.TestWorkflowEnvironment, *sendLog) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.MessageWorkflow)
	var a *activities.Activities
	var m *activities.MediaActivities
	env.RegisterActivity(a)
	env.RegisterActivity(m)
	log := &sendLog{}
	env.RegisterActivityWithOptions(log.send, activity.RegisterOptions{Name: workflows.ActivitySend})
	env.RegisterActivityWithOptions(func(context.Context, string, string, bool) error { return nil },
		activity.RegisterOptions{Name: workflows.ActivityPresence})
	env.RegisterActivityWithOptions(func(_ context.Context, req message.FetchRequest) (message.FetchedMedia, error) {
		return message.FetchedMedia{BlobKey: message.BlobKey(req.Account, req.MessageID), Mime: "audio/ogg"}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityFetchMedia})
	env.OnActivity(a.Admit, mock.Anything, mock.Anything).Return(activities.Admission{Answer: true}, nil).Maybe()
	env.OnActivity(a.RecordTurn, mock.Anything, mock.Anything).Return(nil).Maybe()
	// The registry hands media commands to the media route (the route
	// checks their arguments again: a worker may run an older registry).
	env.OnActivity(a.RunCommand, mock.Anything, mock.Anything).Return(activities.CommandResult{Route: activities.RouteMedia}, nil).Maybe()
	return env, log
}
