package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PersonColumns are the column names that hold a person's JID. Every table
// with one of them is wiped and exported by that column (see migration 00005).
var PersonColumns = []string{"chat_jid", "sender_jid", "subject_jid"}

// PersonTable is a table holding personal data and its person columns.
type PersonTable struct {
	Name    string
	Columns []string
}

const sqlPersonTables = `
SELECT table_name, array_agg(column_name::text ORDER BY column_name)
FROM information_schema.columns
WHERE table_schema = current_schema() AND column_name = ANY($1)
GROUP BY table_name
ORDER BY table_name`

// PersonTables lists the tables of the current schema with a person column.
func (s *Store) PersonTables(ctx context.Context) ([]PersonTable, error) {
	rows, err := s.db.Query(ctx, sqlPersonTables, PersonColumns)
	if err != nil {
		return nil, fmt.Errorf("listing personal-data tables: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PersonTable])
	if err != nil {
		return nil, fmt.Errorf("listing personal-data tables: %w", translate(err))
	}
	return out, nil
}

// TableExists reports whether the current schema has a table called name.
func (s *Store) TableExists(ctx context.Context, name string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT to_regclass(quote_ident($1)) IS NOT NULL`, name).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("looking for table %s: %w", name, translate(err))
	}
	return ok, nil
}

// personWhere is "(a = $1 OR b = $1)" over t's person columns.
func personWhere(t PersonTable, alias string) string {
	w := "("
	for i, c := range t.Columns {
		if i > 0 {
			w += " OR "
		}
		w += alias + pgx.Identifier{c}.Sanitize() + " = $1"
	}
	return w + ")"
}

// sqlGroupMemoryOf selects memory rows in groups written by a person: memory
// has no sender column, so they are found through the person's messages.
const sqlGroupMemoryOf = `
SELECT %s FROM memory t
WHERE (t.account, t.chat_jid, t.message_id) IN (
    SELECT account, chat_jid, message_id FROM messages WHERE sender_jid = $1)`

// GroupMemoryTable names the export section / wipe step of GroupMemory rows.
const GroupMemoryTable = "memory_in_groups"

// ExportRows returns every row of table (or GroupMemoryTable) about jid, as
// JSON objects, in storage order.
func (s *Store) ExportRows(ctx context.Context, t PersonTable, jid string) ([]json.RawMessage, error) {
	q := `SELECT row_to_json(t) FROM ` + pgx.Identifier{t.Name}.Sanitize() + ` t WHERE ` + personWhere(t, "t.") + ` ORDER BY t.ctid`
	if t.Name == GroupMemoryTable {
		q = fmt.Sprintf(sqlGroupMemoryOf, "row_to_json(t)") + ` AND t.chat_jid <> $1 ORDER BY t.ctid`
	}
	rows, err := s.db.Query(ctx, q, jid)
	if err != nil {
		return nil, fmt.Errorf("exporting %s: %w", t.Name, translate(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
	if err != nil {
		return nil, fmt.Errorf("exporting %s: %w", t.Name, translate(err))
	}
	return out, nil
}

// WipeBatch deletes up to limit rows of table (or GroupMemoryTable) about
// jid and adds the count to the run's tally, in one short transaction.
func (s *Store) WipeBatch(ctx context.Context, runID string, t PersonTable, jid string, limit int) (int64, error) {
	sel := `SELECT t.ctid FROM ` + pgx.Identifier{t.Name}.Sanitize() + ` t WHERE ` + personWhere(t, "t.")
	table := t.Name
	if t.Name == GroupMemoryTable {
		sel, table = fmt.Sprintf(sqlGroupMemoryOf, "t.ctid"), "memory"
	}
	q := `DELETE FROM ` + pgx.Identifier{table}.Sanitize() + ` WHERE ctid IN (` + sel + ` LIMIT $2)`
	return s.deleteCounted(ctx, runID, t.Name, q, jid, limit)
}

// SweepTable is one pass of the retention sweep over a table. In Where, t
// is the table, $1 is now and $3 the default retention in seconds; with
// Policy, p is the chat's retention policy (an inner join: the pass covers
// only chats with a policy). Passes without Policy over a table that has
// policies exclude those chats themselves.
type SweepTable struct {
	Name     string
	Optional bool // skipped when the table does not exist (yet)
	Policy   bool // join retention_policies p on (account, chat_jid)
	Where    string
}

// noPolicy excludes chats with a retention policy of their own.
const noPolicy = ` AND NOT EXISTS (SELECT 1 FROM retention_policies p WHERE p.account = t.account AND p.chat_jid = t.chat_jid)`

// byPolicy is the condition of a policy pass: older than the chat's policy.
const byPolicy = `t.created_at + p.days * interval '1 day' < $1`

// SweepTables are the passes of the retention sweep, in order. Rows of chats
// without a policy expire at their expires_at (found through its index);
// a chat's policy replaces that with created_at + days (found from the small
// policies table through the chat index). Each pass is batched.
var SweepTables = []SweepTable{
	{Name: "messages", Where: `t.expires_at < $1` + noPolicy},
	{Name: "messages", Policy: true, Where: byPolicy},
	{Name: "memory", Where: `t.expires_at < $1` + noPolicy},
	{Name: "memory", Policy: true, Where: byPolicy},
	{Name: "usage", Where: `t.expires_at < $1` + noPolicy},
	{Name: "usage", Policy: true, Where: byPolicy},
	{Name: "outbound", Where: `t.sent_at < $1::timestamptz - $3::bigint * interval '1 second'` + noPolicy},
	{Name: "outbound", Policy: true, Where: `t.sent_at + p.days * interval '1 day' < $1`},
	{Name: "memory_summaries", Where: `t.expires_at < $1` + noPolicy},
	{Name: "memory_summaries", Policy: true, Where: byPolicy},
	{Name: "command_effects", Where: `t.expires_at < $1`},
	{Name: "blobs", Where: `t.expires_at < $1`},
	{Name: "document_chunks", Where: `t.expires_at < $1`},
	{Name: "exports", Where: `t.expires_at < $1`},
}

// SweepBatch deletes up to limit expired rows of one pass and adds the count
// to the run's tally, in one short transaction (no long locks: one batch at
// a time, new messages never wait for the sweep).
func (s *Store) SweepBatch(ctx context.Context, runID string, st SweepTable, now time.Time, defaultRetention time.Duration, limit int) (int64, error) {
	name := pgx.Identifier{st.Name}.Sanitize()
	join := ""
	if st.Policy {
		join = ` JOIN retention_policies p ON p.account = t.account AND p.chat_jid = t.chat_jid`
	}
	q := `DELETE FROM ` + name + ` WHERE ctid IN (SELECT t.ctid FROM ` + name + ` t` + join +
		` WHERE ` + st.Where + ` LIMIT $2)`
	args := []any{now, limit}
	if strings.Contains(st.Where, "$3") {
		args = append(args, int64(defaultRetention/time.Second))
	}
	return s.deleteCounted(ctx, runID, st.Name, q, args...)
}

const sqlAddCount = `
INSERT INTO compliance_counts (run_id, tbl, deleted) VALUES ($1, $2, $3)
ON CONFLICT (run_id, tbl) DO UPDATE SET deleted = compliance_counts.deleted + excluded.deleted`

func (s *Store) deleteCounted(ctx context.Context, runID, tbl, q string, args ...any) (int64, error) {
	var n int64
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("deleting from %s: %w", tbl, translate(err))
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, sqlAddCount, runID, tbl, n); err != nil {
			return fmt.Errorf("counting deletions: %w", translate(err))
		}
		return nil
	})
	return n, err
}

// ComplianceCounts returns the rows a run deleted, per table.
func (s *Store) ComplianceCounts(ctx context.Context, runID string) (map[string]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT tbl, deleted FROM compliance_counts WHERE run_id = $1`, runID)
	if err != nil {
		return nil, fmt.Errorf("reading counts: %w", translate(err))
	}
	out := map[string]int64{}
	var tbl string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&tbl, &n}, func() error { out[tbl] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("reading counts: %w", translate(err))
	}
	return out, nil
}

// AuditOnce runs appendFn (which appends the run's audit entry inside tx and
// returns its seq) unless the run was already audited; it returns the seq of
// the run's entry either way.
func (s *Store) AuditOnce(ctx context.Context, runID string, appendFn func(pgx.Tx) (int64, error)) (int64, error) {
	var seq int64
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT audit_seq FROM compliance_audited WHERE run_id = $1 FOR UPDATE`, runID).Scan(&seq)
		if err == nil {
			return nil
		}
		if !errors.Is(translate(err), ErrNotFound) {
			return fmt.Errorf("checking audit of run: %w", translate(err))
		}
		if seq, err = appendFn(tx); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO compliance_audited (run_id, audit_seq) VALUES ($1, $2)`, runID, seq)
		return translate(err)
	})
	return seq, err
}

// Retention policies.

const sqlSetRetention = `
INSERT INTO retention_policies (account, chat_jid, days, set_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (account, chat_jid) DO UPDATE SET days = excluded.days, set_by = excluded.set_by, updated_at = now()`

// SetRetention sets a chat's retention in days.
func (s *Store) SetRetention(ctx context.Context, account, chatJID string, days int, setBy string) error {
	if _, err := s.db.Exec(ctx, sqlSetRetention, account, chatJID, days, setBy); err != nil {
		return fmt.Errorf("setting retention: %w", translate(err))
	}
	return nil
}

// Retention returns a chat's retention in days, or ErrNotFound when it has
// no policy of its own.
func (s *Store) Retention(ctx context.Context, account, chatJID string) (int, error) {
	var days int
	err := s.db.QueryRow(ctx, `SELECT days FROM retention_policies WHERE account = $1 AND chat_jid = $2`, account, chatJID).Scan(&days)
	if err != nil {
		return 0, fmt.Errorf("loading retention: %w", translate(err))
	}
	return days, nil
}

// Exports.

// CreateExport records an export being built (idempotent on id).
func (s *Store) CreateExport(ctx context.Context, id, subjectJID string, expiresAt time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO exports (id, subject_jid, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
		id, subjectJID, expiresAt)
	if err != nil {
		return fmt.Errorf("creating export: %w", translate(err))
	}
	return nil
}

// PutExportFile stores (or replaces) one file of an export.
func (s *Store) PutExportFile(ctx context.Context, id, name string, body []byte) error {
	_, err := s.db.Exec(ctx, `INSERT INTO export_files (export_id, name, body) VALUES ($1, $2, $3)
ON CONFLICT (export_id, name) DO UPDATE SET body = excluded.body`, id, name, body)
	if err != nil {
		return fmt.Errorf("storing export file %s: %w", name, translate(err))
	}
	return nil
}

// ExportFile is one file of an export.
type ExportFile struct {
	Name string
	Body []byte
}

// ExportFiles returns an export's files by name.
func (s *Store) ExportFiles(ctx context.Context, id string) ([]ExportFile, error) {
	rows, err := s.db.Query(ctx, `SELECT name, body FROM export_files WHERE export_id = $1 ORDER BY name`, id)
	if err != nil {
		return nil, fmt.Errorf("loading export files: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ExportFile])
	if err != nil {
		return nil, fmt.Errorf("loading export files: %w", translate(err))
	}
	return out, nil
}

// SetExportZip stores the finished ZIP and drops the loose files.
func (s *Store) SetExportZip(ctx context.Context, id string, zip []byte) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE exports SET zip = $2 WHERE id = $1`, id, zip); err != nil {
			return fmt.Errorf("storing export zip: %w", translate(err))
		}
		_, err := tx.Exec(ctx, `DELETE FROM export_files WHERE export_id = $1`, id)
		return translate(err)
	})
}

// ExportZip returns a finished export's ZIP, or ErrNotFound.
func (s *Store) ExportZip(ctx context.Context, id string) ([]byte, error) {
	var zip []byte
	err := s.db.QueryRow(ctx, `SELECT zip FROM exports WHERE id = $1 AND zip IS NOT NULL`, id).Scan(&zip)
	if err != nil {
		return nil, fmt.Errorf("loading export zip: %w", translate(err))
	}
	return zip, nil
}
