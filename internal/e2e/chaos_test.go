package e2e_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/testkit"
)

var chaosLong = flag.Bool("chaos-long", false, "TestChaos: the long version (make chaos): more load, every fault three times")

// chaosLoad sends messages at a steady pace from a few users, re-sending a
// message with the same ID while the gateway does not acknowledge it, as
// WhatsApp redelivers.
type chaosLoad struct {
	h     *harness
	mu    sync.Mutex
	ids   []string
	users map[string]string // message ID -> user
	wg    sync.WaitGroup
}

func (l *chaosLoad) run(ctx context.Context, users int, every time.Duration) {
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("CHAOS%08d", i)
		user := fmt.Sprintf("49151777%05d", i%users)
		l.mu.Lock()
		l.ids = append(l.ids, id)
		l.users[id] = user
		l.mu.Unlock()
		l.wg.Go(func() {
			for {
				_, err := l.h.transport.Receive(context.WithoutCancel(ctx), localchat.Incoming{From: user, Text: "chaos " + id, ID: id})
				if err == nil {
					return
				}
				<-time.After(200 * time.Millisecond) // not acknowledged: WhatsApp redelivers it a little later
			}
		})
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

// fault is one injected fault: how long the broken part was down (zero for
// the LLM's faults), when the fault ended and how long the first reply after
// that took.
type fault struct {
	name      string
	down      time.Duration
	ended     time.Time
	recovered time.Duration
}

// recovered waits (up to a minute) for the first reply sent after the fault
// ended, so the next fault starts on a working system and each recovery time
// is its own.
func (h *harness) recovered(f fault) fault {
	h.t.Helper()
	f.recovered = -1
	deadline := time.After(time.Minute)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, s := range h.transport.SentMessages() {
			if s.At.After(f.ended) {
				f.recovered = s.At.Sub(f.ended)
				return f
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			return f // not recovered within a minute: reported as -1
		}
	}
}

// TestChaos runs a steady load while it kills and restarts the worker
// process, takes the gateway down and up (messages go unacknowledged and are
// redelivered), stops and starts Redis (its keys are lost: nothing is kept
// on disk), restarts PostgreSQL and makes the LLM answer 429, 500 and hang.
// Redis and PostgreSQL are servers of this test's own (testkit.PrivateRedis,
// PrivatePostgres): the shared ones serve every other test package at the
// same time. Every message must get exactly one reply. It reports how long
// each part was down and how long the first reply took after each fault
// ended. The short version runs in `make test`; -chaos-long (make chaos)
// repeats it three times with more load, then keeps PostgreSQL down for
// 30 s, and also requires that no reply was an error message.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos needs the embedded Temporal server and a worker process")
	}
	t.Parallel()
	pg := testkit.PrivatePostgres(t)
	rds := testkit.PrivateRedis(t)
	// Rate limits are governance's business, not chaos's: checked in Redis
	// on every message, as in production, but too high to refuse any.
	h := setup(t, options{databaseURL: pg.URL(), redisURL: rds.URL(), env: []string{"OPENAI_TIMEOUT=2s",
		"RATE_USER_PER_MINUTE=1000000", "RATE_CHAT_PER_MINUTE=1000000", "RATE_GLOBAL_PER_MINUTE=1000000"}})
	worker := startWorker(t, h)
	rounds, users, every := 1, 4, 150*time.Millisecond
	if *chaosLong {
		rounds, users, every = 3, 20, 50*time.Millisecond
	}
	load := &chaosLoad{h: h, users: map[string]string{}}
	loadCtx, stopLoad := context.WithCancel(h.ctx)
	defer stopLoad()
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); load.run(loadCtx, users, every) }()

	pause := time.Sleep // faults are spaced in time on purpose: this is not waiting for a condition
	var faults []fault
	// outage takes a part down with stop, keeps it down for the given time,
	// brings it back with start and waits for the first reply after that.
	outageFor := func(name string, round int, down time.Duration, stop, start func()) {
		pause(time.Second)
		began := time.Now()
		stop()
		pause(down)
		start()
		ended := time.Now()
		faults = append(faults, h.recovered(fault{name: fmt.Sprintf("%s (round %d)", name, round+1), down: ended.Sub(began), ended: ended}))
	}
	outage := func(name string, round int, stop, start func()) { outageFor(name, round, time.Second, stop, start) }
	for round := range rounds {
		pause(time.Second)
		h.fake.Enqueue(openaifake.Fault{Status: 429, RetryAfter: time.Second}, openaifake.Fault{Status: 429, RetryAfter: time.Second},
			openaifake.Fault{Status: 500}, openaifake.Fault{Status: 500}, openaifake.Fault{Hang: true})
		faults = append(faults, h.recovered(fault{name: fmt.Sprintf("LLM 429×2, 500×2, hang (round %d)", round+1), ended: time.Now()}))

		outage("worker SIGKILL + restart", round, func() {
			require.NoError(t, worker.Process.Signal(syscall.SIGKILL))
			_ = worker.Wait()
		}, func() { worker = startWorker(t, h) })

		outage("gateway down 1 s + restart, redelivery", round, func() {
			h.transport.SetHandler(func(any) bool { return false }) // the gateway is gone: nothing is acknowledged
			h.gw.Worker.Stop()
		}, h.startGateway)

		outage("Redis stop + start (down 1 s)", round, func() { rds.Stop(t) }, func() { rds.Start(t) })

		outage("PostgreSQL restart (down 1 s)", round, func() { pg.Stop(t) }, func() { pg.Start(t) })
	}
	if *chaosLong {
		// Longer than the LLM step's five quick attempts (~15 s): the turn
		// waits for the database instead of giving up with an error reply.
		outageFor("PostgreSQL down 30 s", 0, 30*time.Second, func() { pg.Stop(t) }, func() { pg.Start(t) })
	}
	pause(time.Second)
	stopLoad()
	<-loadDone
	load.wg.Wait()

	load.mu.Lock()
	ids := append([]string(nil), load.ids...)
	load.mu.Unlock()
	replyOf := map[string]string{} // reply ID -> message ID
	for _, id := range ids {
		replyOf[message.ReplyID(h.account, id, 0)] = id
	}
	var counts map[string]int
	var resent, foreign, errReplies int
	require.Eventually(t, func() bool {
		counts, resent, foreign, errReplies = map[string]int{}, 0, 0, 0
		seen := map[string]bool{}
		for _, s := range h.transport.SentMessages() {
			id, ok := replyOf[s.ID]
			if !ok {
				foreign++
				continue
			}
			if seen[s.ID] {
				resent++ // the same reply ID again: WhatsApp shows it once
				continue
			}
			seen[s.ID] = true
			counts[id]++
			if s.Text != "You said: chaos "+id { // the fake LLM's answer, or else an error message with its code
				errReplies++
			}
		}
		return len(counts) == len(ids)
	}, 3*time.Minute, 200*time.Millisecond, "replies: %d of %d messages", len(counts), len(ids))

	lost, dups := 0, foreign
	for _, id := range ids {
		switch n := counts[id]; {
		case n == 0:
			lost++
		case n > 1:
			dups += n - 1
		}
	}
	var report strings.Builder
	fmt.Fprintf(&report, "%d messages from %d users: %d lost, %d duplicates (%d same-ID re-sends, which WhatsApp shows once); %d replies were error messages\n",
		len(ids), users, lost, dups, resent, errReplies)
	for _, f := range faults {
		down := ""
		if f.down > 0 {
			down = "down " + f.down.Round(time.Millisecond).String() + ","
		}
		fmt.Fprintf(&report, "  %-52s %-14s first reply after %v\n", f.name, down, f.recovered.Round(time.Millisecond))
	}
	t.Log("\n" + report.String())
	require.Zero(t, lost)
	require.Zero(t, dups)
	if *chaosLong { // the short run's timing on a loaded CI machine is too tight to promise this
		require.Zero(t, errReplies, "every fault is retried until it heals: no error replies")
	}
}
