package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

var flagProfileDir = flag.String("profile-dir", "", "CPU-profile the worker and the gateway during the bot's run at half the ceiling's rate and write the profiles here")

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on Linux).
const clockTicks = 100

// cpuTime is the CPU time (user + system) a process used so far.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// cpuMeter measures the CPU time of named processes over one run.
type cpuMeter struct {
	pids  map[string]int
	start map[string]time.Duration
}

func startCPUMeter(pids map[string]int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: map[string]time.Duration{}}
	for name, pid := range pids {
		m.start[name] = cpuTime(pid)
	}
	return m
}

// stop returns each process's CPU time per 1,000 messages since the start.
func (m *cpuMeter) stop(messages int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range m.pids {
		out[name] = (cpuTime(pid) - m.start[name]) * 1000 / time.Duration(max(messages, 1))
	}
	return out
}

// freeAddr is a free loopback address for a child's admin server.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// profiler takes CPU profiles of the worker (through its admin server's
// /debug/pprof, ADMIN_PPROF), of the Temporal server (`wabot-dev temporal
// --pprof-addr`) and of this process, which runs the gateway.
type profiler struct {
	dir    string
	self   *os.File
	remote chan error
}

// remoteProfiles are the processes profiled over HTTP: name -> address.
func startProfiles(ctx context.Context, dir string, remote map[string]string, seconds int) (*profiler, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	p := &profiler{dir: dir, remote: make(chan error, len(remote))}
	f, err := os.Create(filepath.Join(dir, "gateway.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	p.self = f
	for name, addr := range remote {
		go func() {
			p.remote <- fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds), filepath.Join(dir, name+".pprof"))
		}()
	}
	return p, nil
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// stop ends the profiles and returns the top functions of each (by
// cumulative time, the project's and its libraries' own frames) as text.
func (p *profiler) stop() (string, error) {
	pprof.StopCPUProfile()
	if err := p.self.Close(); err != nil {
		return "", err
	}
	for range cap(p.remote) {
		if err := <-p.remote; err != nil {
			return "", err
		}
	}
	var out strings.Builder
	for _, name := range []string{"temporal", "worker", "gateway"} {
		file := filepath.Join(p.dir, name+".pprof")
		top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=14", file).Output() //nolint:gosec // our own file
		if err != nil {
			return "", fmt.Errorf("go tool pprof %s: %w", file, err)
		}
		fmt.Fprintf(&out, "%s (%s):\n\n```\n%s```\n\n", name, filepath.Base(file), trimPprofHeader(string(top)))
	}
	return out.String(), nil
}

// trimPprofHeader drops pprof's file/type/time lines, keeping the totals and the table.
func trimPprofHeader(s string) string {
	var keep []string
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Type:") || strings.HasPrefix(line, "Time:") || strings.HasPrefix(line, "Build ID:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "")
}
