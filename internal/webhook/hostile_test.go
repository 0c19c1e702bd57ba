package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/store"
)

// deliveries returns a webhook's delivery log, oldest first.
func (f *fixture) deliveries(h store.Webhook) []store.Delivery {
	f.t.Helper()
	svc := f.st
	log, err := svc.Deliveries(f.t.Context(), f.account.ID, h.ID, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	for i, j := 0, len(log)-1; i < j; i, j = i+1, j-1 {
		log[i], log[j] = log[j], log[i]
	}
	return log
}

// Without an allow list, a receiver on loopback is never reached: the
// dialer refuses the address, and the attempt is a recorded failure.
func TestLoopbackReceiverRefused(t *testing.T) {
	f := newFixture(t)
	f.d.AllowList = safehttp.AllowList{}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	var hooks []store.Webhook
	for _, u := range []string{srv.URL, "http://localhost" + port, "http://[::ffff:127.0.0.1]" + port} {
		h, _ := f.subscribe(u + "/hook")
		hooks = append(hooks, h)
	}
	f.events(directory.EventUserCreated)
	f.tick()
	if hits.Load() != 0 {
		t.Fatalf("the loopback receiver was reached %d times", hits.Load())
	}
	for _, h := range hooks {
		log := f.deliveries(h)
		if len(log) != 1 || log[0].Outcome != store.DeliveryFailed || !strings.Contains(log[0].Error, "loopback") {
			t.Errorf("%s: log %+v, want one failure naming the loopback address", h.URL, log)
		}
	}
}

// A 3xx is a failed delivery: the redirect target never sees the signed
// body, and the event is not counted as delivered.
func TestRedirectIsAFailedDelivery(t *testing.T) {
	f := newFixture(t)
	var elsewhere atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer target.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/stolen", code)
		}))
		h, _ := f.subscribe(redirector.URL)
		f.events(directory.EventUserCreated)
		f.tick()
		redirector.Close()
		log := f.deliveries(h)
		if len(log) == 0 || log[0].Outcome != store.DeliveryFailed || log[0].HTTPStatus != code || !strings.Contains(log[0].Error, "redirect") {
			t.Errorf("%d: log %+v, want a failed delivery saying redirects are not followed", code, log)
		}
		svc := f.st
		cur, _ := svc.Webhook(t.Context(), f.account.ID, h.ID)
		if cur.Attempts == 0 {
			t.Errorf("%d: counted as delivered (cursor %d)", code, cur.Cursor)
		}
		// Turn it off so that later ticks leave it alone.
		f.st.Update(t.Context(), func(tx store.Tx) error {
			stx := tx
			cur.Enabled = false
			return stx.UpdateWebhook(t.Context(), cur)
		})
	}
	if elsewhere.Load() != 0 {
		t.Fatalf("the redirect target got %d requests", elsewhere.Load())
	}
}
