package governance

import (
	"context"
	"fmt"
	"time"
)

// Admin sessions: privileged commands need one. A session is a Redis key per
// member whose TTL slides on every privileged command, so it closes after
// SessionTTL without use.

func (g *Governor) sessionKey(member string) string { return g.prefix + "sudo:" + member }

// SessionTTL is how long a session stays open without use.
func (g *Governor) SessionTTL() time.Duration { return g.sessionTTL }

// OpenSession opens (or renews) member's admin session.
func (g *Governor) OpenSession(ctx context.Context, member string) error {
	if err := g.rdb.Set(ctx, g.sessionKey(member), "1", g.sessionTTL).Err(); err != nil {
		return fmt.Errorf("opening admin session: %w", err)
	}
	return nil
}

// CloseSession closes member's admin session; it reports whether one was open.
func (g *Governor) CloseSession(ctx context.Context, member string) (bool, error) {
	n, err := g.rdb.Del(ctx, g.sessionKey(member)).Result()
	if err != nil {
		return false, fmt.Errorf("closing admin session: %w", err)
	}
	return n > 0, nil
}

// TouchSession reports whether member has an open session and, if so,
// slides its expiry to SessionTTL from now (one atomic EXPIRE).
func (g *Governor) TouchSession(ctx context.Context, member string) (bool, error) {
	ok, err := g.rdb.Expire(ctx, g.sessionKey(member), g.sessionTTL).Result()
	if err != nil {
		return false, fmt.Errorf("checking admin session: %w", err)
	}
	return ok, nil
}
