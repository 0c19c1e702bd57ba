package sqlstore

import (
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

func TestWebhookClaimsSQLite(t *testing.T)   { testWebhookClaims(t, newSQLite(t)) }
func TestWebhookClaimsPostgres(t *testing.T) { testWebhookClaims(t, newPostgres(t)) }

// Claims make one process at a time the deliverer of an endpoint; a claim
// runs out, and a process that lost its claim cannot move the cursor.
func testWebhookClaims(t *testing.T, s *Store) {
	ctx := t.Context()
	acc := directory.Account{Name: "a"}
	hook := store.Webhook{URL: "https://x.example/h", Secret: []byte{1}, Enabled: true}
	update := func(fn func(stx store.Tx) error) error {
		return s.Update(ctx, func(tx store.Tx) error { stx := tx; return fn(stx) })
	}
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		hook.AccountID = acc.ID
		stx := tx
		return stx.CreateWebhook(ctx, &hook)
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	claim := func(holder string, at time.Time) bool {
		t.Helper()
		var ok bool
		if err := update(func(stx store.Tx) (err error) {
			ok, err = stx.ClaimWebhook(ctx, hook.ID, holder, at, at.Add(time.Minute))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	save := func(holder string, cursor int64) bool {
		t.Helper()
		h := hook
		h.Cursor = cursor
		var ok bool
		if err := update(func(stx store.Tx) (err error) {
			ok, err = stx.SaveWebhookState(ctx, h, holder)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim("A", now) {
		t.Fatal("A could not claim a free webhook")
	}
	if claim("B", now.Add(30*time.Second)) {
		t.Fatal("B claimed a webhook A holds")
	}
	if !claim("A", now.Add(30*time.Second)) {
		t.Fatal("A could not renew its claim")
	}
	if !save("A", 5) || save("B", 6) {
		t.Fatal("only the holder may save the delivery state")
	}
	// A stops renewing (it died): its claim runs out and B takes over.
	if !claim("B", now.Add(91*time.Second)) {
		t.Fatal("B could not claim after A's claim ran out")
	}
	if save("A", 7) {
		t.Fatal("A moved the cursor after losing its claim")
	}
	if !save("B", 8) {
		t.Fatal("B could not save")
	}
	if err := update(func(stx store.Tx) error { return stx.ReleaseWebhook(ctx, hook.ID, "A") }); err != nil {
		t.Fatal(err)
	}
	if claim("A", now.Add(92*time.Second)) {
		t.Fatal("A's release of a claim it no longer held freed it")
	}
	if err := update(func(stx store.Tx) error { return stx.ReleaseWebhook(ctx, hook.ID, "B") }); err != nil {
		t.Fatal(err)
	}
	if !claim("A", now.Add(93*time.Second)) {
		t.Fatal("A could not claim a released webhook")
	}
	// A disabled webhook cannot be claimed, nor its claim renewed.
	hook.Enabled = false
	if err := update(func(stx store.Tx) error { return stx.UpdateWebhook(ctx, hook) }); err != nil {
		t.Fatal(err)
	}
	if claim("A", now.Add(94*time.Second)) {
		t.Fatal("a disabled webhook's claim was renewed")
	}
	svc := s
	if h, _ := svc.Webhook(ctx, acc.ID, hook.ID); h.Cursor != 8 {
		t.Fatalf("cursor %d, want 8", h.Cursor)
	}
	if err := update(func(stx store.Tx) error { return stx.DeleteWebhook(ctx, acc.ID, hook.ID) }); err != nil {
		t.Fatal(err)
	}
	if claim("A", now.Add(95*time.Second)) || save("A", 9) {
		t.Fatal("a deleted webhook was claimed or saved")
	}
}
