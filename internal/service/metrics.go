package service

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
)

// Metrics are the service's Prometheus counters, written in the text
// exposition format by hand: a dozen series do not justify a dependency.
type Metrics struct {
	mu     sync.Mutex
	values map[string]float64 // "name{labels}" -> value
	help   map[string][2]string
}

// NewMetrics returns the service's metrics, every family declared.
func NewMetrics() *Metrics {
	m := &Metrics{values: map[string]float64{}, help: map[string][2]string{}}
	m.declare("dirsync_runs_total", "counter", "Sync runs finished, by kind, trigger and outcome.")
	m.declare("dirsync_run_duration_seconds", "summary", "Duration of finished sync runs.")
	m.declare("dirsync_objects_changed_total", "counter", "Directory objects changed by sync runs, by action.")
	m.declare("dirsync_graph_requests_total", "counter", "Requests sync runs made to their sources (Microsoft Graph, LDAP).")
	m.declare("dirsync_graph_throttled_total", "counter", "Requests the source throttled (HTTP 429/503).")
	m.declare("dirsync_syncs_running", "gauge", "Sync runs in progress.")
	m.declare("dirsync_sync_requests_total", "counter", "Sync requests, by trigger and what became of them (started, queued, coalesced).")
	m.declare("dirsync_webhook_deliveries_total", "counter", "Webhook delivery attempts, by outcome.")
	m.declare("dirsync_webhook_delivery_seconds", "summary", "Duration of webhook delivery attempts.")
	m.declare("dirsync_http_requests_total", "counter", "HTTP requests served, by status class.")
	return m
}

func (m *Metrics) declare(name, kind, help string) {
	m.help[name] = [2]string{kind, help}
	if kind == "gauge" {
		m.values[name] = 0
	}
}

func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", labels[i], labels[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

// Add adds v to the series; labels are name, value pairs.
func (m *Metrics) Add(name string, v float64, labels ...string) {
	m.mu.Lock()
	m.values[series(name, labels...)] += v
	m.mu.Unlock()
}

// Set sets a gauge.
func (m *Metrics) Set(name string, v float64, labels ...string) {
	m.mu.Lock()
	m.values[series(name, labels...)] = v
	m.mu.Unlock()
}

// Value returns a series' value, for tests.
func (m *Metrics) Value(name string, labels ...string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.values[series(name, labels...)]
}

// ObserveRun counts a finished run.
func (m *Metrics) ObserveRun(r directory.Run, took time.Duration) {
	m.Add("dirsync_runs_total", 1, "kind", string(r.Kind), "trigger", r.Trigger, "outcome", string(r.Outcome))
	m.Add("dirsync_run_duration_seconds_sum", took.Seconds())
	m.Add("dirsync_run_duration_seconds_count", 1)
	if !r.DryRun && r.Outcome == directory.OutcomeSucceeded {
		c := r.Counts
		for _, a := range []struct {
			action string
			n      int
		}{{"created", c.Created}, {"updated", c.Updated}, {"disabled", c.Disabled}, {"enabled", c.Enabled},
			{"deleted", c.Deleted}, {"restored", c.Restored}, {"member_added", c.MembersAdded}, {"member_removed", c.MembersRemoved}} {
			if a.n > 0 {
				m.Add("dirsync_objects_changed_total", float64(a.n), "action", a.action)
			}
		}
	}
	m.Add("dirsync_graph_requests_total", float64(r.Requests))
	m.Add("dirsync_graph_throttled_total", float64(r.Throttled))
}

// WriteTo writes every series in the text exposition format.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	m.mu.Lock()
	keys := make([]string, 0, len(m.values))
	for k := range m.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	done := map[string]bool{}
	for _, k := range keys {
		name, _, _ := strings.Cut(k, "{")
		base := strings.TrimSuffix(strings.TrimSuffix(name, "_sum"), "_count")
		if h, ok := m.help[base]; ok && !done[base] {
			done[base] = true
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", base, h[1], base, h[0])
		}
		fmt.Fprintf(&b, "%s %g\n", k, m.values[k])
	}
	m.mu.Unlock()
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// ServeHTTP serves /metrics.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.WriteTo(w)
}
