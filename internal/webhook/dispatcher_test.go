package webhook_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
	"github.com/dirsync/dirsync/internal/webhook"
)

type fixture struct {
	t       testing.TB
	st      *sqlstore.Store
	box     *secret.Box
	account directory.Account
	clk     *clock.Fake // the dispatcher's
	d       *webhook.Dispatcher
}

func newFixture(t testing.TB) *fixture {
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	rand.Read(key)
	box, _ := secret.New(key)
	f := &fixture{t: t, st: st, box: box, account: directory.Account{Name: "a"}, clk: clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.CreateAccount(t.Context(), &f.account) }); err != nil {
		t.Fatal(err)
	}
	loopback, _ := safehttp.ParseAllowList([]string{"127.0.0.1"}) // the test's receivers
	f.d = &webhook.Dispatcher{Store: st, Box: box, Clock: f.clk, AllowList: loopback}
	return f
}

func (f *fixture) events(types ...string) {
	f.t.Helper()
	var es []directory.Event
	for _, ty := range types {
		es = append(es, directory.Event{AccountID: f.account.ID, Type: ty, Time: f.clk.Now(), Data: json.RawMessage(`{"n":1}`)})
	}
	if err := f.st.Update(f.t.Context(), func(tx store.Tx) error { return tx.AppendEvents(f.t.Context(), es) }); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) subscribe(url string, types ...string) (store.Webhook, string) {
	f.t.Helper()
	sec, _ := webhook.NewSecret()
	sealed, _ := f.box.Seal([]byte(sec))
	h := store.Webhook{AccountID: f.account.ID, URL: url, EventTypes: types, Secret: sealed, Enabled: true}
	err := f.st.Update(f.t.Context(), func(tx store.Tx) error {
		return tx.CreateWebhook(f.t.Context(), &h)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return h, sec
}

func (f *fixture) tick() int {
	f.t.Helper()
	n, err := f.d.Tick(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// receiver verifies signatures and answers from a script of statuses
// (then 200).
type receiver struct {
	mu     sync.Mutex
	secret string
	script []int
	got    []webhook.Payload
	bad    int
	now    func() time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhook.Verify(rc.secret, r.Header, body, rc.now(), webhook.DefaultTolerance); err != nil {
		rc.bad++
		w.WriteHeader(400)
		return
	}
	status := 200
	if len(rc.script) > 0 {
		status, rc.script = rc.script[0], rc.script[1:]
	}
	if status == 200 {
		var p webhook.Payload
		json.Unmarshal(body, &p)
		rc.got = append(rc.got, p)
	}
	w.WriteHeader(status)
}

func TestInOrderWithRetries(t *testing.T) {
	f := newFixture(t)
	rc := &receiver{script: []int{500, 503}, now: f.clk.Now}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	h, sec := f.subscribe(srv.URL)
	rc.secret = sec
	f.events(directory.EventUserCreated, directory.EventUserUpdated, directory.EventSyncCompleted)

	if n := f.tick(); n != 1 {
		t.Fatalf("first tick made %d attempts, want 1 (then wait)", n)
	}
	if n := f.tick(); n != 0 {
		t.Fatalf("tick before the backoff made %d attempts", n)
	}
	f.clk.Advance(webhook.DefaultFirstBackoff)
	if n := f.tick(); n != 1 {
		t.Fatalf("second try: %d attempts", n)
	}
	f.clk.Advance(webhook.DefaultFirstBackoff) // the second wait is twice as long
	if n := f.tick(); n != 0 {
		t.Fatalf("backoff did not double: %d attempts", n)
	}
	f.clk.Advance(webhook.DefaultFirstBackoff)
	if n := f.tick(); n != 3 {
		t.Fatalf("after recovery: %d attempts, want 3", n)
	}
	if rc.bad != 0 || len(rc.got) != 3 {
		t.Fatalf("bad signatures %d, delivered %d", rc.bad, len(rc.got))
	}
	for i, want := range []string{directory.EventUserCreated, directory.EventUserUpdated, directory.EventSyncCompleted} {
		if rc.got[i].Type != want || (i > 0 && rc.got[i].Seq <= rc.got[i-1].Seq) {
			t.Fatalf("delivery %d: %+v", i, rc.got[i])
		}
	}
	svc := f.st
	log, err := svc.Deliveries(t.Context(), f.account.ID, h.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, d := range log {
		outcomes[d.Outcome]++
	}
	if outcomes[store.DeliveryFailed] != 2 || outcomes[store.DeliverySucceeded] != 3 {
		t.Fatalf("log %v", outcomes)
	}
	if f.tick() != 0 {
		t.Fatal("delivered again")
	}
}

func TestGivesUpAfterADay(t *testing.T) {
	f := newFixture(t)
	rc := &receiver{now: f.clk.Now}
	for range 1000 {
		rc.script = append(rc.script, 500)
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	h, sec := f.subscribe(srv.URL, directory.EventUserCreated)
	rc.secret = sec
	f.events(directory.EventUserCreated, directory.EventGroupCreated, directory.EventUserCreated)
	start := f.clk.Now()
	attempts := 0
	svc := f.st
	for i := 0; i < 200; i++ {
		attempts += f.tick()
		cur, _ := svc.Webhook(t.Context(), f.account.ID, h.ID)
		if cur.Cursor > 0 {
			break
		}
		if cur.NextAttemptAt.IsZero() {
			t.Fatal("no next attempt after a failure")
		}
		f.clk.Set(cur.NextAttemptAt)
	}
	if took := f.clk.Now().Sub(start); took < 24*time.Hour {
		t.Fatalf("gave up after %s, want at least a day", took)
	}
	log, _ := svc.Deliveries(t.Context(), f.account.ID, h.ID, 0)
	gaveUp := 0
	for _, d := range log {
		if d.Outcome == store.DeliveryGaveUp {
			gaveUp++
			if d.EventSeq != 1 {
				t.Fatalf("gave up on %+v", d)
			}
		}
	}
	if gaveUp != 1 {
		t.Fatalf("gave up %d times", gaveUp)
	}
	if attempts < 20 || attempts > 60 {
		t.Fatalf("%d attempts in a day: backoff is not exponential up to its cap", attempts)
	}
	// The next subscribed event was tried at once (the group event is
	// not subscribed); once the receiver recovers it is delivered.
	rc.mu.Lock()
	rc.script = nil
	rc.mu.Unlock()
	cur, _ := svc.Webhook(t.Context(), f.account.ID, h.ID)
	if cur.Cursor != 2 || cur.Attempts != 1 {
		t.Fatalf("after giving up: cursor %d attempts %d", cur.Cursor, cur.Attempts)
	}
	f.clk.Set(cur.NextAttemptAt)
	f.tick()
	if len(rc.got) != 1 || rc.got[0].Type != directory.EventUserCreated || rc.got[0].Seq != 3 {
		t.Fatalf("after giving up: %+v", rc.got)
	}
}

func TestBackoff(t *testing.T) {
	d := &webhook.Dispatcher{FirstBackoff: time.Second, MaxBackoff: 10 * time.Second}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := d.Backoff(i + 1); got != w {
			t.Errorf("attempt %d: %s, want %s", i+1, got, w)
		}
	}
}
