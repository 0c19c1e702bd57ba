package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// testService checks what the service keeps beside the directory: tokens,
// webhooks and their delivery log, schedules, health, the feed's last seq.
func testService(t *testing.T, s store.Store) {
	w := newServiceWorld(t, s)
	w.tokens(t)
	w.webhookState(t)
	w.deliveries(t)
	w.schedulesAndHealth(t)
	w.lastSeq(t)
	w.deletions(t)
}

// serviceWorld is two accounts, a source of the first with a schedule, an
// API token and a webhook, and the time the steps write.
type serviceWorld struct {
	s    store.Store
	a, b directory.Account
	src  directory.Source
	tok  store.APIToken
	hook store.Webhook
	now  time.Time
}

func newServiceWorld(t *testing.T, s store.Store) *serviceWorld {
	ctx := t.Context()
	a, b := directory.Account{Name: "a"}, directory.Account{Name: "b"}
	src := directory.Source{Name: "s", Kind: directory.KindEntra}
	tok := store.APIToken{Name: "ci", Role: "owner", Hash: "h1", Prefix: "dsk_abc"}
	hook := store.Webhook{URL: "https://x.example/h", EventTypes: []string{"user.created"}, Secret: []byte{1, 2, 3}, Enabled: true, Cursor: 7}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &a); err != nil {
			return err
		}
		if err := tx.CreateAccount(ctx, &b); err != nil {
			return err
		}
		src.AccountID, tok.AccountID, hook.AccountID = a.ID, a.ID, a.ID
		if err := tx.CreateSource(ctx, &src); err != nil {
			return err
		}
		if err := tx.CreateToken(ctx, &tok); err != nil {
			return err
		}
		if err := tx.CreateWebhook(ctx, &hook); err != nil {
			return err
		}
		return tx.SetSourceSchedule(ctx, store.SourceSchedule{SourceID: src.ID, AccountID: a.ID, Spec: []byte(`{"kind":"none"}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return &serviceWorld{s: s, a: a, b: b, src: src, tok: tok, hook: hook, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (w *serviceWorld) update(t *testing.T, fn func(stx store.Tx) error) error {
	return w.s.Update(t.Context(), fn)
}

// tokens: found by hash, unique, revoked once and only in their account.
func (w *serviceWorld) tokens(t *testing.T) {
	ctx, s, a, b, tok, now := t.Context(), w.s, w.a, w.b, w.tok, w.now
	update := func(fn func(stx store.Tx) error) error { return w.update(t, fn) }
	got, err := s.TokenByHash(ctx, "h1")
	if err != nil || got.ID != tok.ID || got.Role != "owner" || !got.RevokedAt.IsZero() {
		t.Fatalf("token %+v %v", got, err)
	}
	if _, err := s.TokenByHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing token: %v", err)
	}
	// A second token with the same hash is refused.
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateToken(ctx, &store.APIToken{AccountID: a.ID, Role: "owner", Hash: "h1"})
	})
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("duplicate hash: %v", err)
	}
	if err := update(func(tx store.Tx) error { return tx.RevokeToken(ctx, b.ID, tok.ID, now) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke from another account: %v", err)
	}
	if err := update(func(tx store.Tx) error { return tx.RevokeToken(ctx, a.ID, tok.ID, now) }); err != nil {
		t.Fatal(err)
	}
	if err := update(func(tx store.Tx) error { return tx.RevokeToken(ctx, a.ID, tok.ID, now.Add(time.Hour)) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TokenByHash(ctx, "h1"); !got.RevokedAt.Equal(now) {
		t.Fatalf("revoked at %v, want the first revocation %v", got.RevokedAt, now)
	}
}

// webhookState: the dispatcher's state and an administrator's update
// change different things.
func (w *serviceWorld) webhookState(t *testing.T) {
	ctx, s, a, b, hook, now := t.Context(), w.s, w.a, w.b, w.hook, w.now
	update := func(fn func(stx store.Tx) error) error { return w.update(t, fn) }
	h, err := s.Webhook(ctx, a.ID, hook.ID)
	if err != nil || h.URL != hook.URL || len(h.EventTypes) != 1 || string(h.Secret) != "\x01\x02\x03" || h.Cursor != 7 {
		t.Fatalf("webhook %+v %v", h, err)
	}
	if _, err := s.Webhook(ctx, b.ID, hook.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("webhook from another account: %v", err)
	}
	h.Attempts, h.FirstFailedAt, h.NextAttemptAt, h.Cursor = 2, now, now.Add(time.Minute), 9
	if err := update(func(tx store.Tx) error {
		if ok, err := tx.SaveWebhookState(ctx, h, ""); err != nil || !ok {
			return fmt.Errorf("save state: %v %w", ok, err)
		}
		return tx.AddDelivery(ctx, &store.Delivery{WebhookID: h.ID, AccountID: a.ID, EventID: "e", EventSeq: 8, EventType: "user.created",
			Attempt: 2, Outcome: store.DeliveryFailed, HTTPStatus: 500, Error: "boom", ErrorSummary: "answered 500", Time: now, DurationMS: 12})
	}); err != nil {
		t.Fatal(err)
	}
	h2, _ := s.Webhook(ctx, a.ID, hook.ID)
	if h2.Attempts != 2 || !h2.NextAttemptAt.Equal(now.Add(time.Minute)) || h2.Cursor != 9 {
		t.Fatalf("updated webhook %+v", h2)
	}
	// An administrator's update leaves the delivery state alone.
	h.URL, h.Cursor, h.Attempts = "https://y.example/h", 1, 0
	if err := update(func(tx store.Tx) error { return tx.UpdateWebhook(ctx, h) }); err != nil {
		t.Fatal(err)
	}
	if h3, _ := s.Webhook(ctx, a.ID, hook.ID); h3.URL != h.URL || h3.Cursor != 9 || h3.Attempts != 2 {
		t.Fatalf("after an administrator's update %+v", h3)
	}
}

// deliveries: the log, redacted for the API, paged newest first.
func (w *serviceWorld) deliveries(t *testing.T) {
	ctx, s, a, h, now := t.Context(), w.s, w.a, w.hook, w.now
	update := func(fn func(stx store.Tx) error) error { return w.update(t, fn) }
	ds, err := s.Deliveries(ctx, a.ID, h.ID, 10)
	if err != nil || len(ds) != 1 || ds[0].Error != "boom" || ds[0].ErrorSummary != "answered 500" || ds[0].HTTPStatus != 500 {
		t.Fatalf("deliveries %+v %v", ds, err)
	}
	if r := ds[0].Redacted(); r.Error != "answered 500" {
		t.Fatalf("redacted %+v", r)
	}
	// Paged newest first, ties on the time broken by id across pages.
	if err := update(func(tx store.Tx) error {
		for i, at := range []time.Time{now, now.Add(-time.Minute), now} {
			d := store.Delivery{WebhookID: h.ID, AccountID: a.ID, EventID: "e", EventSeq: int64(10 + i), EventType: "user.updated", Attempt: 1, Outcome: store.DeliveryFailed, Time: at}
			if err := tx.AddDelivery(ctx, &d); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for after := ""; ; {
		page, err := s.DeliveryPage(ctx, a.ID, h.ID, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Items {
			seqs = append(seqs, d.EventSeq)
		}
		if after = page.Next; after == "" {
			break
		}
	}
	if want := []int64{12, 10, 8, 11}; !slices.Equal(seqs, want) {
		t.Errorf("DeliveryPage by 2: event seqs %v, want %v", seqs, want)
	}
}

// schedulesAndHealth: every webhook, a source's schedule and health.
func (w *serviceWorld) schedulesAndHealth(t *testing.T) {
	ctx, s, a, src, now := t.Context(), w.s, w.a, w.src, w.now
	update := func(fn func(stx store.Tx) error) error { return w.update(t, fn) }
	all, _ := s.AllWebhooks(ctx)
	if len(all) != 1 {
		t.Fatalf("all webhooks %d", len(all))
	}
	ss, err := s.SourceSchedule(ctx, src.ID)
	if err != nil || string(ss.Spec) != `{"kind":"none"}` {
		t.Fatalf("schedule %+v %v", ss, err)
	}
	if _, err := s.SourceHealth(ctx, src.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("health before any: %v", err)
	}
	for _, h := range []store.SourceHealth{
		{SourceID: src.ID, AccountID: a.ID, AuthFailing: true, AuthMessage: "AADSTS7000222", Since: now, ExpiryNotifiedDays: 7},
		{SourceID: src.ID, AccountID: a.ID, AuthFailing: false, Since: now.Add(time.Hour), ExpiryNotifiedDays: 1},
	} {
		if err := update(func(tx store.Tx) error { return tx.SetSourceHealth(ctx, h) }); err != nil {
			t.Fatal(err)
		}
		got, err := s.SourceHealth(ctx, src.ID)
		if err != nil || got != h {
			t.Fatalf("health %+v %v, want %+v", got, err, h)
		}
	}
}

// lastSeq: the feed's last sequence number, per account.
func (w *serviceWorld) lastSeq(t *testing.T) {
	ctx, s, a, b, now := t.Context(), w.s, w.a, w.b, w.now
	if n, err := s.LastEventSeq(ctx, a.ID); err != nil || n != 0 {
		t.Fatalf("last seq of an empty feed: %d %v", n, err)
	}
	es := []directory.Event{{AccountID: a.ID, Type: "x", Time: now}, {AccountID: a.ID, Type: "y", Time: now}, {AccountID: b.ID, Type: "z", Time: now}}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.AppendEvents(ctx, es) }); err != nil {
		t.Fatal(err)
	}
	if n, err := s.LastEventSeq(ctx, a.ID); err != nil || n != es[1].Seq {
		t.Fatalf("last seq %d %v, want %d", n, err, es[1].Seq)
	}
}

// deletions: deleting the source drops its schedule; deleting the webhook
// its log.
func (w *serviceWorld) deletions(t *testing.T) {
	ctx, s, a, src, h := t.Context(), w.s, w.a, w.src, w.hook
	update := func(fn func(stx store.Tx) error) error { return w.update(t, fn) }
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.DeleteSource(ctx, a.ID, src.ID) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SourceSchedule(ctx, src.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("schedule after source deletion: %v", err)
	}
	if err := update(func(tx store.Tx) error { return tx.DeleteWebhook(ctx, a.ID, h.ID) }); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.Deliveries(ctx, a.ID, h.ID, 0); len(ds) != 0 {
		t.Fatalf("deliveries after deletion: %d", len(ds))
	}
}
