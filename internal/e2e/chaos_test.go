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

// recovered waits (up to maxRecovery) for the first reply sent after the fault
// ended, so the next fault starts on a working system and each recovery time
// is its own.
func (h *harness) recovered(f fault) fault {
	h.t.Helper()
	f.recovered = -1
	deadline := time.After(maxRecovery)
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
			return f // not recovered within maxRecovery: reported as -1
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
// ended, and requires that no reply was an error message, no message got two
// different replies and every fault healed within maxRecovery. The short
// version runs in `make test`; -chaos-long (make chaos) repeats it three
// times with more load, then keeps PostgreSQL down for 30 s.
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
	var tally chaosTally
	require.Eventually(t, func() bool {
		tally = tallyReplies(h.account, ids, h.transport.SentMessages())
		return tally.answered+tally.errReplies >= len(ids)
	}, 3*time.Minute, 200*time.Millisecond, "replies: %d of %d messages", tally.answered+tally.errReplies, len(ids))

	var report strings.Builder
	fmt.Fprintf(&report, "%d messages from %d users: %d answered, %d lost, %d error replies, %d duplicates (%d same-ID re-sends, which WhatsApp shows once), %d messages answering no inbound message\n",
		len(ids), users, tally.answered, tally.lost(len(ids)), tally.errReplies, tally.dups, tally.resent, tally.foreign)
	var slow []string
	for _, f := range faults {
		down := ""
		if f.down > 0 {
			down = "down " + f.down.Round(time.Millisecond).String() + ","
		}
		rec := "not within " + maxRecovery.String()
		if f.recovered >= 0 {
			rec = f.recovered.Round(time.Millisecond).String()
		}
		fmt.Fprintf(&report, "  %-52s %-14s first reply after %s\n", f.name, down, rec)
		if f.recovered < 0 || f.recovered > maxRecovery {
			slow = append(slow, f.name)
		}
	}
	t.Log("\n" + report.String())
	require.Zero(t, tally.lost(len(ids)), "messages without their answer (an error reply is not an answer)")
	require.Zero(t, tally.errReplies, "every fault is retried until it heals: no error replies; first: %s", tally.firstErr)
	require.Zero(t, tally.dups, "two different replies to one message (or a reply to none) is a duplicate")
	require.Zero(t, tally.foreign, "messages that answer no inbound message")
	require.Empty(t, slow, "faults after which no reply came within %v", maxRecovery)
}

// maxRecovery bounds how long the first reply may take after a fault ended
// (generous: a loaded CI machine; the figures are in the report).
const maxRecovery = time.Minute

// chaosTally counts what the users saw, per inbound message.
type chaosTally struct {
	answered   int // messages whose one reply is the model's answer
	errReplies int // messages whose reply was an error message (not delivered)
	dups       int // extra distinct replies to one message
	resent     int // the same reply ID sent again (WhatsApp shows it once)
	foreign    int // messages sent that answer no inbound message
	firstErr   string
}

func (c chaosTally) lost(total int) int { return total - c.answered }

// maxRepliesPerMessage is how many reply IDs (message.ReplyID's n) of one
// inbound message the tally attributes to it; a text answer uses n = 0.
const maxRepliesPerMessage = 4

// tallyReplies attributes every sent message to the inbound message whose
// reply it is (by reply ID). A message is answered when its first reply is
// the fake LLM's answer; an error message under the answer's reply ID does
// not count as delivered; a second distinct reply to one message is a
// duplicate.
func tallyReplies(account string, ids []string, sent []localchat.Sent) chaosTally {
	type slot struct {
		id string
		n  int
	}
	owner := map[string]slot{}
	for _, id := range ids {
		for n := range maxRepliesPerMessage {
			owner[message.ReplyID(account, id, n)] = slot{id, n}
		}
	}
	var c chaosTally
	first := map[string]string{}     // reply ID -> first text sent under it
	replies := map[string][]string{} // inbound ID -> distinct reply IDs
	for _, s := range sent {
		o, ok := owner[s.ID]
		if !ok {
			c.foreign++
			continue
		}
		if _, seen := first[s.ID]; seen {
			c.resent++
			continue
		}
		first[s.ID] = s.Text
		replies[o.id] = append(replies[o.id], s.ID)
	}
	for _, id := range ids {
		rs := replies[id]
		if len(rs) == 0 {
			continue
		}
		c.dups += len(rs) - 1
		if text := first[rs[0]]; text == "You said: chaos "+id { // the fake LLM's answer
			c.answered++
		} else {
			c.errReplies++
			if c.firstErr == "" {
				c.firstErr = fmt.Sprintf("%s got %q", id, text)
			}
		}
	}
	return c
}

// The tally counts per inbound message: an error under the answer's reply
// ID is not delivered, a second distinct reply is a duplicate, a re-send of
// the same ID is not, and a message answering nothing is counted.
func TestChaosTallyCountsPerInboundMessage(t *testing.T) {
	const acct = "acct"
	ids := []string{"A", "B", "C", "D", "E"}
	sent := func(id string, n int, text string) localchat.Sent {
		return localchat.Sent{ID: message.ReplyID(acct, id, n), Text: text}
	}
	got := tallyReplies(acct, ids, []localchat.Sent{
		sent("A", 0, "You said: chaos A"),
		sent("A", 0, "You said: chaos A"), // same ID again
		sent("B", 0, "Sorry, the AI service is unavailable (LLM_UNAVAILABLE)"),
		sent("B", 0, "You said: chaos B"), // the answer after the error, same ID: WhatsApp shows the error
		sent("C", 0, "You said: chaos C"),
		sent("C", 1, "You said: chaos C"), // a second reply to C
		{ID: "3EB0FFFFFFFFFFFFFFFFFF", Text: "stray"},
		sent("E", 0, "You said: chaos E"),
	})
	require.Equal(t, 3, got.answered, "A, C, E")
	require.Equal(t, 2, got.lost(len(ids)), "B (error reply) and D (nothing)")
	require.Equal(t, 1, got.errReplies)
	require.Contains(t, got.firstErr, "LLM_UNAVAILABLE")
	require.Equal(t, 1, got.dups, "C")
	require.Equal(t, 2, got.resent)
	require.Equal(t, 1, got.foreign)
}
