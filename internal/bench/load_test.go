package bench

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	flagLoad         = flag.Bool("load", false, "run the load benchmark (TestLoad)")
	flagSizes        = flag.String("sizes", "1000x100,1000x1000", "saturation runs, messages x users, comma-separated (add 10000x100,10000x1000 for the full set)")
	flagSweep        = flag.String("sweep", "0.25,0.5,0.75,1", "open-loop runs at these fractions of the ceiling's saturation throughput")
	flagSweepSeconds = flag.Float64("sweep-seconds", 10, "length of each open-loop run")
	flagSweepUsers   = flag.Int("sweep-users", 1000, "chats in each open-loop run")
	flagLLMLatency   = flag.Duration("llm-latency", 0, "the fake LLM's latency per call")
	flagConc         = flag.Int("concurrency", 64, "concurrent senders in saturation runs")
	flagPort         = flag.Int("temporal-port", 27233, "frontend port of the benchmark's own Temporal server (uses 5 ports)")
	flagTemporalDB   = flag.String("temporal-db", "file", "Temporal's SQLite: file (as make dev runs it) or memory")
	flagOut          = flag.String("out", "", "write the results into this BENCHMARKS.md (between the results markers) and the chart next to it")
	flagSection      = flag.String("section", "load", "the BENCHMARKS.md section (and chart name) this run writes, e.g. load-llm300 for a run with -llm-latency=300ms")
	flagCommand      = flag.String("command", "", "the command line to print in BENCHMARKS.md")
	flagTemporalArgs = flag.String("temporal-args", "", "extra flags of `wabot-dev temporal`, space-separated (e.g. \"--dc matching.numTaskqueueReadPartitions=4 --sqlite-max-conns 4\")")
	flagWorkerEnv    = flag.String("worker-env", "", "extra environment of both systems' workers, space-separated KEY=value (e.g. \"TEMPORAL_POLLERS=8 TEMPORAL_STICKY_CACHE_SIZE=100\")")
	flagCompression  = flag.String("grpc-compression", "auto", "TEMPORAL_GRPC_COMPRESSION of the bot and the ceiling (auto: none, the server is on loopback)")
	flagTimeout      = flag.Duration("run-timeout", 10*time.Minute, "deadline of each run")
)

// TestLoad is `make bench`: the bot and the ceiling, side by side, on the
// same embedded Temporal server.
func TestLoad(t *testing.T) {
	if !*flagLoad {
		t.Skip("the load benchmark runs with -load (make bench)")
	}
	r := newRig(t, *flagPort, *flagTemporalDB, *flagLLMLatency)
	progress := os.Stderr
	var results []Result
	tag := 0
	nextTag := func() int { tag++; return tag }

	// Warm up both systems (connections, caches, the first workflows).
	for _, sys := range []*system{&r.ceiling, &r.wabot} {
		w := runLoad(r.ctx, sys, messages(nextTag(), 40, 20), 20, 20, 0, 2*time.Minute, progress).Result
		require.Zero(t, w.Lost, "warm-up of %s lost messages; see the logs in %s", sys.name, r.dir)
	}
	idleGateway := procStatus(os.Getpid())["VmRSS"]

	ratios := map[string]float64{}
	var ceilSat float64
	ceilUsers := 0
	for _, size := range strings.Split(*flagSizes, ",") {
		n, u := parseSize(t, size)
		// ABBA: ceiling, bot, bot, ceiling, half the messages each, so that a
		// change in the machine's load (other jobs) weighs on both alike.
		cm, wm := messages(nextTag(), n, u), messages(nextTag(), n, u)
		c1 := runLoad(r.ctx, &r.ceiling, cm[:n/2], u, *flagConc, 0, *flagTimeout, progress)
		w1 := runLoad(r.ctx, &r.wabot, wm[:n/2], u, *flagConc, 0, *flagTimeout, progress)
		w2 := runLoad(r.ctx, &r.wabot, wm[n/2:], u, *flagConc, 0, *flagTimeout, progress)
		c2 := runLoad(r.ctx, &r.ceiling, cm[n/2:], u, *flagConc, 0, *flagTimeout, progress)
		c, w := combine(c1, c2), combine(w1, w2)
		w.LLM = *flagLLMLatency
		results = append(results, c, w)
		ratios[size] = w.Throughput() / c.Throughput()
		// The sweep's rates are fractions of the ceiling with as many chats
		// as the sweep uses (a message to a new chat costs more), else the
		// highest ceiling measured.
		if u == *flagSweepUsers || ceilUsers != *flagSweepUsers && c.Throughput() > ceilSat {
			ceilSat, ceilUsers = c.Throughput(), u
		}
	}
	gatewayPeak := procStatus(os.Getpid())["VmHWM"]

	var halfRatio []string
	cpu := map[string]map[string]time.Duration{} // system -> process -> CPU per 1,000 messages, at half rate
	profile := ""
	for i, f := range parseFloats(t, *flagSweep) {
		rate := f * ceilSat
		n := max(50, int(rate**flagSweepSeconds))
		users := *flagSweepUsers
		run := func(sys *system) Result {
			if f != 0.5 {
				return runLoad(r.ctx, sys, messages(nextTag(), n, users), users, 0, rate, *flagTimeout, progress).Result
			}
			// At half rate: which process spends the CPU, and (bot) where.
			pids := map[string]int{"temporal": r.temporal.Process.Pid, "worker": r.worker.Process.Pid, "gateway": os.Getpid()}
			if sys == &r.ceiling {
				pids["worker"] = r.ceilProc.Process.Pid
			}
			var prof *profiler
			if sys == &r.wabot && *flagProfileDir != "" {
				var err error
				prof, err = startProfiles(r.ctx, *flagProfileDir, map[string]string{"worker": r.workerAdm, "temporal": r.temporalPprof}, int(*flagSweepSeconds))
				require.NoError(t, err)
			}
			m := startCPUMeter(pids)
			res := runLoad(r.ctx, sys, messages(nextTag(), n, users), users, 0, rate, *flagTimeout, progress).Result
			cpu[sys.name] = m.stop(res.Replied)
			if prof != nil {
				var err error
				profile, err = prof.stop()
				require.NoError(t, err)
			}
			return res
		}
		var c, w Result
		if i%2 == 0 { // alternate the order, as above
			c, w = run(&r.ceiling), run(&r.wabot)
		} else {
			w, c = run(&r.wabot), run(&r.ceiling)
		}
		w.LLM = *flagLLMLatency
		results = append(results, c, w)
		if f == 0.5 {
			halfRatio = append(halfRatio,
				fmt.Sprintf("p50 %.2f×", float64(w.P50)/float64(c.P50)),
				fmt.Sprintf("p99 %.2f×", float64(w.P99)/float64(c.P99)))
		}
	}

	workerStatus := procStatus(r.worker.Process.Pid)
	ceilStatus := procStatus(r.ceilProc.Process.Pid)
	temporalStatus := procStatus(r.temporal.Process.Pid)
	rows, err := rowCounts(r.ctx, r.pool)
	require.NoError(t, err)

	var table bytes.Buffer
	require.NoError(t, WriteTable(&table, results))
	var sum strings.Builder
	fmt.Fprintf(&sum, "Run %s on %s (load average at the end: %s). Temporal SQLite: %s %s. gRPC compression: %s. Fake LLM latency: %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), machine(), loadAverage(), *flagTemporalDB, *flagTemporalArgs, *flagCompression, *flagLLMLatency)
	fmt.Fprintf(&sum, "```sh\n%s\n```\n\n", command())
	sum.WriteString(table.String())
	sum.WriteString("\n| figure | value |\n| --- | --- |\n")
	for _, size := range slices.Sorted(maps.Keys(ratios)) {
		fmt.Fprintf(&sum, "| throughput ratio wabot/ceiling, %s (target ≥ 0.80) | %.2f |\n", size, ratios[size])
	}
	if len(halfRatio) > 0 {
		fmt.Fprintf(&sum, "| latency wabot/ceiling at half the ceiling's rate (target ≤ 1.25×) | %s |\n", strings.Join(halfRatio, ", "))
	}
	for _, sys := range slices.Sorted(maps.Keys(cpu)) {
		var parts []string
		for _, p := range []string{"temporal", "worker", "gateway"} {
			parts = append(parts, fmt.Sprintf("%s %.2f s", p, cpu[sys][p].Seconds()))
		}
		fmt.Fprintf(&sum, "| CPU per 1,000 messages at half the ceiling's rate, %s | %s |\n", sys, strings.Join(parts, ", "))
	}
	fmt.Fprintf(&sum, "| gateway process RSS idle, after warm-up (target ≤ 80 MB) | %.1f MB |\n", mb(idleGateway))
	fmt.Fprintf(&sum, "| gateway process peak RSS (VmHWM) during the wabot runs | %.1f MB |\n", mb(gatewayPeak))
	fmt.Fprintf(&sum, "| worker process (`wabot worker`) peak RSS (VmHWM) | %.1f MB |\n", mb(workerStatus["VmHWM"]))
	fmt.Fprintf(&sum, "| ceiling worker process peak RSS (VmHWM) | %.1f MB |\n", mb(ceilStatus["VmHWM"]))
	fmt.Fprintf(&sum, "| Temporal server process peak RSS (VmHWM) | %.1f MB |\n", mb(temporalStatus["VmHWM"]))
	var total int64
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(rows)) {
		total += rows[name]
		parts = append(parts, fmt.Sprintf("%s %d", name, rows[name]))
	}
	handled := 0
	for _, res := range results {
		if res.System == "wabot" {
			handled += res.Replied
		}
	}
	handled += 40 // warm-up
	fmt.Fprintf(&sum, "| PostgreSQL rows written (all runs, %d messages answered) | %d (%.1f per message: %s) |\n",
		handled, total, float64(total)/float64(max(handled, 1)), strings.Join(parts, ", "))

	if profile != "" {
		fmt.Fprintf(&sum, "\nCPU profiles of the bot's run at half the ceiling's rate (`-profile-dir`; open with `go tool pprof -http=: FILE`):\n\n%s", profile)
	}
	fmt.Fprintln(os.Stdout, sum.String())
	if *flagOut != "" {
		require.NoError(t, writeResults(*flagOut, sum.String(), results))
	}
}

func mb(kb int) float64 { return float64(kb) / 1024 }

func parseSize(t *testing.T, s string) (int, int) {
	t.Helper()
	a, b, ok := strings.Cut(strings.TrimSpace(s), "x")
	n, err1 := strconv.Atoi(a)
	u, err2 := strconv.Atoi(b)
	require.True(t, ok && err1 == nil && err2 == nil && n > 0 && u > 0, "-sizes: %q is not MESSAGESxUSERS", s)
	return n, u
}

func parseFloats(t *testing.T, s string) []float64 {
	t.Helper()
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		require.NoError(t, err, "-sweep")
		out = append(out, v)
	}
	return out
}

// machine describes the CPU count, model and RAM.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	ram := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.Atoi(f[1])
				ram = fmt.Sprintf(", %.1f GB RAM", float64(kb)/1024/1024)
			}
		}
	}
	return fmt.Sprintf("%d CPUs (nproc), %s%s, %s", runtime.NumCPU(), model, ram, runtime.Version())
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func command() string {
	if *flagCommand != "" {
		return *flagCommand
	}
	return strings.Join(os.Args, " ")
}

// writeResults writes the chart next to the BENCHMARKS.md at path and the
// load results into its "load" section.
func writeResults(path, section string, results []Result) error {
	name := "bench-latency.svg"
	if *flagSection != "load" {
		name = "bench-latency-" + *flagSection + ".svg"
	}
	chart := filepath.Join(filepath.Dir(path), "docs", name)
	if err := os.MkdirAll(filepath.Dir(chart), 0o750); err != nil {
		return err
	}
	var svg bytes.Buffer
	if err := WriteChart(&svg, "End-to-end latency against offered load (open loop)", results); err != nil {
		return err
	}
	if err := os.WriteFile(chart, svg.Bytes(), 0o644); err != nil { //nolint:gosec // a document in the repository
		return err
	}
	section += "\n![latency percentiles against offered load](docs/" + name + ")\n"
	return writeSection(path, *flagSection, section)
}

// writeSection replaces the text between <!-- bench:NAME:begin … --> and
// <!-- bench:NAME:end --> in the document at path, appending the markers
// when they are missing.
func writeSection(path, name, body string) error {
	begin := "<!-- bench:" + name + ":begin (written by make bench; edits here are overwritten) -->"
	end := "<!-- bench:" + name + ":end -->"
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		doc += "\n" + begin + "\n" + end + "\n"
		i, j = strings.Index(doc, begin), strings.Index(doc, end)
	}
	doc = doc[:i+len(begin)] + "\n" + body + doc[j:]
	return os.WriteFile(path, []byte(doc), 0o644) //nolint:gosec // a document in the repository
}
