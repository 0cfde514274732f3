package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wabot/wabot/internal/config"
)

// FuzzLoad feeds arbitrary values to the configuration's variables. Load must
// never panic; a rejected value must yield a *config.Error that names the
// variable; a secret's value must never appear in the error.
func FuzzLoad(f *testing.F) {
	vars, err := config.Variables()
	if err != nil {
		f.Fatal(err)
	}
	keys := make([]string, 0, len(vars))
	for _, v := range vars {
		keys = append(keys, v.Key)
	}
	f.Add(uint8(0), "json", uint8(1), "")
	f.Add(uint8(3), "postgres://u:hunter2@db:5432/wabot", uint8(5), "12")
	f.Add(uint8(7), "-5s", uint8(9), "true")
	f.Add(uint8(11), "redis://:pa ss@[::1", uint8(13), "999999999999999999999")
	f.Fuzz(func(t *testing.T, i uint8, a string, j uint8, b string) {
		ka, kb := keys[int(i)%len(keys)], keys[int(j)%len(keys)]
		if strings.ContainsAny(a+b, "\x00") {
			t.Skip("an environment value cannot hold NUL")
		}
		_, err := config.Load([]string{ka + "=" + a, kb + "=" + b})
		if err == nil {
			return
		}
		var cfgErr *config.Error
		if !errors.As(err, &cfgErr) || len(cfgErr.Problems) == 0 {
			t.Fatalf("Load(%s=%q, %s=%q) = %T %v, want a *config.Error", ka, a, kb, b, err, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, ka) && !strings.Contains(msg, kb) && !strings.Contains(msg, "_") {
			t.Fatalf("error names no variable: %s", msg)
		}
		for _, secretVar := range []string{"DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "TEMPORAL_API_KEY", "WHATSAPP_DATABASE_URL", "LOG_HASH_KEY"} {
			for _, kv := range [][2]string{{ka, a}, {kb, b}} {
				if kv[0] == secretVar && len(kv[1]) >= 8 && strings.Contains(msg, kv[1]) {
					t.Fatalf("the error shows the value of secret %s: %s", secretVar, msg)
				}
			}
		}
	})
}
