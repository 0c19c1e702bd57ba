package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/webhook"
)

// withFakeClock returns the fake clock the fixture's dispatcher runs on.
func (f *fixture) withFakeClock() *clock.Fake { return f.clk }

// gate is a receiver that holds every request until released (or until
// the request is cancelled), telling the test when one arrives.
type gate struct {
	once      sync.Once
	mu        sync.Mutex
	arrived   chan string // event ids, as requests arrive
	release   chan struct{}
	cancelled chan string // event ids of requests cancelled while held
	done      []string    // answered 200
}

func newGate() *gate {
	return &gate{arrived: make(chan string, 100), release: make(chan struct{}), cancelled: make(chan string, 100)}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(webhook.HeaderID)
	io.ReadAll(r.Body) // then the server notices when the client goes away
	g.arrived <- id
	select {
	case <-g.release:
		g.mu.Lock()
		g.done = append(g.done, id)
		g.mu.Unlock()
	case <-r.Context().Done():
		g.cancelled <- id
	}
}

// open lets every held request through, now and from now on.
func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// serveGate starts g; the test's end opens it before closing the server.
func serveGate(t *testing.T, g *gate) *httptest.Server {
	srv := httptest.NewServer(g)
	t.Cleanup(func() { g.open(); srv.Close() })
	return srv
}

func (g *gate) answered() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.done...)
}

// wait receives from ch or fails the test after a generous real-time bound.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func (f *fixture) webhook(id string) (store.Webhook, error) {
	svc := f.st
	return svc.Webhook(f.t.Context(), f.account.ID, id)
}

func (f *fixture) setEnabled(id string, enabled bool) {
	f.t.Helper()
	err := f.st.Update(f.t.Context(), func(tx store.Tx) error {
		stx := tx
		h, err := stx.Webhook(f.t.Context(), f.account.ID, id)
		if err != nil {
			return err
		}
		h.Enabled = enabled
		return stx.UpdateWebhook(f.t.Context(), h)
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) deleteWebhook(id string) {
	f.t.Helper()
	err := f.st.Update(f.t.Context(), func(tx store.Tx) error {
		stx := tx
		return stx.DeleteWebhook(f.t.Context(), f.account.ID, id)
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// A receiver that never answers fails the delivery after Timeout, on the
// dispatcher's clock; the failure is recorded and retried later.
func TestHangingReceiverTimesOut(t *testing.T) {
	f := newFixture(t)
	fc := f.withFakeClock()
	g := newGate()
	srv := serveGate(t, g)
	h, _ := f.subscribe(srv.URL)
	f.events(directory.EventUserCreated)

	done := make(chan int)
	go func() { n, _ := f.d.Tick(t.Context()); done <- n }()
	wait(t, g.arrived, "the delivery")
	fc.Advance(webhook.DefaultTimeout)
	if n := wait(t, done, "Tick"); n != 1 {
		t.Fatalf("%d attempts", n)
	}
	wait(t, g.cancelled, "the receiver to see the request dropped")
	log := f.deliveries(h)
	if len(log) != 1 || log[0].Outcome != store.DeliveryFailed || !strings.Contains(log[0].Error, "timed out after 10s") || log[0].ErrorSummary != "timed out" {
		t.Fatalf("log %+v", log)
	}
	cur, _ := f.webhook(h.ID)
	if cur.Attempts != 1 || !cur.NextAttemptAt.Equal(fc.Now().Add(webhook.DefaultFirstBackoff-webhook.DefaultTimeout)) {
		t.Fatalf("after the timeout: %+v", cur)
	}
}

// Deleting a webhook stops it at once: the delivery on the wire is
// cancelled and nothing more is sent, though events remain.
func TestDeletedWebhookGetsNothingMore(t *testing.T) {
	for _, how := range []string{"here", "elsewhere"} {
		t.Run(how, func(t *testing.T) {
			f := newFixture(t)
			fc := f.withFakeClock()
			g := newGate()
			srv := serveGate(t, g)
			h, _ := f.subscribe(srv.URL)
			f.events(directory.EventUserCreated, directory.EventUserUpdated, directory.EventUserDisabled, directory.EventUserDeleted)

			done := make(chan int)
			go func() { n, _ := f.d.Tick(t.Context()); done <- n }()
			wait(t, g.arrived, "the first delivery")
			f.deleteWebhook(h.ID)
			if how == "here" {
				// The process that deleted it says so (the API does).
				f.d.Changed(h.ID)
			} else {
				// Another replica deleted it: the watch sees it.
				fc.Advance(webhook.DefaultWatchEvery)
			}
			wait(t, g.cancelled, "the delivery in flight to be cancelled")
			if n := wait(t, done, "Tick"); n != 1 {
				t.Fatalf("%d attempts", n)
			}
			g.open()
			if n, _ := f.d.Tick(t.Context()); n != 0 {
				t.Fatalf("a deleted webhook got %d more attempts", n)
			}
			if len(g.arrived) != 0 || len(g.answered()) != 0 {
				t.Fatalf("the receiver got %d more requests", len(g.arrived))
			}
		})
	}
}

// Disabling a webhook cancels the delivery on the wire, records it as
// cancelled (not the receiver's failure) and sends nothing more until it is
// enabled again, when the cancelled event is delivered first.
func TestDisabledWebhookGetsNothingMore(t *testing.T) {
	f := newFixture(t)
	f.withFakeClock()
	g := newGate()
	srv := serveGate(t, g)
	h, _ := f.subscribe(srv.URL)
	f.events(directory.EventUserCreated, directory.EventUserUpdated, directory.EventUserDisabled)

	done := make(chan int)
	go func() { n, _ := f.d.Tick(t.Context()); done <- n }()
	first := wait(t, g.arrived, "the first delivery")
	f.setEnabled(h.ID, false)
	f.d.Changed(h.ID)
	wait(t, g.cancelled, "the delivery in flight to be cancelled")
	wait(t, done, "Tick")
	g.open()
	for range 3 {
		if n, _ := f.d.Tick(t.Context()); n != 0 {
			t.Fatalf("a disabled webhook got %d attempts", n)
		}
	}
	log := f.deliveries(h)
	if len(log) != 1 || log[0].Outcome != store.DeliveryCancelled {
		t.Fatalf("log %+v", log)
	}
	if cur, _ := f.webhook(h.ID); cur.Attempts != 0 || !cur.NextAttemptAt.IsZero() || cur.Cursor != 0 {
		t.Fatalf("a cancelled delivery counted against the receiver: %+v", cur)
	}

	f.setEnabled(h.ID, true)
	if n, _ := f.d.Tick(t.Context()); n != 3 {
		t.Fatalf("after enabling: %d attempts", n)
	}
	got := g.answered()
	if len(got) != 3 || got[0] != first {
		t.Fatalf("answered %v, want the cancelled event %s first", got, first)
	}
}

// A slow or dead receiver only delays itself: while twenty receivers hang,
// a healthy one gets each new event as it comes.
func TestHangingReceiversDoNotDelayOthers(t *testing.T) {
	f := newFixture(t)
	f.withFakeClock() // no delivery times out: the hanging ones hang for good
	hang := newGate()
	hangSrv := serveGate(t, hang)
	got := make(chan string, 100)
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(webhook.HeaderID)
	}))
	defer healthy.Close()
	for i := range 20 {
		f.subscribe(hangSrv.URL + "/" + string(rune('a'+i)))
	}
	f.subscribe(healthy.URL)

	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan struct{})
	go func() { f.d.Run(ctx, time.Hour); close(ran) }()
	defer func() { cancel(); <-ran }()
	for i := range 5 {
		f.events(directory.EventUserCreated)
		f.d.Wake()
		wait(t, got, "the healthy receiver")
		if i == 0 {
			for range 20 {
				wait(t, hang.arrived, "the hanging receivers")
			}
		}
	}
}

// An endpoint is served by one replica at a time: a replica that froze
// mid-delivery (it stopped renewing its claim) is taken over once its claim
// runs out, and cannot move the cursor afterwards.
func TestFrozenReplicaIsTakenOver(t *testing.T) {
	f := newFixture(t)
	fc := f.withFakeClock()
	var mu sync.Mutex
	var got []int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Seq int64 }
		decode(r, &p)
		mu.Lock()
		got = append(got, p.Seq)
		mu.Unlock()
	}))
	defer recv.Close()
	h, _ := f.subscribe(recv.URL)
	f.events(directory.EventUserCreated, directory.EventUserUpdated, directory.EventUserDisabled)

	// Replica A: its first request hangs, and it renews nothing.
	onWire := make(chan struct{})
	frozen := &webhook.Dispatcher{Store: f.st, Box: f.box, Clock: fc, Holder: "A", Timeout: 100 * time.Hour, WatchEvery: 100 * time.Hour,
		Client: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			close(onWire)
			<-r.Context().Done()
			return nil, r.Context().Err()
		})}}
	replicaB := &webhook.Dispatcher{Store: f.st, Box: f.box, Clock: fc, Holder: "B", AllowList: f.d.AllowList}

	actx, kill := context.WithCancel(t.Context())
	aDone := make(chan struct{})
	go func() { frozen.Tick(actx); close(aDone) }()
	<-onWire
	if n, _ := replicaB.Tick(t.Context()); n != 0 {
		t.Fatalf("B delivered %d while A held the endpoint", n)
	}
	fc.Advance(webhook.DefaultClaimFor + time.Second)
	if n, _ := replicaB.Tick(t.Context()); n != 3 {
		t.Fatalf("B made %d attempts after A's claim ran out", n)
	}
	kill()
	<-aDone
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("received %v, want 1 2 3", got)
	}
	if cur, _ := f.webhook(h.ID); cur.Cursor != 3 {
		t.Fatalf("cursor %d", cur.Cursor)
	}
	if log := f.deliveries(h); len(log) != 3 {
		t.Fatalf("log %+v", log)
	}
}

// The delivery log tells administrators what happened and the other roles
// only what they need.
func TestErrorsForAdministratorsAndOthers(t *testing.T) {
	f := newFixture(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer bad.Close()
	cases := []struct{ url, full, summary string }{
		{closed, "connection refused", "receiver refused the connection"},
		{bad.URL, "receiver answered 502 Bad Gateway", "answered 502"},
		{"http://10.0.0.1/", "10.0.0.1 is a private address", "receiver address not allowed"},
	}
	var hooks []store.Webhook
	for _, c := range cases {
		h, _ := f.subscribe(c.url)
		hooks = append(hooks, h)
	}
	f.events(directory.EventUserCreated)
	f.tick()
	for i, c := range cases {
		log := f.deliveries(hooks[i])
		if len(log) != 1 {
			t.Fatalf("%s: log %+v", c.url, log)
		}
		d := log[0]
		if !strings.Contains(d.Error, c.full) || d.ErrorSummary != c.summary {
			t.Errorf("%s: error %q summary %q, want %q and %q", c.url, d.Error, d.ErrorSummary, c.full, c.summary)
		}
		if r := d.Redacted(); r.Error != c.summary || strings.Contains(r.Error, "127.0.0.1") || strings.Contains(r.Error, "10.0.0.1") {
			t.Errorf("%s: redacted %q", c.url, r.Error)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func decode(r *http.Request, v any) {
	json.NewDecoder(r.Body).Decode(v)
}
