package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Private servers: a PostgreSQL cluster or a redis-server of one test's own,
// for tests that stop and restart the server itself (the chaos test). The
// shared servers of Postgres and Redis serve every test package at once, so
// no test may restart them.
//
// Each server is a child process of the test binary, started with Pdeathsig:
// it dies with the binary even when a timeout panic skips the cleanups.

const (
	// serverReadyTimeout bounds a server's start, from exec to its first answer.
	serverReadyTimeout = time.Minute
	// serverStopTimeout bounds a graceful stop; after it the process is killed.
	serverStopTimeout = 30 * time.Second
	// startAttempts: a free port found by listening on :0 may be taken again
	// before the server binds it; the first start tries another port.
	startAttempts = 3
)

// PrivatePG is a PostgreSQL server of one test's own: its own data directory
// (initdb), port and postmaster process, holding a database "wabot" with the
// migrations applied. Stop, Start and Restart stop and start the real server
// process on the same port and data directory.
type PrivatePG struct {
	srv      *server
	adminURL string // the maintenance database "postgres"
	url      string // the migrated database "wabot"
}

// PrivatePostgres initialises a PostgreSQL cluster in a temporary directory
// (initdb; trust authentication on 127.0.0.1 only, superuser "postgres"),
// starts it on a free loopback port with fsync off, creates the database
// "wabot" and applies the migrations. t.Cleanup stops it at once (SIGQUIT,
// "immediate" shutdown) and removes the directory.
//
// initdb refuses to run as root: as root, the server runs as the OS user
// "postgres". The test is skipped when initdb or postgres is found neither on
// PATH nor in /usr/lib/postgresql/*/bin, or when running as root without a
// "postgres" user.
func PrivatePostgres(t testing.TB) *PrivatePG {
	t.Helper()
	initdb, postgres, err := postgresBinaries()
	if err != nil {
		t.Skipf("testkit: a private PostgreSQL needs the server's binaries (Debian: the postgresql package): %v", err)
	}
	cred, err := postgresCredential()
	if err != nil {
		t.Skipf("testkit: a private PostgreSQL: %v", err)
	}
	dir, err := os.MkdirTemp("", "wabot-pg-")
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // registered first: runs after the server stopped
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("testkit: %v", err)
		}
	}
	data := filepath.Join(dir, "data")
	init := exec.CommandContext(t.Context(), initdb, "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	init.Dir = dir // the test's working directory may be closed to the postgres user
	init.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("testkit: initdb: %v\n%s", err, out)
	}

	p := &PrivatePG{}
	p.srv = &server{
		name: "postgres",
		argv: func(port int) []string {
			return []string{postgres, "-D", data, "-p", strconv.Itoa(port), "-k", dir,
				"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
				"-c", "full_page_writes=off", "-c", "shared_buffers=16MB"}
		},
		cred: cred,
		dir:  dir,
		ready: func(ctx context.Context) error {
			conn, err := pgx.Connect(ctx, p.adminURL)
			if err != nil {
				return err
			}
			return conn.Close(ctx)
		},
		stopSignal: syscall.SIGINT, // "fast" shutdown: sessions are ended, a checkpoint is written
		killSignal: syscall.SIGQUIT,
		onPort: func(port int) {
			p.adminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			p.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/wabot?sslmode=disable", port)
		},
	}
	p.srv.startFirst(t)
	if err := adminExec(t.Context(), p.adminURL, "CREATE DATABASE wabot"); err != nil {
		t.Fatalf("testkit: creating the private database: %v", err)
	}
	if err := migrateDatabase(t.Context(), p.adminURL, "wabot"); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return p
}

// postgresBinaries finds initdb (on PATH, else in the newest
// /usr/lib/postgresql/<version>/bin, where Debian installs the server
// without putting it on PATH) and the postgres binary of the same
// installation.
func postgresBinaries() (initdb, postgres string, err error) {
	initdb, err = exec.LookPath("initdb")
	if err != nil {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb") // the pattern is valid
		bestVersion := -1
		for _, p := range found {
			version, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
			if err == nil && version > bestVersion {
				initdb, bestVersion = p, version
			}
		}
		if initdb == "" {
			return "", "", errors.New("initdb is neither on PATH nor in /usr/lib/postgresql/*/bin")
		}
	}
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real // e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb
	}
	postgres = filepath.Join(filepath.Dir(initdb), "postgres")
	if _, err := os.Stat(postgres); err != nil {
		return "", "", fmt.Errorf("no postgres beside %s: %w", initdb, err)
	}
	return initdb, postgres, nil
}

// postgresCredential is the user to run initdb and postgres as: nil (this
// process's own) unless it runs as root, then the OS user "postgres".
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, which initdb refuses, and no postgres user to run it as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("the postgres user's ids: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// URL is the database "wabot" (migrated) of the server.
func (p *PrivatePG) URL() string { return p.url }

// Stop shuts the server down ("fast": open sessions are ended) and returns
// once the postmaster has exited: from then on connections are refused.
func (p *PrivatePG) Stop(t testing.TB) { t.Helper(); p.srv.stop(t) }

// Start starts the stopped server again on the same port and data directory
// and returns once it accepts connections.
func (p *PrivatePG) Start(t testing.TB) { t.Helper(); p.srv.start(t) }

// Restart is Stop, then Start.
func (p *PrivatePG) Restart(t testing.TB) {
	t.Helper()
	p.Stop(t)
	p.Start(t)
}

// PrivateRedisServer is a redis-server of one test's own on a free loopback
// port, keeping nothing on disk: Stop loses every key, as a crash would.
type PrivateRedisServer struct {
	srv *server
	url string
}

// PrivateRedis starts redis-server on a free loopback port with persistence
// off (no RDB snapshots, no AOF) and returns once it answers PING. t.Cleanup
// kills it. The test is skipped when redis-server is not on PATH.
func PrivateRedis(t testing.TB) *PrivateRedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skipf("testkit: a private Redis needs redis-server on PATH: %v", err)
	}
	dir := t.TempDir()
	r := &PrivateRedisServer{}
	r.srv = &server{
		name: "redis-server",
		argv: func(port int) []string {
			return []string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
				"--daemonize", "no", "--dir", dir}
		},
		dir: dir,
		ready: func(ctx context.Context) error {
			opts, err := redis.ParseURL(r.url)
			if err != nil {
				return err
			}
			opts.MaxRetries = -1
			c := redis.NewClient(opts)
			defer func() { _ = c.Close() }()
			return c.Ping(ctx).Err()
		},
		stopSignal: syscall.SIGTERM, // with no save points it exits without writing anything
		killSignal: syscall.SIGKILL,
		onPort:     func(port int) { r.url = fmt.Sprintf("redis://127.0.0.1:%d/0", port) },
	}
	r.srv.startFirst(t)
	return r
}

// URL is the server's redis:// URL (database 0).
func (r *PrivateRedisServer) URL() string { return r.url }

// Stop shuts the server down (SIGTERM) and returns once it has exited; its
// keys are gone.
func (r *PrivateRedisServer) Stop(t testing.TB) { t.Helper(); r.srv.stop(t) }

// Start starts the stopped server again, empty, on the same port and returns
// once it answers PING.
func (r *PrivateRedisServer) Start(t testing.TB) { t.Helper(); r.srv.start(t) }

// server is a server process a test starts, stops and starts again on the
// same port.
type server struct {
	name       string
	argv       func(port int) []string
	cred       *syscall.Credential // nil: as this process's user
	dir        string              // working directory
	ready      func(context.Context) error
	stopSignal syscall.Signal // graceful stop
	killSignal syscall.Signal // cleanup: stop at once
	onPort     func(port int) // the port is chosen (before the first start)

	port int
	out  LockedBuffer // every run's output, for the log of a failed test
	proc *exec.Cmd    // nil while stopped
	done chan struct{}
}

// startFirst chooses a free port, starts the server and registers the
// cleanup that stops it and, if the test failed, logs its output.
func (s *server) startFirst(t testing.TB) {
	t.Helper()
	t.Cleanup(func() {
		if s.proc != nil {
			if err := s.halt(s.killSignal); err != nil {
				t.Errorf("testkit: stopping %s: %v", s.name, err)
			}
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", s.name, s.out.String())
		}
	})
	var err error
	for range startAttempts {
		if s.port, err = freePortBlock(1); err != nil {
			t.Fatalf("testkit: %v", err)
		}
		s.onPort(s.port)
		if err = s.run(t.Context()); err == nil {
			return
		}
	}
	t.Fatalf("testkit: starting %s: %v\n%s", s.name, err, s.out.String())
}

// start starts the stopped server on its port.
func (s *server) start(t testing.TB) {
	t.Helper()
	if s.proc != nil {
		t.Fatalf("testkit: %s is already running", s.name)
	}
	if err := s.run(t.Context()); err != nil {
		t.Fatalf("testkit: starting %s again on port %d: %v\n%s", s.name, s.port, err, s.out.String())
	}
}

// stop stops the running server gracefully and waits for it to exit.
func (s *server) stop(t testing.TB) {
	t.Helper()
	if s.proc == nil {
		t.Fatalf("testkit: %s is not running", s.name)
	}
	if err := s.halt(s.stopSignal); err != nil {
		t.Fatalf("testkit: stopping %s: %v", s.name, err)
	}
}

// run starts the process and waits until ready answers; if the process
// exits first (e.g. its port was taken) or does not answer in time, it is
// stopped and run returns an error.
func (s *server) run(ctx context.Context) error {
	argv := s.argv(s.port)
	// Not bound to ctx: the server lives until stop or the test's cleanup.
	cmd := exec.CommandContext(context.Background(), argv[0], argv[1:]...)
	cmd.Dir = s.dir
	cmd.WaitDelay = 5 * time.Second // a killed postmaster's children may hold its output open a moment longer
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.proc, s.done = cmd, done

	deadline := time.NewTimer(serverReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		probe, cancel := context.WithTimeout(ctx, time.Second)
		err := s.ready(probe)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			s.proc = nil
			return fmt.Errorf("%s exited before answering: %s", s.name, cmd.ProcessState)
		case <-deadline.C:
			_ = s.halt(s.killSignal)
			return fmt.Errorf("%s did not answer within %v: %w", s.name, serverReadyTimeout, err)
		case <-ctx.Done():
			_ = s.halt(s.killSignal)
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// halt sends sig and waits for the process to exit; after serverStopTimeout
// it is killed.
func (s *server) halt(sig syscall.Signal) error {
	defer func() { s.proc = nil }()
	if err := s.proc.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(serverStopTimeout):
	}
	_ = s.proc.Process.Kill()
	<-s.done
	return fmt.Errorf("%s did not exit within %v of signal %v; killed", s.name, serverStopTimeout, sig)
}

// LockedBuffer collects a child process's output (stdout and stderr at
// once): a bytes.Buffer safe for concurrent writes and reads.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
