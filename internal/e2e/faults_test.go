package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/store"
)

func storeAll() store.UserQuery {
	return store.UserQuery{States: []directory.State{directory.StateActive, directory.StateDisabled, directory.StateTrash}}
}

// TestThrottlingAndTokenExpiryEndInCorrectDirectory: a 429 on every third
// request, and access tokens that expire mid-run, still give the tenant's
// directory, and the run counts the throttling.
func TestThrottlingAndTokenExpiryEndInCorrectDirectory(t *testing.T) {
	w := newWorld(t, entraemu.Options{Users: 300, Groups: 20, Seed: 8, DeltaGroupPageSize: 5, DeltaMemberPageSize: 30})
	d := w.newDirsync()
	w.tenant.InjectFault(entraemu.Fault{PathPrefix: "/v1.0/", Every: 3, Status: 429, RetryAfter: time.Millisecond})
	run := d.sync(engine.Options{})
	var slept time.Duration
	for _, w := range d.waits.Sleeps() {
		slept += w
	}
	if run.Throttled == 0 || slept < time.Duration(run.Throttled)*time.Second {
		t.Fatalf("run recorded %d throttles and waited %v: Retry-After not honoured", run.Throttled, slept)
	}
	if got, want := d.snapshot(), w.tenantTruth(); got != want {
		t.Fatalf("after a throttled run:\n%s", diff(want, got))
	}
	// Tokens expire in the middle of the next runs, at every staged batch.
	expired := 0
	d.batch = 40
	u := w.tenant.Users()[0]
	w.tenant.UpdateUser(u.ID, func(x *entraemu.User) { x.JobTitle = "Changed under throttling" })
	calls := 0
	expire := func(_ string, p directory.RunProgress) {
		// While the source is read (the apply makes no request). Not at
		// every batch: a token that expires again between its own refresh
		// and the retry is not something Entra does.
		if p.Phase != "read" {
			return
		}
		if calls++; calls%4 == 0 {
			w.tenant.ExpireAccessTokens()
			expired++
		}
	}
	run = d.sync(engine.Options{Live: expire})
	if run.Kind != directory.RunDelta || run.Counts.Updated != 1 {
		t.Fatalf("delta under throttling: %s %+v", run.Kind, run.Counts)
	}
	run = d.sync(engine.Options{Full: true, Live: expire})
	if run.Counts.Unchanged != 320 || expired < 3 {
		t.Fatalf("full run with tokens expiring %d times: %+v", expired, run.Counts)
	}
	if got, want := d.snapshot(), w.tenantTruth(); got != want {
		t.Fatalf("after runs with expiring tokens:\n%s", diff(want, got))
	}
}

// TestOutagesNeverDelete: an unreachable source, a revoked permission and a
// source that suddenly answers with an empty directory change nothing.
func TestOutagesNeverDelete(t *testing.T) {
	w := newWorld(t, entraemu.Options{Users: 60, Groups: 5, Seed: 9})
	d := w.newDirsync()
	d.sync(engine.Options{Full: true})
	before := d.snapshot()

	t.Run("503 past the retry budget", func(t *testing.T) {
		remove := w.tenant.InjectFault(entraemu.Fault{PathPrefix: "/v1.0/", Status: 503})
		defer remove()
		run, err := d.trySync(engine.Options{Full: true})
		if err == nil || run.Outcome != directory.OutcomeFailed {
			t.Fatalf("run %+v err %v", run.Outcome, err)
		}
		if d.snapshot() != before {
			t.Fatal("an outage changed the directory")
		}
	})
	t.Run("permission revoked", func(t *testing.T) {
		remove := w.tenant.InjectFault(entraemu.Fault{PathPrefix: "/v1.0/users", Status: 403, Code: "Authorization_RequestDenied",
			Message: "Insufficient privileges to complete the operation."})
		defer remove()
		_, err := d.trySync(engine.Options{Full: true})
		if connector.KindOf(err) != connector.KindPermission {
			t.Fatalf("err %v (kind %q), want a permission error", err, connector.KindOf(err))
		}
		if d.snapshot() != before {
			t.Fatal("a 403 changed the directory")
		}
	})
	t.Run("empty directory", func(t *testing.T) {
		for _, u := range w.tenant.Users() {
			if err := w.tenant.DeleteUser(u.ID); err != nil {
				t.Fatal(err)
			}
		}
		run, err := d.trySync(engine.Options{Full: true})
		if !errors.Is(err, engine.ErrStopped) || run.Outcome != directory.OutcomeStopped {
			t.Fatalf("run %s err %v, want stopped", run.Outcome, err)
		}
		if d.snapshot() != before {
			t.Fatal("an empty source changed the directory")
		}
	})
}
