package logging

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/wabot/wabot/internal/secret"
)

// Hasher turns identities (phone numbers, JIDs) into short stable hashes that
// are safe to log, to use in workflow IDs and in Temporal search attributes.
type Hasher struct {
	key []byte
}

// defaultHashKey is used when LOG_HASH_KEY is unset: hashes are then stable
// but guessable for a known number; production should set a key.
const defaultHashKey = "wabot-identity-hash-v1"

// NewHasher returns a Hasher keyed with key (or the default key when unset).
func NewHasher(key secret.String) Hasher {
	k := key.Reveal()
	if k == "" {
		k = defaultHashKey
	}
	return Hasher{key: []byte(k)}
}

// Hash returns a 16-hex-character hash of an identity. A JID's device part
// and a phone number's formatting do not change it: "+1 555-0100",
// "15550100@s.whatsapp.net" and "15550100:3@s.whatsapp.net" hash the same.
func (h Hasher) Hash(id string) string {
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte(canonicalIdentity(id)))
	return hex.EncodeToString(mac.Sum(nil)[:8])
}

// canonicalIdentity strips formatting that does not change who is meant.
func canonicalIdentity(id string) string {
	user, server, hasServer := strings.Cut(strings.TrimSpace(id), "@")
	if i := strings.IndexByte(user, ':'); i >= 0 { // device suffix
		user = user[:i]
	}
	if !hasServer || server == "s.whatsapp.net" || server == "c.us" {
		var b strings.Builder
		for _, r := range user {
			if r >= '0' && r <= '9' {
				b.WriteRune(r)
			}
		}
		if b.Len() > 0 {
			return b.String()
		}
	}
	if !hasServer {
		return user
	}
	return user + "@" + server
}
