package testkit

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const defaultRedisURL = "redis://127.0.0.1:6379/0"

// Redis returns a client on the test Redis and a key prefix of the form
// "wabot_test:<random>:" unique to this test: the test must put every key it
// creates under the prefix. t.Cleanup deletes the keys with the prefix and
// closes the client.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	raw := os.Getenv("WABOT_TEST_REDIS_URL")
	if raw == "" {
		raw = defaultRedisURL
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("testkit: parsing WABOT_TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	prefix := "wabot_test:" + randomHex(8) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := deleteKeys(ctx, client, prefix); err != nil {
			t.Errorf("testkit: deleting redis keys %s*: %v", prefix, err)
		}
		if err := client.Close(); err != nil {
			t.Errorf("testkit: closing redis client: %v", err)
		}
	})
	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("testkit: connecting to redis at %s: %v", opts.Addr, err)
	}
	return client, prefix
}

// deleteKeys unlinks every key starting with prefix (which holds no glob
// characters).
func deleteKeys(ctx context.Context, client *redis.Client, prefix string) error {
	iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := client.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return client.Unlink(ctx, batch...).Err()
	}
	return nil
}
