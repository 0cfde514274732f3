// Package config is the bot's configuration: one struct tree parsed from the
// environment with caarlos0/env, built from each package's own part. Load
// reports every bad variable at once, by name; secrets are typed so printing
// the configuration masks them. Only cmd/ calls Load.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/loopback"
	"github.com/wabot/wabot/internal/payloadcodec"
	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/internal/store"
)

// Config is the whole configuration of the wabot binaries.
type Config struct {
	Log      logging.Config
	Database store.Config
	Redis    Redis
	Temporal Temporal
	OpenAI   llm.Config
	Bot      activities.Config
	Media    activities.MediaConfig
	Gov      governance.Config
	// Compliance: retention sweeps, export, wipe, audit verification.
	Compliance activities.ComplianceConfig
	Gateway    Gateway
	WhatsApp   WhatsApp
	HTTP       HTTP
}

// Redis locates the Redis server (rate limits, admin sessions, caches).
type Redis struct {
	URL       secret.String `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	KeyPrefix string        `env:"REDIS_KEY_PREFIX" envDefault:"wabot:"`
}

// Temporal locates the Temporal cluster.
type Temporal struct {
	Address   string        `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	Namespace string        `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	TaskQueue string        `env:"TEMPORAL_TASK_QUEUE" envDefault:"wabot-ai"`
	APIKey    secret.String `env:"TEMPORAL_API_KEY"` // Temporal Cloud API key; implies TLS
	TLS       bool          `env:"TEMPORAL_TLS" envDefault:"false"`
	// Compression of gRPC requests to the server: auto (none for a loopback
	// address, where compressing only costs CPU; gzip otherwise), gzip, none.
	Compression string `env:"TEMPORAL_GRPC_COMPRESSION" envDefault:"auto"`
	// WorkerConcurrency bounds concurrent activity and workflow tasks per worker.
	WorkerConcurrency int `env:"TEMPORAL_WORKER_CONCURRENCY" envDefault:"100"`
	// Pollers is the number of workflow-task and of activity-task pollers of
	// the AI worker: 0 keeps the SDK's default (2 each), -1 lets the SDK
	// scale them with the load. Measured in BENCHMARKS.md (Tuning).
	Pollers int `env:"TEMPORAL_POLLERS" envDefault:"0"`
	// StickyCacheSize is how many workflows a worker process keeps in memory
	// between tasks (0: the SDK's default, 10,000). A workflow pushed out of
	// the cache is replayed from its history on its next task.
	StickyCacheSize int `env:"TEMPORAL_STICKY_CACHE_SIZE" envDefault:"0"`
	// Payload encrypts payloads in Temporal's history (compliance).
	Payload payloadcodec.Config
}

// GzipRequests tells whether gRPC requests to the server are compressed:
// always with "gzip", never with "none", and with "auto" unless the server
// is on a loopback address.
func (t Temporal) GzipRequests() bool {
	switch t.Compression {
	case "gzip":
		return true
	case "none":
		return false
	}
	return !loopback.Addr(t.Address)
}

// Gateway is the transport-independent gateway behaviour.
type Gateway struct {
	MaxOfflineAge   time.Duration `env:"GATEWAY_MAX_OFFLINE_AGE" envDefault:"6h"`
	ChatIdleTimeout time.Duration `env:"GATEWAY_CHAT_IDLE_TIMEOUT" envDefault:"10m"`
	// ViewOnce lets view-once media be opened (downloaded, shown to a model).
	ViewOnce bool `env:"GATEWAY_VIEW_ONCE" envDefault:"false"`
	// AckReaction is the emoji the bot reacts with to a message it works on
	// (removed once answered); empty: none.
	AckReaction string `env:"GATEWAY_ACK_REACTION"`
	// BurstWindow: texts a sender types in a row, each within this of the
	// last, are answered together in one turn (0: answer each at once).
	BurstWindow time.Duration `env:"GATEWAY_BURST_WINDOW" envDefault:"1500ms"`
	// BurstMax caps the whole wait for a burst.
	BurstMax time.Duration `env:"GATEWAY_BURST_MAX" envDefault:"6s"`
	// TakeoverPause: after the owner wrote in a chat by hand from the phone,
	// the bot stays silent there this long (each manual message restarts it).
	TakeoverPause time.Duration `env:"GATEWAY_TAKEOVER_PAUSE" envDefault:"30m"`
}

// WhatsApp is the real WhatsApp connection.
type WhatsApp struct {
	Enabled bool   `env:"WHATSAPP_ENABLED" envDefault:"false"`
	Account string `env:"WHATSAPP_ACCOUNT" envDefault:"main"`
	// DatabaseURL is whatsmeow's own store (its table check ignores schemas,
	// so it gets a database of its own).
	DatabaseURL secret.String `env:"WHATSAPP_DATABASE_URL" envDefault:"postgres://127.0.0.1:5432/wabot_whatsmeow?sslmode=disable"`
	// PairPhone, when set, links by pair code for this number instead of a QR code.
	PairPhone string `env:"WHATSAPP_PAIR_PHONE"`
}

// HTTP is where each process listens.
type HTTP struct {
	AdminAddr     string `env:"ADMIN_ADDR" envDefault:"127.0.0.1:9090"`     // health (and metrics)
	LocalChatAddr string `env:"LOCALCHAT_ADDR" envDefault:"127.0.0.1:8080"` // local chat page (dev)
	// LocalChatToken is the access token the chat page asks for once; it is
	// required when LOCALCHAT_ADDR is not a loopback address.
	LocalChatToken secret.String `env:"LOCALCHAT_TOKEN"`
	// LocalChatRealNumbers lets the chat page send as any number while a real
	// WhatsApp number is linked. Off, it sends only as numbers starting with 0,
	// which no real number does, so it never acts as a real person (their
	// role, memory, export or wipe).
	LocalChatRealNumbers bool `env:"LOCALCHAT_REAL_NUMBERS" envDefault:"false"`
	// Pprof serves net/http/pprof under /debug/pprof/ on the admin server;
	// refused unless ADMIN_ADDR is a loopback address.
	Pprof bool `env:"ADMIN_PPROF" envDefault:"false"`
}

// minLocalChatToken is the shortest LOCALCHAT_TOKEN accepted.
const minLocalChatToken = 16

// Validate reports addresses that are not host:port, a chat page or a
// profiler exposed beyond this machine without protection, and a short token.
func (h HTTP) Validate() []error {
	var errs []error
	for name, addr := range map[string]string{"ADMIN_ADDR": h.AdminAddr, "LOCALCHAT_ADDR": h.LocalChatAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", name, addr))
		}
	}
	if tok := h.LocalChatToken.Reveal(); tok != "" && len(tok) < minLocalChatToken {
		errs = append(errs, fmt.Errorf("LOCALCHAT_TOKEN: shorter than %d characters", minLocalChatToken))
	}
	if !loopback.Addr(h.LocalChatAddr) && !h.LocalChatToken.IsSet() {
		errs = append(errs, fmt.Errorf("LOCALCHAT_ADDR: %q is reachable from other machines; set LOCALCHAT_TOKEN (at least %d characters) or listen on 127.0.0.1", h.LocalChatAddr, minLocalChatToken))
	}
	if h.Pprof && !loopback.Addr(h.AdminAddr) {
		errs = append(errs, fmt.Errorf("ADMIN_PPROF: the profiler may only be served on a loopback ADMIN_ADDR, not %q", h.AdminAddr))
	}
	return errs
}

// Load parses environ ("KEY=value" pairs, as os.Environ returns) into a
// Config and validates it. The error names every bad variable.
func Load(environ []string) (Config, error) {
	vars := env.ToMap(environ)
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: vars})
	var errs []error
	if err != nil {
		errs = append(errs, namedParseErrors(err)...)
	}
	errs = append(errs, cfg.validate()...)
	if len(errs) > 0 {
		return Config{}, &Error{Problems: errs}
	}
	return cfg, nil
}

// Error lists every problem found in the configuration.
type Error struct{ Problems []error }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  - " + p.Error()
	}
	slices.Sort(lines)
	return fmt.Sprintf("invalid configuration (%d problems):\n%s", len(lines), strings.Join(lines, "\n"))
}

func (c Config) validate() []error {
	var errs []error
	errs = append(errs, c.Log.Validate()...)
	errs = append(errs, c.OpenAI.Validate()...)
	errs = append(errs, c.Bot.Validate()...)
	errs = append(errs, c.Media.Validate()...)
	errs = append(errs, c.Gov.Validate()...)
	errs = append(errs, c.Compliance.Validate()...)
	errs = append(errs, c.Temporal.Payload.Validate()...)
	errs = append(errs, checkURL("DATABASE_URL", c.Database.URL.Reveal(), "postgres", "postgresql")...)
	errs = append(errs, checkURL("REDIS_URL", c.Redis.URL.Reveal(), "redis", "rediss", "unix")...)
	if c.WhatsApp.Enabled {
		errs = append(errs, checkURL("WHATSAPP_DATABASE_URL", c.WhatsApp.DatabaseURL.Reveal(), "postgres", "postgresql")...)
	}
	if c.Database.MaxConns < 1 || c.Database.MaxConns > 1000 {
		errs = append(errs, fmt.Errorf("DATABASE_MAX_CONNS: %d is not between 1 and 1000", c.Database.MaxConns))
	}
	if _, _, err := net.SplitHostPort(c.Temporal.Address); err != nil {
		errs = append(errs, fmt.Errorf("TEMPORAL_ADDRESS: %q is not host:port", c.Temporal.Address))
	}
	errs = append(errs, c.HTTP.Validate()...)
	if c.Temporal.Namespace == "" {
		errs = append(errs, errors.New("TEMPORAL_NAMESPACE: must not be empty"))
	}
	if !validName(c.Temporal.TaskQueue) {
		errs = append(errs, fmt.Errorf("TEMPORAL_TASK_QUEUE: %q must be letters, digits, '-' or '_'", c.Temporal.TaskQueue))
	}
	if !validName(c.WhatsApp.Account) {
		errs = append(errs, fmt.Errorf("WHATSAPP_ACCOUNT: %q must be letters, digits, '-' or '_'", c.WhatsApp.Account))
	}
	if !slices.Contains([]string{"auto", "gzip", "none"}, c.Temporal.Compression) {
		errs = append(errs, fmt.Errorf("TEMPORAL_GRPC_COMPRESSION: %q is not auto, gzip or none", c.Temporal.Compression))
	}
	if c.Temporal.WorkerConcurrency < 1 || c.Temporal.WorkerConcurrency > 10000 {
		errs = append(errs, fmt.Errorf("TEMPORAL_WORKER_CONCURRENCY: %d is not between 1 and 10000", c.Temporal.WorkerConcurrency))
	}
	if c.Temporal.Pollers < -1 || c.Temporal.Pollers > 100 {
		errs = append(errs, fmt.Errorf("TEMPORAL_POLLERS: %d is not -1 (autoscaling), 0 (default) or between 1 and 100", c.Temporal.Pollers))
	}
	if c.Temporal.StickyCacheSize < 0 {
		errs = append(errs, fmt.Errorf("TEMPORAL_STICKY_CACHE_SIZE: %d is negative", c.Temporal.StickyCacheSize))
	}
	if c.Gateway.ChatIdleTimeout < time.Second {
		errs = append(errs, fmt.Errorf("GATEWAY_CHAT_IDLE_TIMEOUT: %s is shorter than 1s", c.Gateway.ChatIdleTimeout))
	}
	if c.Gateway.BurstWindow < 0 || c.Gateway.BurstWindow > 10*time.Second {
		errs = append(errs, fmt.Errorf("GATEWAY_BURST_WINDOW: %s is not within 0s..10s", c.Gateway.BurstWindow))
	}
	if c.Gateway.BurstMax < c.Gateway.BurstWindow {
		errs = append(errs, fmt.Errorf("GATEWAY_BURST_MAX: %s is shorter than GATEWAY_BURST_WINDOW", c.Gateway.BurstMax))
	}
	if c.Gateway.TakeoverPause < time.Second {
		errs = append(errs, fmt.Errorf("GATEWAY_TAKEOVER_PAUSE: %s is shorter than 1s", c.Gateway.TakeoverPause))
	}
	if c.Gateway.MaxOfflineAge < 0 {
		errs = append(errs, fmt.Errorf("GATEWAY_MAX_OFFLINE_AGE: %s is negative", c.Gateway.MaxOfflineAge))
	}
	return errs
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

// checkURL reports a URL that does not parse or has another scheme. The
// message never repeats the value: it may hold a password.
func checkURL(name, raw string, schemes ...string) []error {
	u, err := url.Parse(raw)
	if err != nil || !slices.Contains(schemes, u.Scheme) {
		return []error{fmt.Errorf("%s: not a valid %s URL", name, schemes[0])}
	}
	return nil
}

// namedParseErrors rewrites caarlos0/env's errors, which name Go fields, to
// name the environment variables, without repeating the bad value.
func namedParseErrors(err error) []error {
	agg, ok := errors.AsType[env.AggregateError](err)
	if !ok {
		return []error{err}
	}
	keys := fieldKeys(reflect.TypeFor[Config]())
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		if pe, ok := errors.AsType[env.ParseError](e); ok {
			key := keys[pe.Name]
			if key == "" {
				key = pe.Name
			}
			out = append(out, fmt.Errorf("%s: not a valid %s", key, typeName(pe.Type)))
			continue
		}
		out = append(out, e)
	}
	return out
}

// fieldKeys maps Go field names to their env keys over the whole tree. Field
// names of parseable leaf fields are unique enough here; a clash keeps the first.
func fieldKeys(t reflect.Type) map[string]string {
	keys := map[string]string{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := f.Tag.Get("env"); tag != "" {
				if _, dup := keys[f.Name]; !dup {
					keys[f.Name], _, _ = strings.Cut(tag, ",")
				}
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type)
			}
		}
	}
	walk(t)
	return keys
}

func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "duration (e.g. 90s, 10m, 720h)"
	case t.Kind() == reflect.Bool:
		return "boolean (true or false)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return "number"
	default:
		return t.String()
	}
}

// Print writes the effective configuration as indented JSON, secrets masked.
func (c Config) Print(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// Variables lists every environment variable with its default, for docs and
// `wabot config --vars`.
func Variables() ([]env.FieldParams, error) {
	return env.GetFieldParams(&Config{})
}
