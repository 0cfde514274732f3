package e2e_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/operator"
	"github.com/wabot/wabot/internal/payloadcodec"
	"github.com/wabot/wabot/internal/testkit"
	"github.com/wabot/wabot/workflows"
)

// The independent erasure check. It does not ask the product where a
// person's data is (store.PersonTables, ExportRows, the person-column
// convention): it searches every column of every table in the database's
// catalog, every Redis key under the bot's prefix, and Temporal's
// visibility store and histories for anything that identifies the person.
// A table added later that the wipe forgets fails these tests by name.

// erasureExceptions are the places the README ("What remains after a
// wipe") says keep something about a wiped person, and exactly what: the
// append-only, hash-chained audit log keeps earlier entries naming the
// person's keyed hash as actor or target. Nothing else is allowed.
var erasureExceptions = []testkit.Exception{
	{Table: "audit_log", Column: "actor", Kinds: []string{kindHash}, Why: "audit log is append-only (README: What remains after a wipe)"},
	{Table: "audit_log", Column: "target", Kinds: []string{kindHash}, Why: "audit log is append-only (README: What remains after a wipe)"},
}

// notExported are the tables whose rows about the person an export does not
// repeat: the export's own bookkeeping (the ZIP being built and its files).
var notExported = []testkit.Exception{
	{Table: "exports", Column: "*", Kinds: []string{"export"}, Why: "the export itself"},
	{Table: "export_files", Column: "*", Kinds: []string{"export"}, Why: "the export's files being gathered"},
}

const kindHash = "keyed hash"

// person is everything that identifies one test user.
type person struct {
	user    string // digits
	marker  string // a text only this person sent
	needles []testkit.Needle
}

func (h *harness) person(user string) person {
	lid := "1" + user[len(user)-9:] + "77@lid" // the LID form of the person's JID
	p := person{user: user, marker: "zqxmarker" + strings.ReplaceAll(testkit.Name(""), "-", "")}
	p.needles = []testkit.Needle{
		{Kind: "phone number", Value: user},
		{Kind: "phone JID", Value: jid(user)},
		{Kind: "LID", Value: lid},
		{Kind: kindHash, Value: h.deps.Hasher.Hash(jid(user))},
		{Kind: kindHash, Value: h.deps.Hasher.Hash(lid)},
		{Kind: "marker text", Value: p.marker},
	}
	return p
}

// useEverything has the person leave data in as many places as a user can:
// text with memory and usage, a document (blob + searchable chunks), a
// retention policy, rate-limit counters.
func (h *harness) useEverything(p person) {
	h.t.Helper()
	h.say(p.user, "E2EERA"+p.user[len(p.user)-4:]+"1", "please remember "+p.marker)
	res := h.sendMedia(p.user, "E2EERA"+p.user[len(p.user)-4:]+"2", "", &localchat.Attachment{
		Kind: localchat.KindDocument, Mime: "text/plain", FileName: p.marker + ".txt",
		Data: []byte("My notes. The code word is " + p.marker + ".\n"),
	})
	require.Empty(h.t, res.Code)
	h.say(p.user, "E2EERA"+p.user[len(p.user)-4:]+"3", "/retention set 30")
}

// found is every row of the database holding one of the person's needles.
func (h *harness) found(p person) []testkit.FoundRow {
	h.t.Helper()
	rows, err := testkit.ScanDatabase(h.ctx, h.pool, p.needles)
	require.NoError(h.t, err)
	return rows
}

// requireExported checks that the export's files hold every row found.
func (h *harness) requireExported(rows []testkit.FoundRow, zipBytes []byte) {
	h.t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipBytes), int64(len(zipBytes)))
	require.NoError(h.t, err)
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(h.t, err)
		files[f.Name], err = io.ReadAll(rc)
		require.NoError(h.t, err)
		require.NoError(h.t, rc.Close())
	}
	require.NotEmpty(h.t, rows, "the scan found nothing about the person before the export")
	misses, err := testkit.ExportMisses(rows, files, notExported)
	require.NoError(h.t, err)
	require.Empty(h.t, misses, "the export is incomplete:\n%s", strings.Join(misses, "\n"))
}

// leftovers lists what the independent scan still finds about the person in
// the database, Redis and Temporal; String() is the failure message.
type leftovers []string

func (l leftovers) String() string {
	return fmt.Sprintf("%d traces of the wiped person remain:\n  %s", len(l), strings.Join(l, "\n  "))
}

func (h *harness) traces(p person) leftovers {
	h.t.Helper()
	out := leftovers(testkit.Leftovers(h.found(p), erasureExceptions))
	redisHits, err := testkit.ScanRedis(h.ctx, h.deps.Redis, h.cfg.Redis.KeyPrefix, p.needles)
	require.NoError(h.t, err)
	out = append(out, redisHits...)
	return append(out, h.temporalTraces(p)...)
}

// requireErased waits (Temporal's visibility store follows deletions
// asynchronously) until the scan finds nothing, and fails naming every
// trace left when it does not.
func (h *harness) requireErased(p person) {
	h.t.Helper()
	var last leftovers
	testkit.WaitFor(h.t, 3*time.Minute, func() bool {
		last = h.traces(p)
		return len(last) == 0
	}, &lastTraces{&last})
}

type lastTraces struct{ l *leftovers }

func (l *lastTraces) String() string { return l.l.String() }

// temporalTraces searches Temporal for the person: executions listed under
// their hashes, and every execution of the harness's task queue (IDs, search
// attributes, memos, and every payload of its history, decrypted).
func (h *harness) temporalTraces(p person) []string {
	h.t.Helper()
	var out []string
	keys, err := payloadcodec.ParseKeys(TestPayloadKeys)
	require.NoError(h.t, err)
	codec, err := payloadcodec.New(keys)
	require.NoError(h.t, err)
	for _, n := range p.needles {
		if n.Kind != kindHash {
			continue
		}
		for _, e := range h.listAll(fmt.Sprintf("WabotChat = %q", n.Value)) {
			out = append(out, fmt.Sprintf("temporal visibility lists %s under WabotChat = the person's %s", e.GetExecution().GetWorkflowId(), n.Kind))
		}
	}
	for _, e := range h.listAll(fmt.Sprintf("TaskQueue = %q", h.cfg.Temporal.TaskQueue)) {
		id := e.GetExecution().GetWorkflowId()
		text, err := decodedText(h.ctx, codec, e)
		require.NoError(h.t, err)
		for _, n := range p.needles {
			if strings.Contains(text, n.Value) {
				out = append(out, fmt.Sprintf("temporal visibility record of %s (ID, search attributes or memo) holds the person's %s %q", id, n.Kind, n.Value))
			}
		}
		iter := h.deps.Temporal.GetWorkflowHistory(h.ctx, id, e.GetExecution().GetRunId(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if _, gone := errors.AsType[*serviceerror.NotFound](err); gone {
				break // deleted; the visibility record lags
			}
			require.NoError(h.t, err)
			text, err := decodedText(h.ctx, codec, ev)
			require.NoError(h.t, err)
			for _, n := range p.needles {
				if strings.Contains(text, n.Value) {
					out = append(out, fmt.Sprintf("temporal history of %s (event %d, %s) holds the person's %s %q", id, ev.GetEventId(), ev.GetEventType(), n.Kind, n.Value))
				}
			}
		}
	}
	return out
}

// listAll lists every execution matching query, all pages.
func (h *harness) listAll(query string) []*workflowpb.WorkflowExecutionInfo {
	h.t.Helper()
	var out []*workflowpb.WorkflowExecutionInfo
	var token []byte
	for {
		resp, err := h.deps.Temporal.ListWorkflow(h.ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: h.cfg.Temporal.Namespace, Query: query, PageSize: 500, NextPageToken: token,
		})
		require.NoError(h.t, err)
		out = append(out, resp.GetExecutions()...)
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out
		}
	}
}

// decodedText is a proto message as text with every payload decrypted and
// its data appended in the clear (protojson would show it as base64).
func decodedText(ctx context.Context, codec *payloadcodec.Codec, msg proto.Message) (string, error) {
	var plain strings.Builder
	err := proxy.VisitPayloads(ctx, msg, proxy.VisitPayloadsOptions{
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			dec, err := codec.Decode(ps)
			if err != nil {
				return nil, err
			}
			for _, p := range dec {
				plain.Write(p.GetData())
				plain.WriteByte('\n')
			}
			return ps, nil
		},
	})
	if err != nil {
		return "", err
	}
	b, err := protojson.Marshal(msg)
	if err != nil {
		return "", err
	}
	return string(b) + "\n" + plain.String(), nil
}

// TestWipeLeavesNoTraceAnywhere: a person uses the bot (text, a document, a
// retention policy), exports (the export must hold every row the catalog
// scan finds about them), wipes over WhatsApp, and then nothing identifying
// them is left in any table, Redis key or Temporal execution — except the
// README's documented audit-log hashes. Another person keeps everything.
func TestWipeLeavesNoTraceAnywhere(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	p, other := h.person("4915100000061"), h.person("4915100000062")
	h.useEverything(p)
	h.useEverything(other)
	before := h.found(p)
	require.NotEmpty(t, testkit.Leftovers(before, nil), "the scan finds the person before the wipe")
	h.say(p.user, "E2EERA00064", "/export")
	doc := h.waitSent(p.user, func(s localchat.Sent) bool { return s.FileName != "" })
	h.requireExported(before, doc.Document)
	otherBefore := len(h.found(other))

	h.say(p.user, "E2EERA00065", "/wipe")
	h.waitSent(p.user, func(s localchat.Sent) bool { return strings.Contains(s.Text, "Reply YES") })
	h.say(p.user, "E2EERA00066", "YES")
	wipeID := workflows.WipeWorkflowID(h.account, h.deps.Hasher.Hash(jid(p.user)))
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(wipeID, 60*time.Second))
	h.requireErased(p)
	require.Len(t, h.found(other), otherBefore, "the other person's rows are untouched")
}

// TestAdminWipeLeavesNoTraceAnywhere is the same check through the
// operator's path: `wabot admin export` writes a file holding every row the
// scan finds, `wabot admin wipe` leaves nothing.
func TestAdminWipeLeavesNoTraceAnywhere(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	p := h.person("4915100000071")
	h.useEverything(p)

	before := h.found(p)
	path := filepath.Join(t.TempDir(), "export.zip")
	var out bytes.Buffer
	_, err := operator.Export(h.ctx, h.deps, "+"+p.user, path, &out)
	require.NoError(t, err)
	zipBytes, err := os.ReadFile(path)
	require.NoError(t, err)
	h.requireExported(before, zipBytes)

	st, err := operator.Wipe(h.ctx, h.deps, p.user, &out)
	require.NoError(t, err)
	require.Equal(t, "done", st.Stage)
	h.requireErased(p)
}
