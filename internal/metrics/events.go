package metrics

import (
	"github.com/rosterhq/roster"
)

// ObserveSync records a finished sync run of source src (its name) of
// inventory inv (its name), whose provider is provider ("aws", "gcp", ...):
// roster_sync_runs_total counts it by status, and
// roster_sync_duration_seconds observes the time from its start to its end
// (a run canceled before it started has none). Call it once per run, when
// the run is done; a run that has not finished is ignored.
func (m *Metrics) ObserveSync(inv, src string, provider string, run *roster.SyncRun) {
	if run == nil || !run.Status.Done() {
		return
	}
	labels := []string{inv, src, provider, string(run.Status)}
	m.syncRuns.WithLabelValues(labels...).Inc()
	if run.StartedAt != nil && run.FinishedAt != nil && !run.FinishedAt.Before(*run.StartedAt) {
		m.syncDuration.WithLabelValues(labels...).Observe(run.FinishedAt.Sub(*run.StartedAt).Seconds())
	}
}

// The values of roster_broker_issuances_total's labels; they are the
// constants of internal/broker (which does not import this package, nor
// client_golang).
var (
	issuanceKinds   = []string{"issue", "ssh_sign"}
	issuanceResults = []string{"issued", "denied", "error"}
)

// ObserveIssuance counts one credential issuance or SSH key signing in
// roster_broker_issuances_total. It implements broker.IssuanceObserver:
// pass the Metrics to broker.WithIssuanceObserver. Values other than the
// known kinds and results are counted as "unknown", so a label never holds
// anything else.
func (m *Metrics) ObserveIssuance(kind, result string) {
	m.issuances.WithLabelValues(known(kind, issuanceKinds), known(result, issuanceResults)).Inc()
}

func known(v string, values []string) string {
	for _, k := range values {
		if v == k {
			return v
		}
	}
	return "unknown"
}
