package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// threats are the rows the threat model must have (issue 16).
var threats = []string{
	"config manipulation", "PII in logs", "session hijack", "audit tampering", "rate-limit bypass",
	"cross-site requests to local pages", "prompt injection into tools", "bot-to-bot loops", "PII in metric labels",
}

var (
	testName = regexp.MustCompile("`(Test[A-Za-z0-9_]+)`")
	testFunc = regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`)
)

// Every threat of the README's Security table names at least one test, and
// every test it names exists in a *_test.go file of the repository.
func TestThreatModelNamesExistingTests(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	rows := securityTable(t, string(readme))

	existing := map[string]bool{}
	require.NoError(t, filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".." || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllStringSubmatch(string(src), -1) {
			existing[m[1]] = true
		}
		return nil
	}))
	require.True(t, existing["TestThreatModelNamesExistingTests"], "the walk found this very file")

	for _, threat := range threats {
		names, ok := rows[threat]
		require.True(t, ok, "the Security table has no row %q", threat)
		require.NotEmpty(t, names, "threat %q names no test", threat)
	}
	for threat, names := range rows {
		for _, name := range names {
			require.True(t, existing[name], "threat %q names %s, which no *_test.go defines", threat, name)
		}
	}
}

// securityTable returns the Security section's table: threat → test names.
func securityTable(t *testing.T, readme string) map[string][]string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Security\n")
	require.True(t, ok, "README.md has no Security section")
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	rows := map[string][]string{}
	for line := range strings.Lines(section) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) != 5 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "threat" {
			continue
		}
		var names []string
		for _, m := range testName.FindAllStringSubmatch(cells[3], -1) {
			names = append(names, m[1])
		}
		rows[strings.TrimSpace(cells[1])] = names
	}
	require.NotEmpty(t, rows, "the Security section has no table")
	return rows
}
