package service

import (
	"github.com/dirsync/dirsync/internal/entraemu"
	"testing"
	"time"
)

// TestShareSettings: the account's share of the workers and the webhook
// claim come from the service's settings; the claim is the lease's TTL
// when unset (the share's default, half the workers, is share_test's).
func TestShareSettings(t *testing.T) {
	w := newWorld(t, func(_ *entraemu.Options, c *Config) {
		c.Workers, c.AccountWorkers, c.WebhookClaim = 4, 3, 90*time.Second
	})
	if w.svc.Runner.AccountShare != 3 || w.svc.Dispatcher.ClaimFor != 90*time.Second {
		t.Errorf("account share %d, webhook claim %s; want 3 and 1m30s", w.svc.Runner.AccountShare, w.svc.Dispatcher.ClaimFor)
	}
	d := newWorld(t, func(_ *entraemu.Options, c *Config) { c.Workers = 4 })
	if d.svc.Dispatcher.ClaimFor != d.parts.Engine.LeaseTTL {
		t.Errorf("default webhook claim %s, want the lease TTL %s", d.svc.Dispatcher.ClaimFor, d.parts.Engine.LeaseTTL)
	}
}
