package service

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Metrics are the service's Prometheus metrics, through client_golang: what
// this process did (runs, requests, deliveries), and, read from the
// database at each scrape, what the fleet has waiting (queued runs, webhook
// backlogs) and each source's last success, the same from any replica.
type Metrics struct {
	reg      *prometheus.Registry
	counters map[string]*prometheus.CounterVec
	gauges   map[string]*prometheus.GaugeVec

	runDuration     *prometheus.HistogramVec
	webhookDuration prometheus.Histogram
}

// counter and gauge families: name, help, label names.
var (
	counterFamilies = []struct {
		name, help string
		labels     []string
	}{
		{"dirsync_runs_total", "Sync runs finished here, by kind, trigger and outcome.", []string{"kind", "trigger", "outcome"}},
		{"dirsync_run_failures_total", "Sync runs that did not succeed here, by kind of failure (source_failed, stopped, unavailable, ...).", []string{"kind"}},
		{"dirsync_objects_changed_total", "Directory objects changed by sync runs, by action.", []string{"action"}},
		{"dirsync_graph_requests_total", "Requests sync runs made to their sources (Microsoft Graph, LDAP).", nil},
		{"dirsync_graph_throttled_total", "Requests the source throttled (HTTP 429/503).", nil},
		{"dirsync_sync_requests_total", "Sync requests, by trigger and what became of them.", []string{"trigger", "result"}},
		{"dirsync_webhook_deliveries_total", "Webhook delivery attempts, by outcome.", []string{"outcome"}},
		{"dirsync_mail_attempts_total", "Mail sending attempts, by outcome.", []string{"outcome"}},
		{"dirsync_http_requests_total", "HTTP requests served, by status class.", []string{"code"}},
	}
	gaugeFamilies = []struct {
		name, help string
		labels     []string
	}{
		{"dirsync_syncs_running", "Sync runs in progress in this process.", nil},
	}
)

// NewMetrics returns the service's metrics, every family declared.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), counters: map[string]*prometheus.CounterVec{}, gauges: map[string]*prometheus.GaugeVec{}}
	for _, f := range counterFamilies {
		m.counters[f.name] = prometheus.NewCounterVec(prometheus.CounterOpts{Name: f.name, Help: f.help}, f.labels)
		m.reg.MustRegister(m.counters[f.name])
	}
	for _, f := range gaugeFamilies {
		m.gauges[f.name] = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: f.name, Help: f.help}, f.labels)
		m.reg.MustRegister(m.gauges[f.name])
	}
	m.gauges["dirsync_syncs_running"].WithLabelValues().Set(0)
	m.runDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dirsync_run_duration_seconds",
		Help:    "Duration of the sync runs finished here, by kind and outcome.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 10800}}, []string{"kind", "outcome"})
	m.webhookDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dirsync_webhook_delivery_seconds",
		Help: "Duration of webhook delivery attempts.", Buckets: prometheus.DefBuckets})
	m.reg.MustRegister(m.runDuration, m.webhookDuration,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// labelsOf turns name, value pairs into labels.
func labelsOf(pairs []string) prometheus.Labels {
	l := prometheus.Labels{}
	for i := 0; i+1 < len(pairs); i += 2 {
		l[pairs[i]] = pairs[i+1]
	}
	return l
}

// Add adds v to a declared counter or gauge; labels are name, value pairs.
// A name not declared is a programming error, ignored rather than fatal.
func (m *Metrics) Add(name string, v float64, labels ...string) {
	if c, ok := m.counters[name]; ok {
		if c, err := c.GetMetricWith(labelsOf(labels)); err == nil {
			c.Add(v)
		}
		return
	}
	if g, ok := m.gauges[name]; ok {
		if g, err := g.GetMetricWith(labelsOf(labels)); err == nil {
			g.Add(v)
		}
	}
}

// ObserveWebhook counts a webhook delivery attempt and its duration.
func (m *Metrics) ObserveWebhook(outcome string, d time.Duration) {
	m.Add("dirsync_webhook_deliveries_total", 1, "outcome", outcome)
	m.webhookDuration.Observe(d.Seconds())
}

// ObserveRun counts a finished run; failureKind is its error's kind
// (manage.KindOf), empty when it succeeded.
func (m *Metrics) ObserveRun(r directory.Run, took time.Duration, failureKind string) {
	m.Add("dirsync_runs_total", 1, "kind", string(r.Kind), "trigger", r.Trigger, "outcome", string(r.Outcome))
	m.runDuration.WithLabelValues(string(r.Kind), string(r.Outcome)).Observe(took.Seconds())
	if r.Outcome != directory.OutcomeSucceeded {
		if failureKind == "" {
			failureKind = string(r.Outcome)
		}
		m.Add("dirsync_run_failures_total", 1, "kind", failureKind)
	}
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

// WatchStore adds the fleet's gauges, read from the database at each
// scrape: the queued runs (how many, and how long the oldest has waited),
// each webhook's backlog (events not yet delivered) and each source's last
// success, whichever replica ran it.
func (m *Metrics) WatchStore(st store.Reader, now func() time.Time) {
	m.reg.MustRegister(&storeCollector{st: st, now: now})
}

// ServeHTTP serves /metrics.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// storeCollector reads the fleet's gauges from the database.
type storeCollector struct {
	st  store.Reader
	now func() time.Time
}

var (
	queuedDesc = prometheus.NewDesc("dirsync_queue_depth", "Sync runs queued, in the whole fleet.", nil, nil)
	ageDesc    = prometheus.NewDesc("dirsync_queue_oldest_age_seconds",
		"How long the oldest due queued run has waited (0 when none waits).", nil, nil)
	backlogDesc = prometheus.NewDesc("dirsync_webhook_backlog_events",
		"Events of the webhook's account not yet delivered to it (nor given up).", []string{"account", "webhook"}, nil)
	lastSuccessDesc = prometheus.NewDesc("dirsync_source_last_success_timestamp_seconds",
		"When each source's newest successful run (not a dry run) finished, whichever replica ran it.",
		[]string{"account", "source", "source_name"}, nil)
	scrapeErrDesc = prometheus.NewDesc("dirsync_database_scrape_error",
		"1 when the fleet's gauges could not be read from the database at this scrape.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queuedDesc
	ch <- ageDesc
	ch <- backlogDesc
	ch <- lastSuccessDesc
	ch <- scrapeErrDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	failed := 0.0
	if queued, err := c.st.RunsByOutcome(ctx, directory.OutcomeQueued); err == nil {
		now, oldest := c.now(), 0.0
		for _, r := range queued {
			if age := now.Sub(r.StartedAt).Seconds(); age > oldest {
				oldest = age
			}
		}
		ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(len(queued)))
		ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, oldest)
	} else {
		failed = 1
	}
	if hooks, err := c.st.AllWebhooks(ctx); err == nil {
		last := map[string]int64{}
		for _, h := range hooks {
			seq, ok := last[h.AccountID]
			if !ok {
				if seq, err = c.st.LastEventSeq(ctx, h.AccountID); err != nil {
					failed = 1
					continue
				}
				last[h.AccountID] = seq
			}
			ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(max(seq-h.Cursor, 0)), h.AccountID, h.ID)
		}
	} else {
		failed = 1
	}
	if last, err := c.st.LastSuccesses(ctx); err == nil {
		for _, s := range last {
			ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(s.FinishedAt.Unix()),
				s.AccountID, s.SourceID, s.Source)
		}
	} else {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, failed)
}
