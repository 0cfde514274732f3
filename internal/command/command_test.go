package command_test

import (
	"context"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/command"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/governance"
)

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text   string
		ok     bool
		prefix byte
		name   string
		args   []string
	}{
		{"/help", true, '/', "help", nil},
		{"  /HELP  ", true, '/', "help", nil},
		{"!gpt what is  Go?", true, '!', "gpt", []string{"what", "is", "Go?"}},
		{"/role grant +4915112345678 admin", true, '/', "role", []string{"grant", "+4915112345678", "admin"}},
		{"/config\tset\nmodel x", true, '/', "config", []string{"set", "model", "x"}},
		{"/audit_last-2 5", true, '/', "audit_last-2", []string{"5"}},
		{"hello", false, 0, "", nil},
		{"/", false, 0, "", nil},
		{"/ help", false, 0, "", nil},
		{"!!", false, 0, "", nil},
		{"/123", false, 0, "", nil},
		{"/héllo", false, 0, "", nil},
		{"/" + strings.Repeat("a", command.MaxNameLen+1), false, 0, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			t.Parallel()
			p, ok := command.Parse(tc.text)
			require.Equal(t, tc.ok, ok)
			if !ok {
				return
			}
			require.Equal(t, tc.prefix, p.Prefix)
			require.Equal(t, tc.name, p.Name)
			require.Equal(t, tc.args, p.Args)
		})
	}
}

func TestRestAfterKeepsInnerSpacing(t *testing.T) {
	t.Parallel()
	p, ok := command.Parse("/config set system_prompt Be  brief.\nAlways.")
	require.True(t, ok)
	require.Equal(t, "set system_prompt Be  brief.\nAlways.", p.RestAfter(0))
	require.Equal(t, "Be  brief.\nAlways.", p.RestAfter(2))
	require.Empty(t, p.RestAfter(5))
}

func nop(context.Context, *command.Call) (command.Result, error) { return command.Result{}, nil }

func TestRegistryLookupAndAuthorize(t *testing.T) {
	t.Parallel()
	reg, err := command.NewRegistry(
		command.Spec{Name: "help", MinRole: governance.RoleUser, MaxArgs: 0, Usage: "/help", Handler: nop},
		command.Spec{Name: "role grant", MinRole: governance.RoleOwner, Session: true, MinArgs: 2, MaxArgs: 2, Usage: "/role grant <number> <role>", Handler: nop},
		command.Spec{Name: "role list", MinRole: governance.RoleAdmin, Session: true, MaxArgs: 0, Usage: "/role list", Handler: nop},
		command.Spec{Name: "secret", Usage: "/secret", MaxArgs: -1, Handler: nop}, // no MinRole: owner only
	)
	require.NoError(t, err)
	_, err = command.NewRegistry(command.Spec{Name: "a", Usage: "/a", Handler: nop}, command.Spec{Name: "b", Aliases: []string{"a"}, Usage: "/b", Handler: nop})
	require.Error(t, err, "duplicate names are refused")

	p, _ := command.Parse("/role GRANT 4915112345678 admin")
	s, args, _ := reg.Lookup(p)
	require.Equal(t, "role grant", s.Name)
	require.Equal(t, []string{"4915112345678", "admin"}, args)
	require.NoError(t, command.CheckArgs(s, args))
	require.Equal(t, errcode.InvalidArgument, errcode.Of(command.CheckArgs(s, args[:1])))

	p, _ = command.Parse("/role dance")
	s, _, group := reg.Lookup(p)
	require.Nil(t, s)
	require.Len(t, group, 2)

	secret, _, _ := reg.Lookup(must(command.Parse("/secret")))
	require.True(t, secret.Privileged())
	require.Equal(t, errcode.Forbidden, command.Authorize(secret, governance.RoleAdmin, true), "deny by default")
	grant, _, _ := reg.Lookup(must(command.Parse("/role grant")))
	require.Equal(t, errcode.Forbidden, command.Authorize(grant, governance.RoleUser, false))
	require.Equal(t, errcode.SessionRequired, command.Authorize(grant, governance.RoleOwner, false))
	require.Equal(t, errcode.Code(""), command.Authorize(grant, governance.RoleOwner, true))

	names := func(specs []*command.Spec) []string {
		var out []string
		for _, s := range specs {
			out = append(out, s.Name)
		}
		return out
	}
	require.Equal(t, []string{"help"}, names(reg.Allowed(governance.RoleUser)))
	require.Equal(t, []string{"help", "role list"}, names(reg.Allowed(governance.RoleAdmin)))
	require.Len(t, reg.Allowed(governance.RoleOwner), 4)
}

// A spec runs through a handler, a workflow-side route, or both; one with
// neither is refused. /help lists per role, marks sessions and direct-only
// commands, and leaves hidden ones out.
func TestRegistryRoutesAndHelp(t *testing.T) {
	t.Parallel()
	_, err := command.NewRegistry(command.Spec{Name: "x", Usage: "/x"})
	require.Error(t, err, "neither handler nor route")
	reg, err := command.NewRegistry(
		command.Spec{Name: "help", MinRole: governance.RoleUser, Usage: "/help", Summary: "what you can do", Handler: nop},
		command.Spec{Name: "export", MinRole: governance.RoleUser, Direct: true, Runs: "export", Usage: "/export", Summary: "your data"},
		command.Spec{Name: "config", MinRole: governance.RoleOperator, Session: true, Hidden: true, Usage: "/config", Handler: nop},
		command.Spec{Name: "config list", MinRole: governance.RoleOperator, Session: true, Usage: "/config list", Summary: "settings", Handler: nop},
	)
	require.NoError(t, err)
	export, _, _ := reg.Lookup(must(command.Parse("/export")))
	require.Equal(t, command.Route("export"), export.Runs)
	require.Nil(t, export.Handler)

	user, op := reg.Help(governance.RoleUser), reg.Help(governance.RoleOperator)
	require.Equal(t, "Commands for you (user); / or ! both work:\n/help — what you can do\n/export — your data (direct chat)", user)
	require.Contains(t, op, "/config list — settings (admin session)")
	require.NotContains(t, op, "/config —", "hidden")
	require.NotEqual(t, user, op)
}

func must(p command.Parsed, ok bool) command.Parsed {
	if !ok {
		panic("not a command")
	}
	return p
}

// FuzzParse: whatever the text, Parse never panics and what it returns is
// well formed. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"/help", "!gpt hi there", "/config set system_prompt Be brief.", "/role grant +49 1 admin", "", "/", "!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, ok := command.Parse(text)
		if !ok {
			return
		}
		if p.Prefix != '/' && p.Prefix != '!' {
			t.Fatalf("prefix %q", p.Prefix)
		}
		if p.Name == "" || len(p.Name) > command.MaxNameLen || p.Name != strings.ToLower(p.Name) {
			t.Fatalf("name %q", p.Name)
		}
		for _, a := range p.Args {
			if a == "" || strings.IndexFunc(a, unicode.IsSpace) >= 0 {
				t.Fatalf("arg %q", a)
			}
		}
		for n := range len(p.Args) + 2 {
			rest := p.RestAfter(n)
			if !strings.Contains(text, rest) {
				t.Fatalf("RestAfter(%d) = %q is not part of the text", n, rest)
			}
			if n < len(p.Args) && !strings.HasPrefix(rest, p.Args[n]) {
				t.Fatalf("RestAfter(%d) = %q does not start with arg %q", n, rest, p.Args[n])
			}
		}
		again, ok := command.Parse(string(p.Prefix) + p.Name + " " + strings.Join(p.Args, " "))
		if !ok || again.Name != p.Name || len(again.Args) != len(p.Args) {
			t.Fatalf("re-parsing the normalized command changed it: %+v vs %+v", again, p)
		}
	})
}
