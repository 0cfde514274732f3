package testkit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// The erasure check: finds a person's data wherever it is, independently of
// how the product finds it. It reads the database's own catalog (every
// table of every schema, every column cast to text, bytea searched as
// bytes), every Redis key under a prefix (names and small values), so a
// table or key added later is covered without editing a test.

// Needle is one thing that identifies a person: their number, a JID, a
// hash of them, or a text only they sent.
type Needle struct {
	Kind  string // e.g. "number", "phone JID", "LID", "hash of phone JID", "marker text"
	Value string
}

// Column is one column of a table, from the catalog.
type Column struct {
	Name  string
	Type  string
	Bytea bool
}

// Table is one table of the database, from the catalog.
type Table struct {
	Schema  string
	Name    string
	Columns []Column
	Key     []string // primary key columns (empty: none)
}

// QualifiedName is schema.table, or table alone in the public schema.
func (t Table) QualifiedName() string {
	if t.Schema == "public" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// FoundRow is one row holding a person's data.
type FoundRow struct {
	Table *Table
	Row   map[string]any // the row as row_to_json gives it
	// Hits maps each column holding a needle to the needles it holds.
	Hits map[string][]Needle
}

// Key is the row's primary key values, column=value, for messages.
func (r FoundRow) Key() string {
	if len(r.Table.Key) == 0 {
		return "(no primary key)"
	}
	parts := make([]string, len(r.Table.Key))
	for i, k := range r.Table.Key {
		parts[i] = fmt.Sprintf("%s=%v", k, r.Row[k])
	}
	return strings.Join(parts, ",")
}

const sqlCatalog = `
SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
       a.atttypid = 'bytea'::regtype,
       coalesce(a.attnum = ANY(pk.indkey::int2[]), false)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
ORDER BY n.nspname, c.relname, a.attnum`

// Catalog lists every table of the database (all schemas but the system's)
// with its columns, from pg_catalog.
func Catalog(ctx context.Context, pool *pgxpool.Pool) ([]*Table, error) {
	rows, err := pool.Query(ctx, sqlCatalog)
	if err != nil {
		return nil, fmt.Errorf("reading the catalog: %w", err)
	}
	var out []*Table
	var schema, table, col, typ string
	var bytea, key bool
	_, err = pgx.ForEachRow(rows, []any{&schema, &table, &col, &typ, &bytea, &key}, func() error {
		if len(out) == 0 || out[len(out)-1].Schema != schema || out[len(out)-1].Name != table {
			out = append(out, &Table{Schema: schema, Name: table})
		}
		t := out[len(out)-1]
		t.Columns = append(t.Columns, Column{Name: col, Type: typ, Bytea: bytea})
		if key {
			t.Key = append(t.Key, col)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the catalog: %w", err)
	}
	return out, nil
}

// ScanDatabase returns every row of every table in the catalog that holds
// one of the needles in any column (any type cast to text; bytea searched as
// raw bytes), with the columns and needles found.
func ScanDatabase(ctx context.Context, pool *pgxpool.Pool, needles []Needle) ([]FoundRow, error) {
	tables, err := Catalog(ctx, pool)
	if err != nil {
		return nil, err
	}
	values := make([]string, len(needles))
	for i, n := range needles {
		values[i] = n.Value
	}
	var out []FoundRow
	for _, t := range tables {
		var conds []string
		for _, c := range t.Columns {
			col := "t." + pgx.Identifier{c.Name}.Sanitize()
			if c.Bytea {
				conds = append(conds, `position(convert_to(n, 'UTF8') in `+col+`) > 0`)
			} else {
				conds = append(conds, `strpos(`+col+`::text, n) > 0`)
			}
		}
		q := `SELECT row_to_json(t)::text FROM ` + pgx.Identifier{t.Schema, t.Name}.Sanitize() +
			` t WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) n WHERE ` + strings.Join(conds, " OR ") + `)`
		rows, err := pool.Query(ctx, q, values)
		if err != nil {
			return nil, fmt.Errorf("scanning %s: %w", t.QualifiedName(), err)
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("scanning %s: %w", t.QualifiedName(), err)
		}
		for _, raw := range found {
			r := FoundRow{Table: t, Hits: map[string][]Needle{}}
			dec := json.NewDecoder(strings.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&r.Row); err != nil {
				return nil, fmt.Errorf("decoding a row of %s: %w", t.QualifiedName(), err)
			}
			for _, c := range t.Columns {
				text := columnText(r.Row[c.Name], c.Bytea)
				for _, n := range needles {
					if strings.Contains(text, n.Value) {
						r.Hits[c.Name] = append(r.Hits[c.Name], n)
					}
				}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// columnText is a column's value as searched: bytea (row_to_json gives it
// as \x hex) decoded to its bytes, anything else in its JSON text form.
func columnText(v any, bytea bool) string {
	if s, ok := v.(string); ok {
		if bytea && strings.HasPrefix(s, `\x`) {
			if b, err := hex.DecodeString(s[2:]); err == nil {
				return string(b)
			}
		}
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Exception is a place where a person's data is kept after a wipe by design
// (documented in the README): Kinds of needles allowed in Table.Column.
type Exception struct {
	Table, Column string
	Kinds         []string
	Why           string
}

// Leftovers describes every hit in rows not covered by an exception, one
// line each naming table.column, the needle's kind and the row's key.
func Leftovers(rows []FoundRow, exceptions []Exception) []string {
	var out []string
	for _, r := range rows {
		cols := make([]string, 0, len(r.Hits))
		for c := range r.Hits {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		for _, c := range cols {
			for _, n := range r.Hits[c] {
				if excepted(exceptions, r.Table.QualifiedName(), c, n.Kind) {
					continue
				}
				out = append(out, fmt.Sprintf("%s.%s (%s) holds the person's %s %q (row %s)",
					r.Table.QualifiedName(), c, columnType(r.Table, c), n.Kind, n.Value, r.Key()))
			}
		}
	}
	return out
}

func excepted(exceptions []Exception, table, column, kind string) bool {
	for _, e := range exceptions {
		if e.Table == table && e.Column == column && slices.Contains(e.Kinds, kind) {
			return true
		}
	}
	return false
}

func columnType(t *Table, name string) string {
	for _, c := range t.Columns {
		if c.Name == name {
			return c.Type
		}
	}
	return "?"
}

// ScanRedis returns a line for every key under prefix whose name or (small)
// value holds a needle.
func ScanRedis(ctx context.Context, rdb *redis.Client, prefix string, needles []Needle) ([]string, error) {
	var out []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		for _, n := range needles {
			if strings.Contains(key, n.Value) {
				out = append(out, fmt.Sprintf("redis key %q names the person's %s %q", key, n.Kind, n.Value))
			}
		}
		val, err := redisValue(ctx, rdb, key)
		if err != nil {
			return nil, err
		}
		for _, n := range needles {
			if strings.Contains(val, n.Value) {
				out = append(out, fmt.Sprintf("redis key %q holds the person's %s %q in its value", key, n.Kind, n.Value))
			}
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("scanning redis: %w", err)
	}
	return out, nil
}

// redisValue is a key's value (up to 1000 elements of a collection) as text.
func redisValue(ctx context.Context, rdb *redis.Client, key string) (string, error) {
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		return "", fmt.Errorf("redis TYPE %s: %w", key, err)
	}
	var vals []string
	switch typ {
	case "none":
		return "", nil // expired meanwhile
	case "string":
		v, err := rdb.GetRange(ctx, key, 0, 1<<20).Result()
		vals, _ = []string{v}, err
	case "hash":
		m, err2 := rdb.HGetAll(ctx, key).Result()
		for k, v := range m {
			vals = append(vals, k, v)
		}
		err = err2
	case "list":
		vals, err = rdb.LRange(ctx, key, 0, 999).Result()
	case "set":
		vals, err = rdb.SRandMemberN(ctx, key, 1000).Result()
	case "zset":
		vals, err = rdb.ZRange(ctx, key, 0, 999).Result()
	case "stream":
		msgs, err2 := rdb.XRangeN(ctx, key, "-", "+", 1000).Result()
		for _, m := range msgs {
			vals = append(vals, fmt.Sprint(m.Values))
		}
		err = err2
	default:
		return "", fmt.Errorf("redis key %s has type %s, which the erasure scan cannot read", key, typ)
	}
	if err != nil && err != redis.Nil {
		return "", fmt.Errorf("reading redis key %s: %w", key, err)
	}
	return strings.Join(vals, "\n"), nil
}

// ExportMisses checks that an export (its files' JSON: arrays of objects)
// holds every row in rows: an object with the row's primary key values and,
// for every column where the person was found, that column's value. Column
// names match ignoring case and underscores (prev_hash ~ PrevHash). It
// returns a line per row missing.
func ExportMisses(rows []FoundRow, files map[string][]byte, skip []Exception) ([]string, error) {
	var objects []map[string]any
	for name, body := range files {
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		var arr []map[string]any
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		if err := dec.Decode(&arr); err != nil {
			return nil, fmt.Errorf("export file %s is not an array of objects: %w", name, err)
		}
		for _, o := range arr {
			objects = append(objects, normalizeKeys(o))
		}
	}
	var out []string
	for _, r := range rows {
		if excepted(skip, r.Table.QualifiedName(), "*", "export") {
			continue
		}
		want := map[string]string{}
		for _, k := range r.Table.Key {
			want[normalizeName(k)] = valueText(r.Row[k])
		}
		for c := range r.Hits {
			want[normalizeName(c)] = valueText(r.Row[c])
		}
		if !slices.ContainsFunc(objects, func(o map[string]any) bool { return holds(o, want) }) {
			cols := make([]string, 0, len(r.Hits))
			for c := range r.Hits {
				cols = append(cols, c)
			}
			sort.Strings(cols)
			out = append(out, fmt.Sprintf("the export lacks %s row %s (the person is in its column(s) %s)",
				r.Table.QualifiedName(), r.Key(), strings.Join(cols, ", ")))
		}
	}
	return out, nil
}

func holds(o map[string]any, want map[string]string) bool {
	for k, v := range want {
		got, ok := o[k]
		if !ok || valueText(got) != v {
			return false
		}
	}
	return true
}

func normalizeName(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }

func normalizeKeys(o map[string]any) map[string]any {
	out := make(map[string]any, len(o))
	for k, v := range o {
		out[normalizeName(k)] = v
	}
	return out
}

// valueText is a JSON value as comparable text: strings as they are, the
// rest (numbers, objects, arrays) re-encoded with sorted keys.
func valueText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
