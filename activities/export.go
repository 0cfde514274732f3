package activities

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wabot/wabot/internal/store"
)

// ExportInput names an export and whose data it holds.
type ExportInput struct {
	ExportID string
	Subject  string // the person's JID
}

// Sections of an export besides one per personal-data table.
const (
	SectionAudit = "audit"
	readmeName   = "README.txt"
)

// ExportPlan records the export and returns its sections: one per table
// holding personal data (found by column name, so a new table such as pinned
// facts, todos or reminders joins by following the column convention),
// memory entries the person wrote in groups, and the audit entries about them.
func (c *Compliance) ExportPlan(ctx context.Context, in ExportInput) ([]string, error) {
	if err := c.store.CreateExport(ctx, in.ExportID, in.Subject, c.now().Add(c.cfg.ExportTTL)); err != nil {
		return nil, err
	}
	tables, err := c.store.PersonTables(ctx)
	if err != nil {
		return nil, err
	}
	var sections []string
	for _, t := range tables {
		if t.Name == "exports" { // the exports themselves, ZIPs included
			continue
		}
		sections = append(sections, t.Name)
	}
	return append(sections, store.GroupMemoryTable, SectionAudit), nil
}

// ExportSectionInput is one section of an export.
type ExportSectionInput struct {
	ExportInput
	Section string
}

// ExportSection writes one section as <section>.json into the export and
// returns its row count. Re-running it replaces the file (idempotent).
func (c *Compliance) ExportSection(ctx context.Context, in ExportSectionInput) (int, error) {
	var rows any
	n := 0
	if in.Section == SectionAudit {
		recs, err := c.audit.About(ctx, c.hash(in.Subject))
		if err != nil {
			return 0, err
		}
		rows, n = recs, len(recs)
	} else {
		t, err := c.personTable(ctx, in.Section)
		if err != nil {
			return 0, err
		}
		rs, err := c.store.ExportRows(ctx, t, in.Subject)
		if err != nil {
			return 0, err
		}
		rows, n = rs, len(rs)
	}
	if n == 0 {
		rows = []any{}
	}
	body, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("encoding export section %s: %w", in.Section, err)
	}
	if err := c.store.PutExportFile(ctx, in.ExportID, in.Section+".json", body); err != nil {
		return 0, err
	}
	return n, nil
}

func (c *Compliance) personTable(ctx context.Context, name string) (store.PersonTable, error) {
	if name == store.GroupMemoryTable {
		return store.PersonTable{Name: name}, nil
	}
	tables, err := c.store.PersonTables(ctx)
	if err != nil {
		return store.PersonTable{}, err
	}
	for _, t := range tables {
		if t.Name == name {
			return t, nil
		}
	}
	return store.PersonTable{Name: name}, fmt.Errorf("export section %s: no such table", name)
}

// ExportZipResult describes a finished export.
type ExportZipResult struct {
	Files int
	Bytes int
}

// ExportZip packs the sections and a README into a ZIP kept in the exports
// table until EXPORT_TTL passes (the retention sweep deletes it then).
func (c *Compliance) ExportZip(ctx context.Context, in ExportInput) (ExportZipResult, error) {
	if zipped, err := c.store.ExportZip(ctx, in.ExportID); err == nil {
		return ExportZipResult{Bytes: len(zipped)}, nil // done by an earlier attempt
	}
	files, err := c.store.ExportFiles(ctx, in.ExportID)
	if err != nil {
		return ExportZipResult{}, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	now := c.now().UTC()
	add := func(name string, body []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return err
		}
		_, err = w.Write(body)
		return err
	}
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, f.Name)
	}
	if err := add(readmeName, []byte(readme(now, names))); err != nil {
		return ExportZipResult{}, fmt.Errorf("writing export zip: %w", err)
	}
	for _, f := range files {
		if err := add(f.Name, f.Body); err != nil {
			return ExportZipResult{}, fmt.Errorf("writing export zip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return ExportZipResult{}, fmt.Errorf("writing export zip: %w", err)
	}
	if err := c.store.SetExportZip(ctx, in.ExportID, buf.Bytes()); err != nil {
		return ExportZipResult{}, err
	}
	c.logger.InfoContext(ctx, "export packed", slog.String("export_id", in.ExportID), slog.Int("bytes", buf.Len()))
	return ExportZipResult{Files: len(files) + 1, Bytes: buf.Len()}, nil
}

func readme(at time.Time, files []string) string {
	return `wabot data export
=================

Created ` + at.Format(time.RFC3339) + `. This archive holds everything the bot
stores about you. Each .json file is one kind of data, as an array of records:

  ` + strings.Join(files, "\n  ") + `

messages.json       messages you sent the bot and its replies to you
memory.json         the conversation memory the bot feeds to the AI model
memory_in_groups.json  memory entries from your messages in groups
usage.json          AI token usage caused by your messages
chats.json          your chat and its settings
retention_policies.json  how long your data is kept (/retention)
outbound.json       which replies were delivered to you
audit.json          audit-log entries about you (identities appear as keyed hashes)

Send /wipe to delete all of it.
`
}
