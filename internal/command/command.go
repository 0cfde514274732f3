// Package command parses chat commands ("/help", "!gpt hello") and holds the
// registry that says, for each command, who may use it, whether it needs an
// open admin session, its usage line, and how it runs: a Handler inside the
// message's RunCommand activity, or a named workflow-side Route (its own
// child workflow or workflow steps, e.g. /export). Adding a command is one
// Spec in a table; parsing, authorization and /help here are pure and
// deterministic, so workflows may parse too (for the search attribute) and
// tests may fuzz.
package command

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/governance"
)

// MaxNameLen bounds a command name.
const MaxNameLen = 32

// Parsed is a command as typed.
type Parsed struct {
	Prefix byte     // '/' or '!'
	Name   string   // lower case: letters, digits, '_' or '-'
	Args   []string // the words after the name
	text   string   // the text after the name, for RestAfter
}

// Parse reads text as a command: a '/' or '!' prefix, a name starting with a
// letter, then whitespace-separated arguments. ok is false for anything else
// (plain text, "/ ", "!!", "/123").
func Parse(text string) (Parsed, bool) {
	text = strings.TrimSpace(text)
	if len(text) < 2 || (text[0] != '/' && text[0] != '!') {
		return Parsed{}, false
	}
	p := Parsed{Prefix: text[0]}
	rest := text[1:]
	end := strings.IndexFunc(rest, unicode.IsSpace)
	if end < 0 {
		end = len(rest)
	}
	name := rest[:end]
	if name == "" || len(name) > MaxNameLen || !validName(name) {
		return Parsed{}, false
	}
	p.Name = strings.ToLower(name)
	p.text = strings.TrimSpace(rest[end:])
	if args := strings.Fields(p.text); len(args) > 0 {
		p.Args = args
	}
	return p, true
}

func validName(s string) bool {
	for i, r := range s {
		letter := r < utf8.RuneSelf && unicode.IsLetter(r)
		switch {
		case i == 0 && !letter:
			return false
		case letter, r >= '0' && r <= '9', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// RestAfter is the text after the first n arguments, inner spacing kept
// ("/config set system_prompt Be  brief." → RestAfter(2) = "Be  brief.").
func (p Parsed) RestAfter(n int) string {
	s := p.text
	for range n {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		i := strings.IndexFunc(s, unicode.IsSpace)
		if i < 0 {
			return ""
		}
		s = s[i:]
	}
	return strings.TrimSpace(s)
}

// Call is one command being run: what was typed and who typed it.
type Call struct {
	Parsed
	Spec       *Spec
	Args       []string // arguments after the command's own words ("role grant" takes Args[2:] of Parsed)
	Account    string
	Chat       string
	ChatHash   string
	Sender     string
	SenderHash string
	IsGroup    bool
	Role       governance.Role
}

// Rest is the text after the command's own words and n more arguments.
func (c *Call) Rest(n int) string { return c.RestAfter(len(c.Parsed.Args) - len(c.Args) + n) }

// Result is what a command answers.
type Result struct {
	Text   string // the reply
	AskLLM string // when set, the message goes to the LLM with this text instead (!gpt)
	// Data is handed to the command's workflow-side route (Spec.Runs), when
	// it has one: what the handler prepared for it (small; it goes into the
	// workflow's history).
	Data string
}

// Route names a workflow-side path that runs a command: MessageWorkflow
// looks it up in its route table (workflows/routes.go) and hands it the
// message and the RunCommand result. The empty Route means the command's
// Handler alone answers it, inside the RunCommand activity.
type Route string

// Handler runs a command. Errors that are *errcode.Error reach the user as
// their code's message (and Detail); any other error is internal.
type Handler func(ctx context.Context, c *Call) (Result, error)

// Spec is one command: one table entry.
type Spec struct {
	Name    string          // "help", or "role grant" for a subcommand
	Aliases []string        // other names of the same command ("ask" for "gpt")
	MinRole governance.Role // deny by default: "" means owner
	Session bool            // needs an open admin session (/sudo)
	LLM     bool            // ends in an LLM turn (!gpt), so the global limit applies
	MinArgs int             // arguments after Name
	MaxArgs int             // -1: any number
	Usage   string          // "/role grant <number> <admin|operator>"
	Summary string          // one line for /help
	// Direct: only in a direct chat (privileged commands always are). In a
	// group the command is refused with a pointer to a private chat.
	Direct bool
	Hidden bool // works, but /help does not list it (the bare !config of the old bot)
	// Runs names the workflow-side route that runs the command ("" = only
	// Handler, in the RunCommand activity). With a route, Handler is
	// optional: when set it runs first, in the activity, and its Result
	// (Text, Data) goes to the route, which sends the reply.
	Runs    Route
	Handler Handler
}

// Privileged reports whether the command needs more than the user role.
func (s *Spec) Privileged() bool { return s.minRole() != governance.RoleUser }

func (s *Spec) minRole() governance.Role {
	if s.MinRole == "" {
		return governance.RoleOwner
	}
	return s.MinRole
}

// Registry is a set of commands.
type Registry struct {
	specs []*Spec
	names map[string]*Spec
}

// NewRegistry checks a table of commands: names unique, usage set, and a
// handler or a route (or both).
func NewRegistry(specs ...Spec) (*Registry, error) {
	r := &Registry{names: map[string]*Spec{}}
	for i := range specs {
		s := &specs[i]
		if s.Name == "" || s.Usage == "" || (s.Handler == nil && s.Runs == "") {
			return nil, fmt.Errorf("command %d (%q): name, usage and a handler or route are required", i, s.Name)
		}
		for _, n := range append([]string{s.Name}, s.Aliases...) {
			if _, dup := r.names[n]; dup {
				return nil, fmt.Errorf("command %q is defined twice", n)
			}
			r.names[n] = s
		}
		r.specs = append(r.specs, s)
	}
	return r, nil
}

// Lookup finds the command p names: "name sub" first, then "name". The
// returned args are those after the command's own words. When only a group
// of subcommands matches ("/role" or "/role dance"), spec is nil and group
// lists the group's subcommands, for a usage line.
func (r *Registry) Lookup(p Parsed) (spec *Spec, args []string, group []*Spec) {
	if len(p.Args) > 0 {
		if s, ok := r.names[p.Name+" "+strings.ToLower(p.Args[0])]; ok {
			return s, p.Args[1:], nil
		}
	}
	if s, ok := r.names[p.Name]; ok {
		return s, p.Args, nil
	}
	for _, s := range r.specs {
		if strings.HasPrefix(s.Name, p.Name+" ") {
			group = append(group, s)
		}
	}
	return nil, nil, group
}

// Allowed lists the commands role may use, in table order.
func (r *Registry) Allowed(role governance.Role) []*Spec {
	return slices.DeleteFunc(slices.Clone(r.specs), func(s *Spec) bool { return !role.AtLeast(s.minRole()) })
}

// Specs lists every command, in table order.
func (r *Registry) Specs() []*Spec { return slices.Clone(r.specs) }

// Help is the /help text for role: the commands it may use, in table order,
// with the ones needing an admin session or a direct chat marked.
func (r *Registry) Help(role governance.Role) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Commands for you (%s); / or ! both work:\n", role)
	for _, s := range r.Allowed(role) {
		if s.Hidden {
			continue
		}
		fmt.Fprintf(&b, "%s — %s", s.Usage, s.Summary)
		switch {
		case s.Session:
			b.WriteString(" (admin session)")
		case s.Direct:
			b.WriteString(" (direct chat)")
		}
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String())
}

// Authorize decides whether role, with or without an open admin session,
// may run s: "" when allowed, else FORBIDDEN or SESSION_REQUIRED. The role
// is checked first, so a user never learns that a session would help.
func Authorize(s *Spec, role governance.Role, session bool) errcode.Code {
	switch {
	case !role.AtLeast(s.minRole()):
		return errcode.Forbidden
	case s.Session && !session:
		return errcode.SessionRequired
	}
	return ""
}

// CheckArgs returns INVALID_ARGUMENT with the usage line when the number of
// args does not fit s.
func CheckArgs(s *Spec, args []string) error {
	if len(args) < s.MinArgs || (s.MaxArgs >= 0 && len(args) > s.MaxArgs) {
		return Usage(s, "wrong number of arguments")
	}
	return nil
}

// Usage is an INVALID_ARGUMENT error whose user-facing detail is the usage
// line of s (msg is for operators).
func Usage(s *Spec, msg string) error {
	e := errcode.New(errcode.InvalidArgument, msg)
	e.Detail = "Usage: " + s.Usage
	return e
}

// Invalid is an INVALID_ARGUMENT error whose user-facing detail is why
// (which must hold no internals), followed by the usage line.
func Invalid(s *Spec, why string) error {
	e := errcode.New(errcode.InvalidArgument, why)
	e.Detail = why + "\nUsage: " + s.Usage
	return e
}
