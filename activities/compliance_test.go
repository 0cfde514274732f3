package activities_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/workflows"
)

func testEnv(t *testing.T, f *complianceFixture) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.RetentionSweepWorkflow)
	env.RegisterWorkflow(workflows.ExportWorkflow)
	env.RegisterWorkflow(workflows.WipeWorkflow)
	env.RegisterWorkflow(workflows.DeleteRunWorkflow)
	env.RegisterWorkflow(workflows.AuditVerifyWorkflow)
	env.RegisterActivity(f.comp)
	// Starting the wipe's own deletion needs a Temporal client (the e2e
	// tests run it for real).
	var c *activities.Compliance
	env.OnActivity(c.StartDeleteRun, mock.Anything, mock.Anything).Return(nil)
	env.SetTestTimeout(time.Minute)
	return env
}

// failOnce fails the first batch of table (after it committed), once.
func failOnce(table string) (func(string) error, *atomic.Int32) {
	var fired atomic.Int32
	return func(tb string) error {
		if tb == table && fired.CompareAndSwap(0, 1) {
			return errors.New("injected crash after a committed batch")
		}
		return nil
	}, &fired
}

func (f *complianceFixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.pool.QueryRow(f.ctx, q, args...).Scan(&n))
	return n
}

// seedExpiry inserts n expired and m live rows in messages, memory and usage
// of chat, with created/expires times relative to now.
func (f *complianceFixture) seedExpiry(t *testing.T, chat string, expired, live int) {
	t.Helper()
	now := time.Now()
	for i := range expired + live {
		exp := now.Add(-time.Minute)
		kind := "x"
		if i >= expired {
			exp, kind = now.Add(time.Hour), "live"
		}
		id := chat + "-" + kind + "-" + string(rune('a'+i))
		require.NoError(t, f.store.SaveMessage(f.ctx, store.Message{Account: account, ChatJID: chat, MessageID: id, Role: store.RoleUser,
			Kind: "text", Body: kind, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: exp}))
		require.NoError(t, f.store.AppendMemory(f.ctx, account, chat, exp, store.MemoryEntry{MessageID: id, Role: store.RoleUser, Content: kind, Tokens: 1, CreatedAt: now.Add(-2 * time.Hour)}))
		require.NoError(t, f.store.RecordUsage(f.ctx, store.Usage{Account: account, ChatJID: chat, MessageID: id, Model: kind, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: exp}))
	}
}

func TestSweepDeletesExactlyTheExpired(t *testing.T) {
	t.Parallel()
	f := setupCompliance(t, 2)
	f.seedExpiry(t, jidOf("111"), 5, 3)
	// A chat whose policy (1 day) is shorter than its rows' expiry: its rows
	// older than a day go although their expires_at lies ahead.
	long := jidOf("222")
	require.NoError(t, f.store.SetRetention(f.ctx, account, long, 1, "admin"))
	require.NoError(t, f.store.SaveMessage(f.ctx, store.Message{Account: account, ChatJID: long, MessageID: "old", Role: store.RoleUser,
		Kind: "text", Body: "x", CreatedAt: time.Now().Add(-48 * time.Hour), ExpiresAt: time.Now().Add(24 * time.Hour)}))
	require.NoError(t, f.store.SaveMessage(f.ctx, store.Message{Account: account, ChatJID: long, MessageID: "new", Role: store.RoleUser,
		Kind: "text", Body: "live", CreatedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(24 * time.Hour)}))
	// Delivery records go after the default retention, or the chat's policy.
	require.NoError(t, f.store.MarkSent(f.ctx, account, "R-old", jidOf("111"), time.Now().Add(-31*24*time.Hour)))
	require.NoError(t, f.store.MarkSent(f.ctx, account, "R-new", jidOf("111"), time.Now().Add(-29*24*time.Hour)))
	require.NoError(t, f.store.MarkSent(f.ctx, account, "R-policy", long, time.Now().Add(-25*time.Hour)))
	// Usage without expiry is kept when no policy applies.
	require.NoError(t, f.store.RecordUsage(f.ctx, store.Usage{Account: account, ChatJID: jidOf("333"), MessageID: "keep", Model: "live"}))

	env := testEnv(t, f)
	env.SetStartTime(time.Now())
	env.ExecuteWorkflow(workflows.RetentionSweepWorkflow)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.SweepWorkflowResult
	require.NoError(t, env.GetWorkflowResult(&res))

	require.Equal(t, 4, f.count(t, `SELECT count(*) FROM messages`))
	require.Zero(t, f.count(t, `SELECT count(*) FROM messages WHERE body <> 'live'`))
	require.Equal(t, 3, f.count(t, `SELECT count(*) FROM memory`))
	require.Zero(t, f.count(t, `SELECT count(*) FROM memory WHERE content <> 'live'`))
	require.Equal(t, 4, f.count(t, `SELECT count(*) FROM usage`))
	require.Zero(t, f.count(t, `SELECT count(*) FROM usage WHERE model <> 'live'`))
	require.Equal(t, map[string]int64{"messages": 6, "memory": 5, "usage": 5, "outbound": 2, "blobs": 0, "document_chunks": 0, "exports": 0}, res.Deleted)
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM outbound WHERE reply_id = 'R-new'`))
	require.Empty(t, res.Skipped)

	recs, err := f.audit.Last(f.ctx, 10)
	require.NoError(t, err)
	require.Len(t, recs, 1, "one audit entry per sweep")
	require.Equal(t, "retention.sweep", recs[0].Action)
	require.Equal(t, "18", recs[0].Details["deleted_total"])
}

func TestSweepResumesAfterACrashAndCountsAddUp(t *testing.T) {
	t.Parallel()
	f := setupCompliance(t, 2)
	f.seedExpiry(t, jidOf("111"), 7, 2)
	hook, fired := failOnce("memory")
	activities.SetAfterBatch(f.comp, hook)

	env := testEnv(t, f)
	env.SetStartTime(time.Now())
	env.ExecuteWorkflow(workflows.RetentionSweepWorkflow)
	require.NoError(t, env.GetWorkflowError())
	require.EqualValues(t, 1, fired.Load(), "the first attempt died after one committed batch")
	var res workflows.SweepWorkflowResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, int64(7), res.Deleted["messages"])
	require.Equal(t, int64(7), res.Deleted["memory"], "the batch deleted before the crash is counted once")
	require.Equal(t, int64(7), res.Deleted["usage"])
	require.Equal(t, 2, f.count(t, `SELECT count(*) FROM memory`))
	recs, err := f.audit.Last(f.ctx, 10)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "21", recs[0].Details["deleted_total"])
}

func TestExportHoldsEverythingOfThePersonAndNothingElse(t *testing.T) {
	t.Parallel()
	f := setupCompliance(t, 100)
	f.seedPerson(t, "4915100000001")
	f.seedPerson(t, "4915100000002")
	env := testEnv(t, f)
	subject := jidOf("4915100000001")
	env.ExecuteWorkflow(workflows.ExportWorkflow, workflows.ExportRequest{ExportID: "exp-1", Subject: subject, SubjectHash: f.hasher.Hash(subject), Actor: "operator"})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.ExportResult
	require.NoError(t, env.GetWorkflowResult(&res))

	zipped, err := f.store.ExportZip(f.ctx, "exp-1")
	require.NoError(t, err)
	files := unzip(t, zipped)
	require.Contains(t, files, "README.txt")
	all := ""
	for name, body := range files {
		all += body
		require.NotContains(t, body, "4915100000002", "%s leaks the other user", name)
		require.NotContains(t, body, f.hasher.Hash(jidOf("4915100000002")), "%s leaks the other user's hash", name)
	}
	for _, want := range []string{"body-4915100000001", "reply-4915100000001", "group-4915100000001", "mem-4915100000001",
		"gmem-4915100000001", "settings-4915100000001", "audit-4915100000001", `"days": 90`, `"prompt_tokens": 7`, `"reply_id": "out-4915100000001"`} {
		require.Contains(t, all, want)
	}
	for _, name := range []string{"messages.json", "memory.json", "memory_in_groups.json", "usage.json", "chats.json", "retention_policies.json", "outbound.json", "audit.json"} {
		require.Contains(t, files, name)
	}
	require.NotContains(t, files, "exports.json", "exports are not exported")

	var prog workflows.ExportProgress
	v, err := env.QueryWorkflow(workflows.QueryExportProgress)
	require.NoError(t, err)
	require.NoError(t, v.Get(&prog))
	require.Equal(t, workflows.ExportProgress{Stage: "done", Done: res.Sections, Total: res.Sections}, prog)
	recs, err := f.audit.Last(f.ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "data.export", recs[0].Action)
}

func unzip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	out := map[string]string{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		require.NoError(t, err)
		body, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		out[zf.Name] = string(body)
	}
	return out
}

func TestWipeDeletesEverythingOfThePersonAfterACrash(t *testing.T) {
	t.Parallel()
	f := setupCompliance(t, 1)
	const a, b = "4915100000001", "4915100000002"
	f.seedPerson(t, a)
	f.seedPerson(t, b)
	before := f.rowsAbout(t, b)
	hook, fired := failOnce("messages")
	activities.SetAfterBatch(f.comp, hook)

	env := testEnv(t, f)
	var c *activities.Compliance
	env.OnActivity(c.WipeTemporal, mock.Anything, mock.Anything).Return(3, nil)
	env.ExecuteWorkflow(workflows.WipeWorkflow, workflows.WipeRequest{Subject: jidOf(a), Confirmed: true, Actor: "operator"})
	require.NoError(t, env.GetWorkflowError())
	require.EqualValues(t, 1, fired.Load())
	var st workflows.WipeStatus
	require.NoError(t, env.GetWorkflowResult(&st))
	require.Equal(t, "done", st.Stage)
	require.EqualValues(t, 1, st.RedisKeys)

	for table, n := range f.rowsAbout(t, a) {
		require.Zero(t, n, "rows about the person left in %s", table)
	}
	require.Equal(t, before, f.rowsAbout(t, b), "the other person keeps everything")
	require.Len(t, f.redisKeys(t), 1)
	require.NotContains(t, f.redisKeys(t)[0], f.hasher.Hash(jidOf(a)))

	recs, err := f.audit.Last(f.ctx, 1)
	require.NoError(t, err)
	entry := recs[0]
	require.Equal(t, "data.wipe", entry.Action)
	require.Empty(t, entry.Target)
	require.Equal(t, "operator", entry.Actor)
	for k, v := range entry.Details {
		require.False(t, strings.Contains(v, a) || strings.Contains(v, f.hasher.Hash(jidOf(a))), "personal data in audit detail %s", k)
	}
	require.Equal(t, "3", entry.Details["executions"])
	require.NotEqual(t, "0", entry.Details["deleted_messages"])
}

func TestWipeWithoutConfirmationDeletesNothing(t *testing.T) {
	t.Parallel()
	f := setupCompliance(t, 10)
	const a = "4915100000001"
	f.seedPerson(t, a)
	before := f.rowsAbout(t, a)
	env := testEnv(t, f)
	env.ExecuteWorkflow(workflows.WipeWorkflow, workflows.WipeRequest{Subject: jidOf(a), ConfirmWithin: 2 * time.Minute})
	require.NoError(t, env.GetWorkflowError())
	var st workflows.WipeStatus
	require.NoError(t, env.GetWorkflowResult(&st))
	require.True(t, st.Unconfirmed)
	require.Equal(t, before, f.rowsAbout(t, a))
	require.Len(t, f.redisKeys(t), 1)
}

func TestWipeConfirmedBySignal(t *testing.T) {
	t.Parallel()
	f := setupCompliance(t, 10)
	const a = "4915100000001"
	f.seedPerson(t, a)
	env := testEnv(t, f)
	var c *activities.Compliance
	env.OnActivity(c.WipeTemporal, mock.Anything, mock.Anything).Return(0, nil)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalWipeConfirm, nil) }, 90*time.Second)
	env.ExecuteWorkflow(workflows.WipeWorkflow, workflows.WipeRequest{Subject: jidOf(a), ConfirmWithin: 2 * time.Minute})
	require.NoError(t, env.GetWorkflowError())
	for table, n := range f.rowsAbout(t, a) {
		require.Zero(t, n, table)
	}
}

func TestRetentionCommand(t *testing.T) {
	t.Parallel()
	f := setupCompliance(t, 10)
	user, other := jidOf("4915100000001"), jidOf("4915100000002")
	comp, err := activities.NewCompliance(nopLogger(t), activities.ComplianceConfig{MinDays: 1, MaxDays: 365, Admins: []string{"+49 151 00000009"}},
		30*24*time.Hour, activities.ComplianceDeps{Store: f.store, Audit: f.audit, Hash: f.hasher.Hash})
	require.NoError(t, err)
	ask := func(sender string, args ...string) string {
		t.Helper()
		out, err := comp.Retention(context.Background(), activities.RetentionInput{Account: account, Chat: sender, Sender: sender, Args: args})
		require.NoError(t, err)
		return out
	}
	require.Contains(t, ask(user, "show"), "30 days (the default)")
	require.Contains(t, ask(user, "set", "7"), "set to 7 days")
	require.Contains(t, ask(user), "7 days")
	require.Contains(t, ask(user, "set", "0"), "between 1 and 365")
	require.Contains(t, ask(user, "set", "999"), "between 1 and 365")
	require.Contains(t, ask(user, "set", "5", other), "Only an admin")
	admin := jidOf("4915100000009")
	require.Contains(t, ask(admin, "set", "5", "+49 151 00000002"), "set to 5 days")
	days, err := f.store.Retention(f.ctx, account, other)
	require.NoError(t, err)
	require.Equal(t, 5, days)
	require.Contains(t, ask(user, "frobnicate"), "Usage")
	inGroup, err := comp.Retention(context.Background(), activities.RetentionInput{Account: account, Chat: group, Sender: user, Args: []string{"set", "3"}})
	require.NoError(t, err)
	require.Contains(t, inGroup, "Only an admin")
	recs, err := f.audit.Last(f.ctx, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2, "each change is audited")
}
