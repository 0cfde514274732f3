// Package ratelimit is the bot's rate limiting in Redis: atomic GCRA limits
// (go-redis/redis_rate, one Lua script per check) per user, per chat and for
// the whole bot, and a once-per-window flag so a limited user gets one notice,
// not one per message.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limiter checks limits. It is safe for concurrent use across processes: the
// state lives in Redis and each check is one atomic script.
type Limiter struct {
	rdb    *redis.Client
	rl     *redis_rate.Limiter
	prefix string
}

// New returns a Limiter whose keys go under prefix.
func New(rdb *redis.Client, prefix string) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("ratelimit: redis client is required")
	}
	return &Limiter{rdb: rdb, rl: redis_rate.NewLimiter(rdb), prefix: prefix}, nil
}

// Result is the outcome of one check.
type Result struct {
	Allowed    bool
	RetryAfter time.Duration // when over the limit: how long until one more is allowed
}

// Allow takes one event from the bucket scope/id, which allows perMinute
// events a minute with a burst of perMinute. perMinute <= 0 means unlimited.
func (l *Limiter) Allow(ctx context.Context, scope, id string, perMinute int) (Result, error) {
	if perMinute <= 0 {
		return Result{Allowed: true}, nil
	}
	res, err := l.rl.Allow(ctx, l.prefix+"rl:"+scope+":"+id, redis_rate.PerMinute(perMinute))
	if err != nil {
		return Result{}, fmt.Errorf("checking %s rate limit: %w", scope, err)
	}
	if res.Allowed > 0 {
		return Result{Allowed: true}, nil
	}
	return Result{RetryAfter: max(res.RetryAfter, time.Millisecond)}, nil
}

// Once reports true for the first caller of key within ttl, false for every
// other caller until it expires (SET NX): one notice per window.
func (l *Limiter) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := l.rdb.SetNX(ctx, l.prefix+"once:"+key, "1", max(ttl, time.Second)).Result()
	if err != nil {
		return false, fmt.Errorf("setting notice flag: %w", err)
	}
	return ok, nil
}
