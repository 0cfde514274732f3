package testkit

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
)

// The test Temporal server. `make test` starts one (bin/wabot-dev temporal,
// built without -race: the race detector slows the server's own code several
// times over) and passes its address in WABOT_TEST_TEMPORAL_ADDRESS. Without
// it, the first test that asks starts one for this test binary, from
// $WABOT_BIN_DIR/wabot-dev or a fresh `go build`.
var (
	temporalOnce sync.Once
	temporalAddr string
	temporalErr  error
)

// TemporalAddress returns the address of the test Temporal server.
func TemporalAddress(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the embedded Temporal server; not in -short mode")
	}
	temporalOnce.Do(func() {
		if addr := os.Getenv("WABOT_TEST_TEMPORAL_ADDRESS"); addr != "" {
			temporalAddr = addr
			return
		}
		temporalAddr, temporalErr = startTemporal()
	})
	if temporalErr != nil {
		t.Fatalf("test temporal server: %v", temporalErr)
	}
	return temporalAddr
}

// Temporal returns a client of the test Temporal server, closed at cleanup.
func Temporal(t testing.TB) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: TemporalAddress(t), Logger: log.NewStructuredLogger(Logger(t))})
	if err != nil {
		t.Fatalf("dialing test temporal: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Name returns a name unique to this test run, for task queues, accounts and
// the like: prefix + 10 random hex characters.
func Name(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Binary returns the path of one of the project's binaries (wabot, wabot-dev):
// $WABOT_BIN_DIR/<name> when it exists, else a `go build` of ./cmd/<name>.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := binary(name)
	if err != nil {
		t.Fatalf("binary %s: %v", name, err)
	}
	return p
}

var buildMu sync.Mutex

func binary(name string) (string, error) {
	if dir := os.Getenv("WABOT_BIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(os.TempDir(), "wabot-test-bin", name)
	cmd := exec.CommandContext(context.Background(), "go", "build", "-o", out, "./cmd/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %w\n%s", name, err, b)
	}
	return out, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// startTemporal starts `wabot-dev temporal` on a free block of ports. The
// server dies with this process (Pdeathsig), so nothing outlives the tests.
func startTemporal() (string, error) {
	addr, _, _, err := runTemporal("--ui-port", "-1")
	return addr, err
}

// TemporalWithUI starts a Temporal server of the test's own with its Web UI
// (browser tests), the UI decoding payloads through codecEndpoint when it is
// set. It returns the frontend address and the UI's base URL, and stops the
// server at cleanup.
func TemporalWithUI(t testing.TB, codecEndpoint string) (frontend, ui string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the embedded Temporal server; not in -short mode")
	}
	uiPort, err := freePortBlock(1)
	if err != nil {
		t.Fatalf("free port for the web UI: %v", err)
	}
	args := []string{"--ui-port", strconv.Itoa(uiPort)}
	if codecEndpoint != "" {
		args = append(args, "--codec-endpoint", codecEndpoint)
	}
	frontend, ui, cmd, err := runTemporal(args...)
	if err != nil {
		t.Fatalf("temporal with web UI: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return frontend, ui
}

// runTemporal runs `wabot-dev temporal` with args on a free block of ports
// and waits for its ready line.
func runTemporal(args ...string) (frontend, ui string, cmd *exec.Cmd, err error) {
	bin, err := binary("wabot-dev")
	if err != nil {
		return "", "", nil, err
	}
	port, err := freePortBlock(5)
	if err != nil {
		return "", "", nil, err
	}
	cmd = exec.CommandContext(context.Background(), bin, append([]string{"temporal", "--port", strconv.Itoa(port)}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", "", nil, err
	}
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "temporal" && f[1] == "ready" {
				ready <- append(f, "")
			}
		}
	}()
	select {
	case f := <-ready:
		return f[2], f[3], cmd, nil
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return "", "", nil, fmt.Errorf("wabot-dev temporal did not report ready within 60s")
	}
}

// freePortBlock finds n consecutive free loopback ports.
func freePortBlock(n int) (int, error) {
	var lc net.ListenConfig
	for range 50 {
		ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		base := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if base+n > 65535 {
			continue
		}
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				continue
			}
			_ = l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no block of %d free ports", n)
}
