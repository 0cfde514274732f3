// Package bench is the load, ceiling and chaos harness behind `make bench`
// and `make chaos`. The harness itself lives in this package's tests (it
// reuses internal/testkit for a fresh database and Redis prefix per run);
// this file set holds what those tests share: the ceiling workflows, the
// statistics, and the BENCHMARKS.md table and SVG chart writers.
//
// The load test is skipped unless -load is passed; see BENCHMARKS.md for
// the exact commands.
package bench
