package testkit

import (
	"fmt"
	"testing"
	"time"
)

// pollInterval is how often WaitFor checks its condition.
const pollInterval = 10 * time.Millisecond

// WaitFor calls cond every 10ms until it returns true, and fails the test
// (t.Fatal) if it has not within timeout. msgAndArgs describe what was
// awaited, as in testify: a format string and its arguments, or any values.
// Call it from the test's goroutine. Tests wait with it and never sleep.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	if cond() {
		return
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return
			}
		case <-deadline.C:
			if cond() { // one last look: the tick and the deadline may race
				return
			}
			t.Fatalf("testkit: condition not met within %v: %s", timeout, describe(msgAndArgs))
			return
		}
	}
}

func describe(msgAndArgs []any) string {
	switch {
	case len(msgAndArgs) == 0:
		return "(no description)"
	case len(msgAndArgs) == 1:
		return fmt.Sprint(msgAndArgs[0])
	}
	if format, ok := msgAndArgs[0].(string); ok {
		return fmt.Sprintf(format, msgAndArgs[1:]...)
	}
	return fmt.Sprint(msgAndArgs...)
}
