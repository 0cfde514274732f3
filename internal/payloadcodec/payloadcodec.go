// Package payloadcodec encrypts Temporal payloads (workflow inputs and
// results, activity arguments, signals, queries, heartbeat details) with
// AES-256-GCM before they leave the process, so message text and phone
// numbers in Temporal's history are unreadable without the key. It also
// serves the codec HTTP endpoint the Temporal Web UI calls to show decrypted
// payloads to an operator holding the bearer token.
//
// Keys rotate: the first key encrypts, every configured key decrypts (each
// payload names its key id), so old histories stay readable after a new key
// is put first. Remove an old key only when no history encrypted with it is
// still retained.
package payloadcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/internal/secret"
)

// Metadata keys and values of an encrypted payload.
const (
	// Encoding marks an encrypted payload; the original encoding is inside.
	Encoding     = "binary/encrypted-aes256gcm"
	metaEncoding = "encoding"
	metaKeyID    = "encryption-key-id"
)

// Config is the payload encryption part of the configuration.
type Config struct {
	// Keys is "id:base64key,id2:base64key2"; the first encrypts, all decrypt.
	// Each key is 32 bytes (AES-256), standard or URL base64. Empty: payloads
	// are stored in plain text (development only; the worker logs a warning).
	Keys secret.String `env:"WABOT_PAYLOAD_KEYS"`
	// Token is the bearer token the codec endpoint demands.
	Token secret.String `env:"WABOT_CODEC_TOKEN"`
	// Origins may call the codec endpoint from a browser (the Temporal Web UI).
	Origins []string `env:"WABOT_CODEC_ORIGINS" envSeparator:"," envDefault:"http://127.0.0.1:8233,http://localhost:8233"`
}

// Validate names every bad field.
func (c Config) Validate() []error {
	var errs []error
	if _, err := ParseKeys(c.Keys.Reveal()); err != nil {
		errs = append(errs, fmt.Errorf("WABOT_PAYLOAD_KEYS: %w", err))
	}
	if c.Token.IsSet() && len(c.Token.Reveal()) < 16 {
		errs = append(errs, errors.New("WABOT_CODEC_TOKEN: shorter than 16 characters"))
	}
	return errs
}

// Key is one named AES-256 key.
type Key struct {
	ID   string
	aead cipher.AEAD
}

// ParseKeys parses "id:base64key,…". An empty string yields no keys. Errors
// never quote key material.
func ParseKeys(s string) ([]Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var keys []Key
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || id == "" || b64 == "" {
			return nil, fmt.Errorf("entry %d is not id:base64key", i+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("key id %q appears twice", id)
		}
		seen[id] = true
		raw, err := decodeB64(b64)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("key %q is not 32 bytes of base64", id)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		keys = append(keys, Key{ID: id, aead: aead})
	}
	return keys, nil
}

func decodeB64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// NewKey returns a fresh random key in the WABOT_PAYLOAD_KEYS form "id:base64".
func NewKey(id string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return id + ":" + base64.StdEncoding.EncodeToString(b)
}

// Codec is a converter.PayloadCodec encrypting with the first key and
// decrypting with whichever key a payload names.
type Codec struct {
	keys []Key
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a Codec over keys (at least one).
func New(keys []Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("payloadcodec: no keys")
	}
	return &Codec{keys: keys}, nil
}

// Encode encrypts every payload: the whole serialized payload (metadata and
// data) becomes the ciphertext, so even the original encoding is hidden.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	k := c.keys[0]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("serializing payload: %w", err)
		}
		nonce := make([]byte, k.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("reading nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{metaEncoding: []byte(Encoding), metaKeyID: []byte(k.ID)},
			Data:     k.aead.Seal(nonce, nonce, plain, []byte(k.ID)),
		}
	}
	return out, nil
}

// Decode decrypts encrypted payloads and passes others through unchanged (so
// histories written before encryption was switched on stay readable).
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[metaEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[metaKeyID])
		k, ok := c.key(id)
		if !ok {
			return nil, fmt.Errorf("payloadcodec: no key %q configured (was it rotated out?)", id)
		}
		ns := k.aead.NonceSize()
		if len(p.GetData()) < ns {
			return nil, errors.New("payloadcodec: ciphertext too short")
		}
		plain, err := k.aead.Open(nil, p.GetData()[:ns], p.GetData()[ns:], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: decrypting with key %q: %w", id, err)
		}
		dec := &commonpb.Payload{}
		if err := proto.Unmarshal(plain, dec); err != nil {
			return nil, fmt.Errorf("payloadcodec: decoding decrypted payload: %w", err)
		}
		out[i] = dec
	}
	return out, nil
}

func (c *Codec) key(id string) (Key, bool) {
	for _, k := range c.keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// DataConverter returns the default data converter wrapped with the codec
// of cfg's keys, or the plain default converter when cfg has no keys.
func DataConverter(cfg Config) (converter.DataConverter, bool, error) {
	keys, err := ParseKeys(cfg.Keys.Reveal())
	if err != nil {
		return nil, false, fmt.Errorf("WABOT_PAYLOAD_KEYS: %w", err)
	}
	if len(keys) == 0 {
		return converter.GetDefaultDataConverter(), false, nil
	}
	c, err := New(keys)
	if err != nil {
		return nil, false, err
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c), true, nil
}
