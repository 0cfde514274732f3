package app

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// Alerts is the state the admin server exposes at /metrics in the Prometheus
// text format: today the audit-chain check. The worker's compliance
// activities update it.
type Alerts struct {
	auditBroken  atomic.Bool
	auditChecked atomic.Int64 // unix seconds of the last verification
}

// AuditVerified records the outcome of an audit-chain verification.
func (a *Alerts) AuditVerified(ok bool) {
	a.auditBroken.Store(!ok)
	a.auditChecked.Store(time.Now().Unix())
}

// ServeHTTP writes the metrics.
func (a *Alerts) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	broken := 0
	if a.auditBroken.Load() {
		broken = 1
	}
	fmt.Fprintf(w, "# HELP wabot_audit_chain_broken 1 when the last audit-chain verification found the chain broken.\n"+
		"# TYPE wabot_audit_chain_broken gauge\nwabot_audit_chain_broken %d\n"+
		"# HELP wabot_audit_verified_timestamp_seconds When the audit chain was last verified by this process.\n"+
		"# TYPE wabot_audit_verified_timestamp_seconds gauge\nwabot_audit_verified_timestamp_seconds %d\n",
		broken, a.auditChecked.Load())
}
