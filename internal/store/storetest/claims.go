package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// testDomainClaims: a directory is held by one source across accounts; a
// source holds one claim, moves it by claiming another, and loses it when
// released or removed; of two transactions claiming one key at once,
// exactly one commits.
func testDomainClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkAccount(t, s, "a"), mkAccount(t, s, "b")
	sa, sb := mkSource(t, s, a.ID, "sa"), mkSource(t, s, b.ID, "sb")
	claim := func(src, acc, key string, names ...string) error {
		return s.Update(ctx, func(tx store.Tx) error {
			return tx.SetDomainClaim(ctx, store.DomainClaim{Key: key, AccountID: acc, SourceID: src, Names: names, ClaimedAt: tm(1, 0)})
		})
	}
	if err := claim(sa.ID, a.ID, "entra:t1", "t1", "contoso.com"); err != nil {
		t.Fatal(err)
	}
	if err := claim(sa.ID, a.ID, "entra:t1", "t1", "contoso.com", "new.contoso.com"); err != nil {
		t.Fatalf("claiming again: %v", err)
	}
	wantErr(t, claim(sb.ID, b.ID, "entra:t1", "t1"), store.ErrAlreadyExists, "another account's source claiming a held key")
	cs := must[[]store.DomainClaim](t)(s.DomainClaims(ctx))
	if len(cs) != 1 || cs[0].SourceID != sa.ID || cs[0].AccountID != a.ID || !slices.Equal(cs[0].Names, []string{"t1", "contoso.com", "new.contoso.com"}) || !cs[0].ClaimedAt.Equal(tm(1, 0)) {
		t.Fatalf("claims %+v", cs)
	}
	// A source that reads another directory moves its claim.
	if err := claim(sa.ID, a.ID, "entra:t2"); err != nil {
		t.Fatal(err)
	}
	if err := claim(sb.ID, b.ID, "entra:t1"); err != nil {
		t.Fatalf("t1 after sa moved: %v", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.ReleaseDomainClaim(ctx, sb.ID) })
	update(t, s, func(tx store.Tx) error { return tx.DeleteSource(ctx, a.ID, sa.ID) })
	if cs := must[[]store.DomainClaim](t)(s.DomainClaims(ctx)); len(cs) != 0 {
		t.Fatalf("claims after release and removal: %+v", cs)
	}
	// Racing claims: one wins, the other is ErrAlreadyExists.
	sc := mkSource(t, s, b.ID, "sc")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, src := range []string{sb.ID, sc.ID} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = claim(src, b.ID, "ad:s-1-5-21-1") }()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("racing claims: %v, %v; want exactly one to succeed", errs[0], errs[1])
	}
	for _, err := range errs {
		if err != nil {
			wantErr(t, err, store.ErrAlreadyExists, "the losing claim")
		}
	}
}

// testResealSecrets: a key rotation rewrites every sealed value, in one
// transaction: an error midway leaves every value as it was.
func testResealSecrets(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := directory.Source{AccountID: a.ID, Name: "s", Kind: directory.KindEntra, Enabled: true, Config: []byte(`{}`), Secret: []byte("sealed-1")}
	bare := directory.Source{AccountID: a.ID, Name: "bare", Kind: directory.KindEntra, Enabled: true, Config: []byte(`{}`)}
	hook := store.Webhook{AccountID: a.ID, URL: "https://h.example/x", Secret: []byte("sealed-2"), Enabled: true}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateSource(ctx, &src); err != nil {
			return err
		}
		if err := tx.CreateSource(ctx, &bare); err != nil {
			return err
		}
		return tx.CreateWebhook(ctx, &hook)
	})
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.ResealSecrets(ctx, func(b []byte) ([]byte, error) {
			if string(b) == "sealed-2" {
				return nil, boom
			}
			return append([]byte("new-"), b...), nil
		})
		return err
	})
	wantErr(t, err, boom, "a reseal that fails midway")
	if got := must[directory.Source](t)(s.Source(ctx, a.ID, src.ID)); string(got.Secret) != "sealed-1" {
		t.Fatalf("after a failed reseal the source's secret is %q", got.Secret)
	}
	var n int
	update(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.ResealSecrets(ctx, func(b []byte) ([]byte, error) { return append([]byte("new-"), b...), nil })
		return err
	})
	if n != 2 {
		t.Errorf("resealed %d values, want 2 (an empty secret stays empty)", n)
	}
	if got := must[directory.Source](t)(s.Source(ctx, a.ID, src.ID)); string(got.Secret) != "new-sealed-1" {
		t.Errorf("source secret %q", got.Secret)
	}
	if got := must[directory.Source](t)(s.Source(ctx, a.ID, bare.ID)); len(got.Secret) != 0 {
		t.Errorf("empty secret became %q", got.Secret)
	}
	if got := must[store.Webhook](t)(s.Webhook(ctx, a.ID, hook.ID)); string(got.Secret) != "new-sealed-2" {
		t.Errorf("webhook secret %q", got.Secret)
	}
}
