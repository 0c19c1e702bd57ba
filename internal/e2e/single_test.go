package e2e

import (
	"errors"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/store"
)

func (d *dirsync) syncUser(who string) directory.Run {
	d.t.Helper()
	eng := &engine.Engine{Store: d.st}
	run, err := eng.SyncUser(d.ctx, d.src, d.connector(), who, engine.Options{Trigger: "test"})
	if err != nil {
		d.t.Fatalf("sync user %s: %v", who, err)
	}
	return run
}

// TestSingleUserSync: one user comes in at once with its groups, follows its
// memberships, and goes to the trash when the source deletes it.
func TestSingleUserSync(t *testing.T) {
	w := newWorld(t, entraemu.Options{Users: 50, Groups: 5, Seed: 12})
	d := w.newDirsync()
	d.sync(engine.Options{})
	g1, g2 := w.tenant.Groups()[0], w.tenant.Groups()[1]
	nu, err := w.tenant.CreateUser(entraemu.User{UserPrincipalName: "late.joiner@" + w.tenant.Domain(), DisplayName: "Late Joiner",
		Mail: "late.joiner@" + w.tenant.Domain(), AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	w.tenant.AddMember(g1.ID, nu.ID)
	w.tenant.AddMember(g2.ID, nu.ID)

	run := d.syncUser(nu.UserPrincipalName)
	if run.Kind != directory.RunSingle || run.Counts.Created != 1 || run.Counts.MembersAdded != 2 {
		t.Fatalf("first single-user run: %s %+v", run.Kind, run.Counts)
	}
	u, err := d.st.UserByLink(d.ctx, d.src.ID, nu.ID)
	if err != nil || u.DisplayName != "Late Joiner" {
		t.Fatalf("user after single sync: %+v %v", u, err)
	}

	w.tenant.RemoveMember(g2.ID, nu.ID)
	w.tenant.UpdateUser(nu.ID, func(x *entraemu.User) { x.AccountEnabled = false })
	run = d.syncUser(nu.ID)
	if run.Counts.Disabled != 1 || run.Counts.MembersRemoved != 1 || run.Counts.MembersAdded != 0 {
		t.Fatalf("second single-user run: %+v", run.Counts)
	}
	if got, want := d.snapshot(), w.tenantTruth(); got != want {
		t.Fatalf("after single-user syncs the directory differs from the tenant:\n%s", diff(want, got))
	}

	w.tenant.DeleteUser(nu.ID)
	run = d.syncUser(nu.UserPrincipalName)
	if run.Counts.Deleted != 1 {
		t.Fatalf("single-user run after deletion: %+v (%s)", run.Counts, run.Reason)
	}
	u, err = d.st.User(d.ctx, d.src.AccountID, u.ID)
	if err != nil || u.State != directory.StateTrash {
		t.Fatalf("deleted user is %s (%v)", u.State, err)
	}
	// A user nobody knows: refused, saying so, and nothing changes.
	before := d.snapshot()
	run, err = (&engine.Engine{Store: d.st}).SyncUser(d.ctx, d.src, d.connector(), "nobody@"+w.tenant.Domain(), engine.Options{Trigger: "test"})
	if !errors.Is(err, engine.ErrUnknownUser) || run.Outcome != directory.OutcomeFailed || run.Counts != (directory.Counts{}) {
		t.Fatalf("unknown user: %v, %s %+v %q", err, run.Outcome, run.Counts, run.Reason)
	}
	if d.snapshot() != before {
		t.Fatal("a refused single-user sync changed the directory")
	}
	if _, err := d.st.UserByUsername(d.ctx, d.src.AccountID, "nobody@"+w.tenant.Domain()); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("an unknown user was invented")
	}
}
