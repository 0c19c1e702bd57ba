package entra_test

import (
	"context"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/entraemu"
)

// Each run opens the connector afresh; the app signs in once for all of
// them while its token lasts, not before every run (two round trips, the
// tenant's OpenID configuration and the token, ahead of the run's first
// request). A wrong secret is another sign-in, and is refused.
func TestRunsShareTheSignIn(t *testing.T) {
	tenant, cfg, secret, _, open := startEmulator(t, entraemu.Options{Users: 3, Groups: 1, Seed: 1})
	ctx := context.Background()
	for range 3 {
		if _, err := open(cfg, secret).(connector.Incremental).Cursor(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := tenant.Stats().LoginByKind["token"]; n != 1 {
		t.Errorf("three runs asked for %d tokens, want 1", n)
	}
	if _, err := open(cfg, secret+"x").(connector.Incremental).Cursor(ctx); connector.KindOf(err) != connector.KindAuth {
		t.Errorf("a wrong secret: %v (kind %q), want an authentication error", err, connector.KindOf(err))
	}
}
