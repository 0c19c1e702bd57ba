package service

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/store"
)

// scrape returns the service's /metrics.
func (w *world) scrape() string {
	rec := httptest.NewRecorder()
	w.svc.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// TestMetrics: a successful run sets its source's last success and the run
// duration histogram; a failed one counts its kind of failure; the queue's
// depth and age and a webhook's backlog are read from the database.
func TestMetrics(t *testing.T) {
	w := newWorld(t)
	good := w.addSource("good", nil)
	bad := w.addSource("bad", map[string]any{"tenant": "00000000-0000-0000-0000-000000000000"})
	m := w.parts.Manager
	for _, src := range []manage.SourceView{good, bad} {
		run, err := m.RequestSync(t.Context(), w.admin(), src.ID, manage.SyncRequest{})
		if err != nil {
			t.Fatal(err)
		}
		w.waitRun(run.ID)
	}
	out := w.scrape()
	for _, want := range []string{
		`dirsync_source_last_success_timestamp_seconds{account="` + good.AccountID + `",source="` + good.ID + `",source_name="good"} `,
		`dirsync_run_duration_seconds_count{kind="full",outcome="succeeded"} 1`,
		`dirsync_run_failures_total{kind="source_failed"} 1`,
		"dirsync_queue_depth 0",
		"dirsync_database_scrape_error 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(out, `source_name="bad"`) {
		t.Error("a source that never succeeded has a last success")
	}

	// A run queued and not taken, 90 seconds on; a webhook behind by every
	// event of the account.
	var c captured
	m.SetExecutor(&c)
	if _, err := m.RequestSync(t.Context(), w.admin(), good.ID, manage.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	m.SetExecutor(w.svc.Runner)
	w.clock.Advance(90 * time.Second)
	url := "https://hooks.example.com/dirsync"
	hook, err := m.CreateWebhook(t.Context(), w.admin(), manage.WebhookInput{URL: &url})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := w.parts.Store.LastEventSeq(t.Context(), good.AccountID)
	if err != nil || seq == 0 {
		t.Fatalf("events: %d %v", seq, err)
	}
	// A new webhook starts at the account's last event: make it behind.
	if err := w.rewindWebhook(hook.ID); err != nil {
		t.Fatal(err)
	}
	out = w.scrape()
	for _, want := range []string{"dirsync_queue_depth 1", "dirsync_queue_oldest_age_seconds 90",
		`dirsync_webhook_backlog_events{account="` + good.AccountID + `",webhook="` + hook.ID + `"} ` + itoa(seq)} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// rewindWebhook sets the webhook's cursor to the start of its account's
// feed, as if it had delivered nothing.
func (w *world) rewindWebhook(id string) error {
	ctx := w.t.Context()
	return w.parts.Store.Update(ctx, func(tx store.Tx) error {
		h, err := tx.Webhook(ctx, w.owner.AccountID, id)
		if err != nil {
			return err
		}
		h.Cursor = 0
		_, err = tx.SaveWebhookState(ctx, h, "")
		return err
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
