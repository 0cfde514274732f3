// Package e2e holds the end-to-end tests of the text path: real
// *events.Message values into the real gateway handler, the embedded Temporal
// server, the real worker (in-process or as a real `wabot worker` process),
// real PostgreSQL and Redis, and the OpenAI stand-in. It has no non-test code.
package e2e
