package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/testkit"
)

// tracker records when each message was handed over and when its replies
// went out. Keys are message IDs.
type tracker struct {
	mu      sync.Mutex
	started map[string]time.Time
	replies map[string][]time.Time
	replied atomic.Int64 // messages with at least one reply
	want    map[string]bool
}

func newTracker() *tracker {
	return &tracker{started: map[string]time.Time{}, replies: map[string][]time.Time{}, want: map[string]bool{}}
}

func (tr *tracker) expect(ids []string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, id := range ids {
		tr.want[id] = true
	}
}

func (tr *tracker) start(id string, at time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if _, ok := tr.started[id]; !ok { // a redelivery keeps the first hand-off time
		tr.started[id] = at
	}
}

func (tr *tracker) reply(id string, at time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.replies[id] = append(tr.replies[id], at)
	if len(tr.replies[id]) == 1 && tr.want[id] {
		tr.replied.Add(1)
	}
}

// result computes a Result over ids; lat are the latencies of the replied.
func (tr *tracker) result(r Result, ids []string) (Result, []time.Duration) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var lat []time.Duration
	var first, last time.Time
	for _, id := range ids {
		s := tr.started[id]
		if first.IsZero() || s.Before(first) {
			first = s
		}
		reps := tr.replies[id]
		if len(reps) == 0 {
			r.Lost++
			continue
		}
		r.Replied++
		r.Dups += len(reps) - 1
		lat = append(lat, reps[0].Sub(s))
		if reps[0].After(last) {
			last = reps[0]
		}
	}
	r.Elapsed = last.Sub(first)
	return Summarize(r, lat), lat
}

// measured is a Result with the latencies it summarizes.
type measured struct {
	Result
	lat []time.Duration
}

// combine pools runs of the same system: counts and elapsed times add up,
// latencies are pooled.
func combine(runs ...measured) Result {
	r := runs[0].Result
	lat := slices.Clone(runs[0].lat)
	for _, m := range runs[1:] {
		r.Messages += m.Messages
		r.Replied += m.Replied
		r.Lost += m.Lost
		r.Dups += m.Dups
		r.Elapsed += m.Elapsed
		lat = append(lat, m.lat...)
	}
	return Summarize(r, lat)
}

// recordingClient is the local transport with every SendMessage timed. The
// reply ID is derived from the inbound ID (message.ReplyID), so the bench
// maps it back through replyOf.
type recordingClient struct {
	*localchat.Transport
	onSend func(replyID string, at time.Time)
}

func (c *recordingClient) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
	resp, err := c.Transport.SendMessage(ctx, to, msg, extra...)
	if err == nil {
		c.onSend(resp.ID, time.Now())
	}
	return resp, err
}

var _ gateway.Client = (*recordingClient)(nil)

// benchMessage is one message of a load.
type benchMessage struct {
	ID   string
	User string // phone number digits
}

// system is what a load drives: the bot or the ceiling.
type system struct {
	name    string
	tracker *tracker
	submit  func(ctx context.Context, m benchMessage) error // nil error = accepted
}

// rig is everything a load run needs, set up once.
type rig struct {
	t             *testing.T
	ctx           context.Context
	dir           string // logs
	cfg           config.Config
	env           []string
	deps          *app.Deps
	pool          *pgxpool.Pool
	fake          *openaifake.Server
	transport     *localchat.Transport
	gw            *app.Gateway
	account       string
	temporal      *exec.Cmd
	worker        *exec.Cmd
	workerAdm     string // the worker's admin server (pprof)
	temporalPprof string // the Temporal server's pprof server
	ceilProc      *exec.Cmd

	wabot   system
	ceiling system
	replyOf sync.Map // reply ID -> inbound ID
}

// startProcess runs a child process with its output in dir/name.log; it dies
// with the test process.
func startProcess(t *testing.T, dir, name string, env []string, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		_ = logFile.Close()
	})
	return cmd
}

// startTemporal runs `wabot-dev temporal` on port and waits until it is ready.
func startTemporal(t *testing.T, dir string, port int, dataDir string, extra ...string) *exec.Cmd {
	t.Helper()
	args := []string{"temporal", "--port", strconv.Itoa(port), "--ui-port", "-1"}
	if dataDir != "" {
		args = append(args, "--data-dir", dataDir)
	}
	args = append(args, extra...)
	cmd := exec.Command(testkit.Binary(t, "wabot-dev"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logFile, err := os.Create(filepath.Join(dir, "temporal.log"))
	require.NoError(t, err)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = logFile.Close() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "temporal ready") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "temporal exited; see %s", logFile.Name())
	case <-time.After(2 * time.Minute):
		t.Fatal("temporal did not start")
	}
	return cmd
}

// newRig starts Temporal, the worker processes, the in-process gateway and
// the fake LLM.
func newRig(t *testing.T, temporalPort int, dataDir string, llmLatency time.Duration) *rig {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	if dataDir == "file" {
		dataDir = filepath.Join(dir, "temporal-data")
	} else {
		dataDir = ""
	}
	r := &rig{t: t, ctx: ctx, dir: dir}
	var err error
	r.temporalPprof, err = freeAddr()
	require.NoError(t, err)
	r.temporal = startTemporal(t, dir, temporalPort, dataDir, append(strings.Fields(*flagTemporalArgs), "--pprof-addr", r.temporalPprof)...)
	addr := "127.0.0.1:" + strconv.Itoa(temporalPort)

	pool, dsn := testkit.PostgresURL(t)
	r.pool = pool
	_, prefix := testkit.Redis(t)
	// Neither the stand-in nor the transport keeps a log: this process's
	// memory is then the gateway's (plus the load generator's).
	r.fake = openaifake.New(openaifake.WithoutRecording())
	t.Cleanup(r.fake.Close)
	r.fake.SetLatency(llmLatency)
	r.account = testkit.Name("bench")
	r.env = []string{
		"DATABASE_URL=" + dsn,
		"REDIS_URL=redis://127.0.0.1:6379/0",
		"REDIS_KEY_PREFIX=" + prefix,
		"TEMPORAL_ADDRESS=" + addr,
		"TEMPORAL_TASK_QUEUE=" + testkit.Name("ai-"),
		"OPENAI_BASE_URL=" + r.fake.URL(),
		"OPENAI_API_KEY=bench-key",
		"LOG_FORMAT=json",
		"LOG_LEVEL=warn",
		"ADMIN_ADDR=127.0.0.1:0",
		"GATEWAY_CHAT_IDLE_TIMEOUT=2m",
		"GATEWAY_BURST_WINDOW=0s", // the load measures answering, not waiting for more messages
		"TEMPORAL_GRPC_COMPRESSION=" + *flagCompression,
		// The limits are checked (their Redis round trips are part of the
		// cost) but set high: this measures the pipeline, not the policy.
		"RATE_USER_PER_MINUTE=1000000", "RATE_CHAT_PER_MINUTE=1000000", "RATE_GLOBAL_PER_MINUTE=1000000",
	}
	// -worker-env: the same settings for the bot's and the ceiling's workers.
	r.env = append(r.env, strings.Fields(*flagWorkerEnv)...)
	cfg, err := config.Load(r.env)
	require.NoError(t, err)
	r.cfg = cfg
	logFile, err := os.Create(filepath.Join(dir, "gateway.log"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = logFile.Close() })
	logger := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r.deps, err = app.Connect(ctx, logger, cfg)
	require.NoError(t, err)
	t.Cleanup(r.deps.Close)

	// The bot: a `wabot worker` process, and the gateway in this process.
	r.workerAdm, err = freeAddr()
	require.NoError(t, err)
	r.worker = startProcess(t, dir, "worker", append(r.env, "ADMIN_ADDR="+r.workerAdm, "ADMIN_PPROF=true"), testkit.Binary(t, "wabot"), "worker")
	r.wabot = system{name: "wabot", tracker: newTracker()}
	r.transport = localchat.New(nil)
	r.transport.DiscardHistory()
	rc := &recordingClient{Transport: r.transport, onSend: func(replyID string, at time.Time) {
		if in, ok := r.replyOf.Load(replyID); ok {
			r.wabot.tracker.reply(in.(string), at)
		}
	}}
	r.gw, err = app.StartGateway(r.deps, r.account, rc, gateway.StaticIdentity{PN: localchat.BotJID})
	require.NoError(t, err)
	t.Cleanup(r.gw.Worker.Stop)
	r.transport.SetHandler(r.gw.HandleEvent)
	r.wabot.submit = func(ctx context.Context, m benchMessage) error {
		r.replyOf.Store(message.ReplyID(r.account, m.ID, 0), m.ID)
		_, err := r.transport.Receive(ctx, localchat.Incoming{From: m.User, PushName: "Bench", Text: "benchmark message " + m.ID, ID: m.ID})
		return err
	}

	// The ceiling: its workflows in a worker process of their own (this test
	// binary re-executed), its gateway-queue activities here.
	ceilQueue, ceilGW := testkit.Name("ceil-"), testkit.Name("ceil-gw-")
	self, err := os.Executable()
	require.NoError(t, err)
	r.ceilProc = startProcess(t, dir, "ceiling-worker",
		append(r.env, "BENCH_CEILING_WORKER="+addr+","+ceilQueue),
		self, "-test.run=^TestCeilingWorker$")
	r.ceiling = system{name: "ceiling", tracker: newTracker()}
	gwWorker := worker.New(r.deps.Temporal, ceilGW, worker.Options{MaxConcurrentActivityExecutionSize: cfg.Temporal.WorkerConcurrency})
	RegisterCeilingGateway(gwWorker, func(id string) { r.ceiling.tracker.reply(id, time.Now()) })
	require.NoError(t, gwWorker.Start())
	t.Cleanup(gwWorker.Stop)
	r.ceiling.submit = func(ctx context.Context, m benchMessage) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		id := "ceilchat-" + m.User
		_, err := r.deps.Temporal.SignalWithStartWorkflow(ctx, id, CeilingSignal, CeilingMessage{ID: m.ID, GatewayQueue: ceilGW},
			client.StartWorkflowOptions{ID: id, TaskQueue: ceilQueue, WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING},
			CeilingChatWorkflowName, 2*time.Minute)
		return err
	}
	return r
}

// TestCeilingWorker is the ceiling's worker process; it runs only when
// re-executed by the load test with BENCH_CEILING_WORKER=<address>,<queue>.
func TestCeilingWorker(t *testing.T) {
	spec := os.Getenv("BENCH_CEILING_WORKER")
	if spec == "" {
		t.Skip("runs only as the load test's ceiling worker process")
	}
	addr, queue, _ := strings.Cut(spec, ",")
	cfg, err := config.Load(os.Environ())
	require.NoError(t, err)
	opts := client.Options{HostPort: addr, Logger: nopLogger{}}
	if !cfg.Temporal.GzipRequests() { // the same connection setting as the bot's
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	c, err := client.Dial(opts)
	require.NoError(t, err)
	defer c.Close()
	app.SetStickyCacheSize(cfg.Temporal)
	w := worker.New(c, queue, app.AIWorkerOptions(cfg.Temporal))
	RegisterCeilingWorker(w)
	require.NoError(t, w.Run(worker.InterruptCh()))
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}

// messages makes n messages round-robin over users chats; tag keeps IDs and
// phone numbers of different runs apart.
func messages(tag, n, users int) []benchMessage {
	out := make([]benchMessage, n)
	for i := range out {
		u := i % users
		out[i] = benchMessage{ID: fmt.Sprintf("BENCH%02d%08d", tag, i), User: fmt.Sprintf("49%03d%08d", tag, u)}
	}
	return out
}

// submitWithRedelivery hands m over, re-sending it with the same ID (as
// WhatsApp redelivers an unacknowledged message) until it is accepted.
func submitWithRedelivery(ctx context.Context, sys *system, m benchMessage) {
	sys.tracker.start(m.ID, time.Now())
	for ctx.Err() == nil {
		if err := sys.submit(ctx, m); err == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runLoad sends msgs to sys — all at once through conc senders when rate is
// 0, else at rate per second — and waits for every reply until timeout.
func runLoad(ctx context.Context, sys *system, msgs []benchMessage, users, conc int, rate float64, timeout time.Duration, progress io.Writer) measured {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	tr := sys.tracker
	tr.expect(ids)
	base := tr.replied.Load()
	res := Result{System: sys.name, Mode: "saturation", Messages: len(msgs), Users: users, Offered: rate}
	if rate > 0 {
		res.Mode = "open"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var sent atomic.Int64
	var wg sync.WaitGroup
	if rate == 0 {
		ch := make(chan benchMessage)
		for range conc {
			wg.Go(func() {
				for m := range ch {
					submitWithRedelivery(ctx, sys, m)
					sent.Add(1)
				}
			})
		}
		wg.Go(func() {
			defer close(ch)
			for _, m := range msgs {
				select {
				case ch <- m:
				case <-ctx.Done():
					return
				}
			}
		})
	} else {
		wg.Go(func() {
			interval := time.Duration(float64(time.Second) / rate)
			next := time.Now()
			for _, m := range msgs {
				if d := time.Until(next); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				next = next.Add(interval)
				wg.Go(func() { submitWithRedelivery(ctx, sys, m); sent.Add(1) })
			}
		})
	}
	label := fmt.Sprintf("%-7s %-10s %5d msgs %4d users", sys.name, res.Mode, len(msgs), users)
	if rate > 0 {
		label += fmt.Sprintf(" @%5.1f/s", rate)
	}
	started := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		done := int(tr.replied.Load() - base)
		drawProgress(progress, label, int(sent.Load()), done, len(msgs), time.Since(started))
		if done >= len(msgs) || ctx.Err() != nil {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	fmt.Fprintln(progress)
	cancel()
	wg.Wait()
	r, lat := tr.result(res, ids)
	return measured{r, lat}
}

func drawProgress(w io.Writer, label string, sent, done, total int, elapsed time.Duration) {
	const width = 30
	if !isTerminal(w) { // a log file gets a line every 5 s, not a redraw every 250 ms
		if done < total && elapsed%(5*time.Second) >= 250*time.Millisecond {
			return
		}
		defer fmt.Fprintln(w)
	}
	filled := width * done / max(total, 1)
	rate := float64(done) / max(elapsed.Seconds(), 0.001)
	fmt.Fprintf(w, "\r%s [%s%s] sent %d, replied %d/%d, %.1f msg/s, %s   ",
		label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), sent, done, total, rate, elapsed.Truncate(time.Second))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// procStatus reads fields (in kB) of /proc/<pid>/status.
func procStatus(pid int) map[string]int {
	out := map[string]int{}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			n, _ := strconv.Atoi(f[0])
			out[k] = n
		}
	}
	return out
}

// rowCounts counts the rows of every table but the migration log.
func rowCounts(ctx context.Context, pool *pgxpool.Pool) (map[string]int64, error) {
	rows, err := pool.Query(ctx, `SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY relname`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, n := range names {
		if strings.Contains(n, "migration") {
			continue
		}
		var c int64
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+quoteIdent(n)).Scan(&c); err != nil {
			return nil, err
		}
		out[n] = c
	}
	return out, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
