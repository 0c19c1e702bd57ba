package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/entraemu"
)

func TestFullSyncEqualsTenant(t *testing.T) {
	w := newWorld(t, entraemu.Options{Users: 400, Groups: 30, Seed: 5, DeltaGroupPageSize: 7, DeltaMemberPageSize: 25})
	d := w.newDirsync()
	run := d.sync(engine.Options{})
	if run.Counts.Conflicts != 0 {
		t.Fatalf("conflicts in a generated tenant: %+v", run.Counts)
	}
	if got, want := d.snapshot(), w.tenantTruth(); got != want {
		t.Fatalf("directory differs from the tenant:\n%s", diff(want, got))
	}
}

// mutate changes the tenant as an administrator would, n times at random.
func mutate(t *testing.T, tn *entraemu.Tenant, rng *rand.Rand, n int, serial *int) []string {
	t.Helper()
	var did []string
	for range n {
		users, groups := tn.Users(), tn.Groups()
		pickU := func() entraemu.User { return users[rng.IntN(len(users))] }
		pickG := func() entraemu.Group { return groups[rng.IntN(len(groups))] }
		*serial++
		var err error
		switch op := rng.IntN(12); op {
		case 0:
			u := pickU()
			_, err = tn.UpdateUser(u.ID, func(x *entraemu.User) {
				x.Department = fmt.Sprintf("Dept %d", rng.IntN(5))
				x.JobTitle = ""
			})
			did = append(did, "update "+u.ID)
		case 1:
			u := pickU()
			_, err = tn.UpdateUser(u.ID, func(x *entraemu.User) { x.AccountEnabled = !x.AccountEnabled })
			did = append(did, "toggle "+u.ID)
		case 2:
			_, err = tn.CreateUser(entraemu.User{UserPrincipalName: fmt.Sprintf("new.%d@%s", *serial, tn.Domain()),
				DisplayName: fmt.Sprintf("Ñew Üser %d", *serial), Mail: fmt.Sprintf("new.%d@%s", *serial, tn.Domain()), AccountEnabled: true})
			did = append(did, "create user")
		case 3:
			u := pickU()
			err = tn.DeleteUser(u.ID)
			did = append(did, "soft-delete "+u.ID)
		case 4:
			if del := tn.DeletedUsers(); len(del) > 0 {
				u := del[rng.IntN(len(del))]
				_, err = tn.RestoreUser(u.ID)
				did = append(did, "restore "+u.ID)
			}
		case 5:
			if del := tn.DeletedUsers(); len(del) > 0 {
				u := del[rng.IntN(len(del))]
				err = tn.PurgeUser(u.ID)
				did = append(did, "purge "+u.ID)
			}
		case 6:
			_, err = tn.CreateGroup(entraemu.Group{DisplayName: fmt.Sprintf("Team %d", *serial), SecurityEnabled: true,
				MailNickname: fmt.Sprintf("team%d", *serial)}, pickU().ID, pickU().ID, pickG().ID)
			did = append(did, "create group")
		case 7:
			g := pickG()
			_, err = tn.UpdateGroup(g.ID, func(x *entraemu.Group) { x.DisplayName += " (renamed)"; x.Description = "renamed" })
			did = append(did, "rename "+g.ID)
		case 8:
			if len(groups) > 5 {
				g := pickG()
				err = tn.DeleteGroup(g.ID)
				did = append(did, "delete group "+g.ID)
			}
		case 9, 10:
			g, m := pickG(), pickU().ID
			if op == 10 {
				m = pickG().ID // nesting, cycles included
			}
			err = tn.AddMember(g.ID, m)
			did = append(did, "add member "+g.ID+" "+m)
		case 11:
			g := pickG()
			if ms := tn.DirectMembers(g.ID); len(ms) > 0 {
				m := ms[rng.IntN(len(ms))]
				err = tn.RemoveMember(g.ID, m.ID)
				did = append(did, "remove member "+g.ID+" "+m.ID)
			}
		}
		if err != nil {
			// The emulator refuses what Entra refuses (a member twice, a
			// group in itself): that is an administrator's typo, not a failure.
			did = append(did, "refused: "+err.Error())
		}
	}
	return did
}

// TestDeltaEqualsFullAfterRandomChanges: after any sequence of tenant
// changes, a delta sync gives the same directory as a fresh full sync.
func TestDeltaEqualsFullAfterRandomChanges(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			w := newWorld(t, entraemu.Options{Users: 150, Groups: 15, Seed: int64(seed), DeltaUserPageSize: 20, DeltaGroupPageSize: 4, DeltaMemberPageSize: 10})
			a := w.newDirsync()
			a.sync(engine.Options{})
			rng := rand.New(rand.NewPCG(seed, 99))
			serial := 0
			for round := range 6 {
				did := mutate(t, w.tenant, rng, 12, &serial)
				run := a.sync(engine.Options{})
				if run.Kind != directory.RunDelta {
					t.Fatalf("round %d ran %s (%s), want delta", round, run.Kind, run.Reason)
				}
				b := w.newDirsync()
				b.sync(engine.Options{})
				if ga, gb := a.snapshot(), b.snapshot(); ga != gb {
					t.Fatalf("round %d after %v:\ndelta-synced (-) and fresh full (+) differ:\n%s", round, did, diff(ga, gb))
				}
				if ga, want := a.snapshot(), w.tenantTruth(); ga != want {
					t.Fatalf("round %d: directory (+) differs from the tenant (-):\n%s", round, diff(want, ga))
				}
			}
		})
	}
}

// TestExpiredDeltaTokenReconcilesInFull: an expired token leads to a full
// reconciliation that keeps every user's dirsync id, and says why.
func TestExpiredDeltaTokenReconcilesInFull(t *testing.T) {
	w := newWorld(t, entraemu.Options{Users: 80, Groups: 6, Seed: 4})
	d := w.newDirsync()
	d.sync(engine.Options{})
	ids := map[string]string{}
	users, _ := d.st.Users(d.ctx, d.src.AccountID, storeAll())
	for _, u := range users.Items {
		ids[linkOf(u.Sources)] = u.ID
	}
	u := w.tenant.Users()[3]
	if _, err := w.tenant.UpdateUser(u.ID, func(x *entraemu.User) { x.Department = "After expiry" }); err != nil {
		t.Fatal(err)
	}
	w.tenant.ExpireDeltaTokens()
	run := d.sync(engine.Options{})
	if run.Kind != directory.RunFull || run.Reason == "" {
		t.Fatalf("run %s with reason %q, want full with a reason", run.Kind, run.Reason)
	}
	if run.Counts.Created != 0 || run.Counts.Deleted != 0 || run.Counts.Updated != 1 {
		t.Fatalf("full resync counts %+v, want exactly one update", run.Counts)
	}
	users, _ = d.st.Users(d.ctx, d.src.AccountID, storeAll())
	for _, u := range users.Items {
		if ids[linkOf(u.Sources)] != u.ID {
			t.Fatalf("user %s changed its dirsync id across the resync", u.Username)
		}
	}
	if got, want := d.snapshot(), w.tenantTruth(); got != want {
		t.Fatalf("after resync:\n%s", diff(want, got))
	}
	if next := d.sync(engine.Options{}); next.Kind != directory.RunDelta {
		t.Fatalf("the run after a resync is %s, want delta", next.Kind)
	}
}

// TestDeltaTokenExpiringMidRound: the tokens expire between two pages of a
// delta round; the run turns into a full reconciliation and ends right.
func TestDeltaTokenExpiringMidRound(t *testing.T) {
	w := newWorld(t, entraemu.Options{Users: 120, Groups: 6, Seed: 13, DeltaUserPageSize: 5})
	d := w.newDirsync()
	d.sync(engine.Options{})
	for _, u := range w.tenant.Users()[:40] {
		w.tenant.UpdateUser(u.ID, func(x *entraemu.User) { x.JobTitle = "Mid-round" })
	}
	w.tenant.SetLatency(20 * time.Millisecond)
	base := w.tenant.Stats().ByKind["users.delta"]
	done := make(chan struct{})
	expired := make(chan bool, 1)
	go func() {
		for {
			select {
			case <-done:
				expired <- false
				return
			case <-time.After(time.Millisecond):
			}
			if w.tenant.Stats().ByKind["users.delta"] >= base+2 {
				w.tenant.ExpireDeltaTokens()
				expired <- true
				return
			}
		}
	}()
	run := d.sync(engine.Options{})
	close(done)
	if !<-expired {
		t.Fatal("the round ended before the tokens could expire: the test tested nothing")
	}
	if run.Kind != directory.RunFull || !strings.Contains(run.Reason, "went full") {
		t.Fatalf("run %s (%q), want a full reconciliation that says why", run.Kind, run.Reason)
	}
	w.tenant.SetLatency(0)
	if got, want := d.snapshot(), w.tenantTruth(); got != want {
		t.Fatalf("after a mid-round expiry:\n%s", diff(want, got))
	}
}
