// Package tempdir gives a process its own private scratch directory for media
// work (ffmpeg, pdftotext, tesseract). Each process works under a 0700
// directory named with its PID; start-up sweeps the directories of processes
// that died without cleaning up, each activity gets a subdirectory removed
// when it returns, and Close (called on SIGTERM through the worker's Stop)
// removes everything.
package tempdir

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// prefix names every process directory: <base>/wabot-<pid>.
const prefix = "wabot-"

// Root is one process's scratch directory.
type Root struct {
	logger *slog.Logger
	dir    string
	seq    atomic.Int64
}

// New sweeps the directories left under base by dead processes and creates
// this process's own. base "" means os.TempDir().
func New(logger *slog.Logger, base string) (*Root, error) {
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o750); err != nil {
		return nil, fmt.Errorf("creating temp base %s: %w", base, err)
	}
	Sweep(logger, base)
	dir := filepath.Join(base, prefix+strconv.Itoa(os.Getpid()))
	if err := os.RemoveAll(dir); err != nil { // a previous process with our PID
		return nil, fmt.Errorf("clearing temp dir: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating temp dir: %w", err)
	}
	return &Root{logger: logger, dir: dir}, nil
}

// Sweep removes the directories under base of processes that no longer run.
func Sweep(logger *slog.Logger, base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		n, err := strconv.Atoi(pid)
		if err != nil || n <= 0 || n == os.Getpid() || alive(n) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(base, e.Name())); err != nil {
			logger.Warn("sweeping temp dir of a dead process failed", slog.Int("pid", n), slog.Any("error", err))
			continue
		}
		logger.Info("swept temp dir of a dead process", slog.Int("pid", n))
	}
}

// alive reports whether a process with pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Dir is the process's directory.
func (r *Root) Dir() string { return r.dir }

// Work creates a fresh private subdirectory for one activity; call done when
// the activity returns to remove it and everything in it.
func (r *Root) Work(name string) (dir string, done func(), err error) {
	dir = filepath.Join(r.dir, fmt.Sprintf("%s-%d", name, r.seq.Add(1)))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", func() {}, fmt.Errorf("creating work dir: %w", err)
	}
	return dir, func() {
		if err := os.RemoveAll(dir); err != nil {
			r.logger.Warn("removing work dir failed", slog.Any("error", err))
		}
	}, nil
}

// Entries counts what is inside the process directory (tests: 0 when idle).
func (r *Root) Entries() int {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return 0
	}
	return len(entries)
}

// Close removes the process directory and everything in it.
func (r *Root) Close() error {
	return os.RemoveAll(r.dir)
}
