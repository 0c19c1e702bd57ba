package webhook_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
	"github.com/dirsync/dirsync/internal/webhook"
)

// twoHandles opens one database twice, as two replicas would.
type twoHandles func(t *testing.T) (a, b *sqlstore.Store)

func sqliteTwice(t *testing.T) (a, b *sqlstore.Store) {
	path := filepath.Join(t.TempDir(), "d.db")
	for _, p := range []**sqlstore.Store{&a, &b} {
		s, err := sqlstore.OpenSQLite(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		*p = s
	}
	return a, b
}

func postgresTwice(t *testing.T) (a, b *sqlstore.Store) {
	dsn := sqltest.PostgresDSN(t)
	for _, p := range []**sqlstore.Store{&a, &b} {
		s, err := sqlstore.OpenPostgres(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		*p = s
	}
	return a, b
}

func TestReplicasDeliverEachEventOnceInOrder(t *testing.T) {
	for name, open := range map[string]twoHandles{"sqlite": sqliteTwice, "postgres": postgresTwice} {
		t.Run(name, func(t *testing.T) { testReplicas(t, open) })
	}
}

// testReplicas runs two dispatchers on two handles of one database, as
// two dirsync serve replicas, while events arrive and the receiver fails
// now and then: every event arrives once, in order.
func testReplicas(t *testing.T, open twoHandles) {
	stA, stB := open(t)
	ctx := t.Context()
	key := make([]byte, 32)
	rand.Read(key)
	box, _ := secret.New(key)
	acc := directory.Account{Name: "a"}
	sec, _ := webhook.NewSecret()
	sealed, _ := box.Seal([]byte(sec))

	const total = 300
	var mu sync.Mutex
	var got []int64
	requests := 0
	all := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		requests++
		if requests%7 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var p webhook.Payload
		json.Unmarshal(body, &p)
		got = append(got, p.Seq)
		if len(got) == total {
			close(all)
		}
	}))
	defer recv.Close()
	hook := store.Webhook{URL: recv.URL, Secret: sealed, Enabled: true}
	if err := stA.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		hook.AccountID = acc.ID
		stx := tx
		return stx.CreateWebhook(ctx, &hook)
	}); err != nil {
		t.Fatal(err)
	}

	loopback, _ := safehttp.ParseAllowList([]string{"127.0.0.1"})
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var replicas []*webhook.Dispatcher
	for i, st := range []*sqlstore.Store{stA, stB} {
		d := &webhook.Dispatcher{Store: st, Box: box, AllowList: loopback, Holder: fmt.Sprint("replica-", i),
			FirstBackoff: 2 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}
		replicas = append(replicas, d)
		wg.Go(func() { d.Run(rctx, 20*time.Millisecond) })
	}
	for batch := range total / 10 {
		var es []directory.Event
		for range 10 {
			es = append(es, directory.Event{AccountID: acc.ID, Type: directory.EventUserUpdated, Time: time.Now(), Data: json.RawMessage(`{}`)})
		}
		st := []*sqlstore.Store{stA, stB}[batch%2]
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.AppendEvents(ctx, es) }); err != nil {
			t.Fatal(err)
		}
		for _, d := range replicas {
			d.Wake()
		}
	}
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
	}
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != total {
		t.Fatalf("received %d of %d events", len(got), total)
	}
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("delivery %d is event %d: out of order or twice (%v)", i, seq, got[max(0, i-3):min(len(got), i+3)])
		}
	}
}
