package ratelimit_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/ratelimit"
	"github.com/wabot/wabot/internal/testkit"
)

// TestAllowUnderConcurrency: many goroutines race for a bucket; the limit
// is admitted, plus at most the tokens that refilled while they raced (one
// per minute/limit: a slow machine may span a refill, which is correct), and
// the refused ones learn when to come back.
func TestAllowUnderConcurrency(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		limit      int
		goroutines int
	}{
		{"small", 5, 50},
		{"medium", 40, 200},
		{"exact", 30, 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rdb, prefix := testkit.Redis(t)
			l, err := ratelimit.New(rdb, prefix)
			require.NoError(t, err)
			var admitted, refused atomic.Int64
			var wg sync.WaitGroup
			began := time.Now()
			for range tc.goroutines {
				wg.Go(func() {
					res, err := l.Allow(t.Context(), "user", "u1", tc.limit)
					if err != nil {
						t.Error(err)
						return
					}
					if res.Allowed {
						admitted.Add(1)
						return
					}
					if res.RetryAfter <= 0 {
						t.Error("refused without a retry time")
					}
					refused.Add(1)
				})
			}
			wg.Wait()
			refills := int64(time.Since(began)/(time.Minute/time.Duration(tc.limit))) + 1
			require.Equal(t, int64(tc.goroutines), admitted.Load()+refused.Load())
			require.GreaterOrEqual(t, admitted.Load(), min(int64(tc.limit), int64(tc.goroutines)), "the burst is the limit")
			require.LessOrEqual(t, admitted.Load(), int64(tc.limit)+refills, "more than the limit plus the tokens refilled meanwhile")
		})
	}
}

func TestBucketsAreSeparateAndZeroIsUnlimited(t *testing.T) {
	t.Parallel()
	rdb, prefix := testkit.Redis(t)
	l, err := ratelimit.New(rdb, prefix)
	require.NoError(t, err)
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		res, err := l.Allow(ctx, "user", id, 1)
		require.NoError(t, err)
		require.True(t, res.Allowed, id)
	}
	res, err := l.Allow(ctx, "user", "a", 1)
	require.NoError(t, err)
	require.False(t, res.Allowed)
	for range 100 {
		res, err := l.Allow(ctx, "global", "all", 0)
		require.NoError(t, err)
		require.True(t, res.Allowed)
	}
}

func TestOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	rdb, prefix := testkit.Redis(t)
	l, err := ratelimit.New(rdb, prefix)
	require.NoError(t, err)
	var firsts atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			ok, err := l.Once(t.Context(), "notice:u1", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(1), firsts.Load())
}
