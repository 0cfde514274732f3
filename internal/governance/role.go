// Package governance is who may do what: roles (owner > admin > operator >
// user, owners from configuration, the rest granted and stored in
// PostgreSQL), the allow- and deny-lists of numbers, who the bot answers,
// admin sessions in Redis with a sliding TTL, and the typed, validated,
// non-secret runtime settings every worker reads on each message. Every change
// is audited in the same transaction through internal/audit, with hashed
// identities only.
package governance

import (
	"fmt"
	"strings"
)

// Role is what a number may do. Higher roles may do everything lower ones may.
type Role string

// The roles, lowest first.
const (
	RoleUser     Role = "user"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
	RoleOwner    Role = "owner"
)

// Roles lists every role, lowest first.
var Roles = []Role{RoleUser, RoleOperator, RoleAdmin, RoleOwner}

func (r Role) rank() int {
	switch r {
	case RoleOperator:
		return 1
	case RoleAdmin:
		return 2
	case RoleOwner:
		return 3
	default:
		return 0
	}
}

// AtLeast reports whether r may do what min may.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() }

// Grantable reports whether a role can be granted from chat or the CLI
// (owners come only from configuration).
func (r Role) Grantable() bool { return r == RoleAdmin || r == RoleOperator }

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Roles {
		if r == known {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want user, operator, admin or owner)", s)
}

// Number is a phone number given as a command argument or in configuration:
// its digits (for hashing), and a masked form safe to show and store.
type Number struct {
	Digits string
	Label  string // "+49…5678"
}

// ParseNumber accepts "+49 151-1234 5678", "4915112345678" or a JID's user
// part, and refuses anything that is not 6 to 15 digits.
func ParseNumber(s string) (Number, error) {
	s = strings.TrimSpace(s)
	if user, _, ok := strings.Cut(s, "@"); ok {
		s = user
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0, r == ' ', r == '-', r == '(', r == ')', r == '.':
		default:
			return Number{}, fmt.Errorf("%q is not a phone number", s)
		}
	}
	d := b.String()
	if len(d) < 6 || len(d) > 15 {
		return Number{}, fmt.Errorf("a phone number has 6 to 15 digits")
	}
	return Number{Digits: d, Label: "+" + d[:2] + "…" + d[len(d)-4:]}, nil
}
