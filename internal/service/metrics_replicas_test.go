package service

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
)

// TestLastSuccessFromAnyReplica: a source's last success is read from the
// database at each scrape, so two replicas (two stores on one database,
// each with its own metrics) report the same time, the run's end, whichever
// of them ran it; a later dry run or failure does not move it.
func TestLastSuccessFromAnyReplica(t *testing.T) {
	dbs := map[string]func(t *testing.T) string{"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "dirsync.db") }}
	if os.Getenv(sqltest.PostgresEnv) != "" {
		dbs["postgres"] = func(t *testing.T) string { return sqltest.PostgresDSN(t) }
	}
	for name, db := range dbs {
		t.Run(name, func(t *testing.T) { testLastSuccessFromAnyReplica(t, db(t)) })
	}
}

func testLastSuccessFromAnyReplica(t *testing.T, db string) {
	t.Setenv("DIRSYNC_MASTER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	ctx := t.Context()
	var replicas []*factory.Parts
	var metrics []*Metrics
	for range 2 {
		p, err := factory.Open(ctx, factory.Options{DB: db})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		m := NewMetrics()
		m.WatchStore(p.Store, time.Now)
		replicas, metrics = append(replicas, p), append(metrics, m)
	}
	acc := directory.Account{Name: "acme"}
	src := directory.Source{Name: "entra", Kind: directory.KindEntra, Enabled: true}
	finished := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	record := func(p *factory.Parts, r directory.Run) {
		t.Helper()
		r.AccountID, r.SourceID, r.Source, r.Kind, r.Trigger = acc.ID, src.ID, src.Name, directory.RunFull, "schedule"
		r.StartedAt = r.FinishedAt.Add(-time.Minute)
		if err := p.Store.Update(ctx, func(tx store.Tx) error { return tx.CreateRun(ctx, &r) }); err != nil {
			t.Fatal(err)
		}
	}
	err := replicas[0].Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		src.AccountID = acc.ID
		return tx.CreateSource(ctx, &src)
	})
	if err != nil {
		t.Fatal(err)
	}
	line := `dirsync_source_last_success_timestamp_seconds{account="` + acc.ID + `",source="` + src.ID + `",source_name="entra"} `
	for i, m := range metrics {
		if out := scrapeMetrics(m); strings.Contains(out, line) {
			t.Fatalf("replica %d reports a last success before any run", i)
		}
	}
	// Replica 0 runs the sync; later, replica 1 runs a dry run and a run that fails.
	record(replicas[0], directory.Run{Outcome: directory.OutcomeSucceeded, FinishedAt: finished})
	record(replicas[1], directory.Run{Outcome: directory.OutcomeSucceeded, DryRun: true, FinishedAt: finished.Add(time.Hour)})
	record(replicas[1], directory.Run{Outcome: directory.OutcomeFailed, FinishedAt: finished.Add(2 * time.Hour)})
	want := line + strconv.FormatFloat(float64(finished.Unix()), 'e', -1, 64)
	for i, m := range metrics {
		if out := scrapeMetrics(m); !strings.Contains(out, want+"\n") {
			t.Errorf("replica %d lacks %q:\n%s", i, want, grepLines(out, "last_success"))
		}
	}
}

func scrapeMetrics(m *Metrics) string {
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
