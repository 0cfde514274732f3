// Package migrations holds wabot's PostgreSQL schema as numbered SQL files
// embedded into the binary. Every change is a pair NNNNN_name.up.sql and
// NNNNN_name.down.sql; store.MigrateUp and store.MigrateDown apply them.
//
// Never edit a migration that has been released: add a new number instead.
package migrations

import "embed"

// FS holds the migration files at its root.
//
//go:embed *.sql
var FS embed.FS
