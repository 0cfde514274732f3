package config_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/secret"
)

// secretVars are the variables of every secret.String field of Config,
// found by reflection, so a secret added later is covered.
func secretVars(t testing.TB) []string {
	t.Helper()
	var out []string
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for i := range rt.NumField() {
			f := rt.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			switch {
			case f.Type == reflect.TypeFor[secret.String]():
				if key == "" {
					t.Fatalf("secret field %s.%s has no env tag", rt.Name(), f.Name)
				}
				out = append(out, key)
			case f.Type.Kind() == reflect.Struct && key == "":
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[config.Config]())
	return out
}

func TestSecretVarsAreFoundByReflection(t *testing.T) {
	got := secretVars(t)
	for _, want := range []string{"DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "TEMPORAL_API_KEY",
		"WHATSAPP_DATABASE_URL", "LOG_HASH_KEY", "WABOT_PAYLOAD_KEYS", "WABOT_CODEC_TOKEN"} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("secret %s not found by reflection (found %v)", want, got)
		}
	}
}

// problemsOf returns the lines of a Load error, one per problem.
func problemsOf(t *testing.T, err error, what string) []string {
	t.Helper()
	var cfgErr *config.Error
	if !errors.As(err, &cfgErr) || len(cfgErr.Problems) == 0 {
		t.Fatalf("Load(%s) = %T %v, want a *config.Error", what, err, err)
	}
	out := make([]string, len(cfgErr.Problems))
	for i, p := range cfgErr.Problems {
		out[i] = p.Error()
	}
	return out
}

// namesVariable reports whether a problem is about key: it starts with the
// variable's name ("KEY: …"), or with the names of the variables whose
// relation it checks ("MIN, MAX: …").
func namesVariable(problem, key string) bool {
	names, _, ok := strings.Cut(problem, ": ")
	if !ok {
		return false
	}
	for _, n := range strings.Split(names, ", ") {
		if n == key {
			return true
		}
	}
	return false
}

// output is everything Load and `wabot config` show for an environment: the
// error, or the printed effective configuration.
func output(t *testing.T, environ []string) (string, error) {
	t.Helper()
	cfg, err := config.Load(environ)
	if err != nil {
		return err.Error(), err
	}
	var b bytes.Buffer
	if err := cfg.Print(&b); err != nil {
		t.Fatal(err)
	}
	return b.String(), nil
}

// FuzzLoad feeds arbitrary values to the configuration's variables. Load
// must never panic. A value Load rejects yields a *config.Error whose every
// problem names the exact variable that was set to it (each variable is
// also loaded alone). A secret's value never appears in the error or in the
// printed configuration, unless it appears there without it too.
func FuzzLoad(f *testing.F) {
	vars, err := config.Variables()
	if err != nil {
		f.Fatal(err)
	}
	keys := make([]string, 0, len(vars))
	for _, v := range vars {
		keys = append(keys, v.Key)
	}
	secrets := secretVars(f)
	f.Add(uint8(0), "json", uint8(1), "")
	f.Add(uint8(3), "postgres://u:hunter2@db:5432/wabot", uint8(5), "12")
	f.Add(uint8(7), "-5s", uint8(9), "true")
	f.Add(uint8(11), "redis://:pa ss@[::1", uint8(13), "999999999999999999999")
	for i, k := range keys { // every secret, with a valid-looking and a broken value
		for _, s := range secrets {
			if k == s {
				f.Add(uint8(i), "postgres://u:hunter2-secret-value@db/x", uint8(i+1), "x")
				f.Add(uint8(i), "not a url but a secret hunter2", uint8(i+1), "yes")
			}
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, a string, j uint8, b string) {
		ka, kb := keys[int(i)%len(keys)], keys[int(j)%len(keys)]
		if strings.ContainsAny(a+b, "\x00") || ka == kb {
			t.Skip("an environment value cannot hold NUL; two different variables")
		}
		for _, kv := range [][2]string{{ka, a}, {kb, b}} {
			alone := kv[0] + "=" + kv[1]
			if _, err := config.Load([]string{alone}); err != nil {
				for _, p := range problemsOf(t, err, alone) {
					if !namesVariable(p, kv[0]) {
						t.Fatalf("Load(%s): problem %q does not name %s (the only variable set)", alone, p, kv[0])
					}
				}
			}
		}
		environ := []string{ka + "=" + a, kb + "=" + b}
		out, err := output(t, environ)
		if err != nil {
			problemsOf(t, err, strings.Join(environ, " "))
		}
		for _, kv := range [][2]string{{ka, a}, {kb, b}} {
			for _, s := range secrets {
				if kv[0] != s || len(kv[1]) < 6 || !strings.Contains(out, kv[1]) {
					continue
				}
				// The value may be text the output holds anyway (a default, a message).
				other := ka + "=" + a
				if kv[0] == ka {
					other = kb + "=" + b
				}
				without, _ := output(t, []string{other})
				if !strings.Contains(without, kv[1]) {
					t.Fatalf("the output shows the value of secret %s=%q:\n%s", s, kv[1], out)
				}
			}
		}
	})
}

// Every variable set alone to a value no type accepts is named, exactly, by
// every problem Load reports (what the fuzzer checks for random values).
func TestEveryBadVariableIsNamedExactly(t *testing.T) {
	vars, err := config.Variables()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vars {
		for _, bad := range []string{"x!", "-1", "99999999999999999999999"} {
			alone := v.Key + "=" + bad
			if _, err := config.Load([]string{alone}); err != nil {
				for _, p := range problemsOf(t, err, alone) {
					if !namesVariable(p, v.Key) {
						t.Errorf("Load(%s): problem %q does not name %s (the only variable set)", alone, p, v.Key)
					}
				}
			}
		}
	}
}
