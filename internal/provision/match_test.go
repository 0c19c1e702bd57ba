package provision_test

import (
	"encoding/json"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/provision"
	"github.com/dirsync/dirsync/internal/store"
)

// TestMatching: a cloud user with the same UPN and no anchor is
// soft-matched and anchored; one anchored to another object is a sync
// error and stays untouched; of two directory users with one UPN, one is
// exported and the other is a sync error, while the rest export. Fixing
// the duplicate in AD clears the error at the next cycle.
func TestMatching(t *testing.T) {
	w := newWorld(t, 3, provision.Settings{})
	dom := w.tenant.Domain()
	pre, err := w.tenant.CreateUser(entraemu.User{UserPrincipalName: "eve@" + dom, DisplayName: "Eve (cloud)", AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	other, err := w.tenant.CreateUser(entraemu.User{UserPrincipalName: "fay@" + dom, DisplayName: "Fay (elsewhere)", AccountEnabled: true,
		OnPremisesImmutableID: anchorOf("someone else")})
	if err != nil {
		t.Fatal(err)
	}
	w.addUser("Eve Hart", "eve@"+dom, true)
	w.addUser("Fay Wu", "fay@"+dom, true)
	// Gil's corp.local suffix is routed to the .onmicrosoft.com domain,
	// where Hal's UPN already is: one UPN for two AD users.
	initial := w.tenant.InitialDomain()
	gilU := w.addUser("Gil Dup", "gil@corp.local", true)
	hal := w.addUser("Hal Dup", "gil@"+initial, true)
	w.addUser("Ivy Fine", "ivy@"+dom, true)

	res := w.cycle(provision.CycleOptions{})
	if res.Run.Outcome != provision.RunPartial {
		t.Fatalf("outcome %s, want partial", res.Run.Outcome)
	}
	eve, ok := w.cloudUser(anchorOf("Eve Hart"))
	if !ok || eve.ID != pre.ID || eve.DisplayName != "Eve Hart" {
		t.Fatalf("Eve was not soft-matched to the cloud user %s: %+v", pre.ID, eve)
	}
	if f, _ := w.tenant.User(other.ID); f.DisplayName != "Fay (elsewhere)" || f.OnPremisesImmutableID != anchorOf("someone else") {
		t.Errorf("the cloud user anchored elsewhere was changed: %+v", f)
	}
	if _, ok := w.cloudUser(anchorOf("Ivy Fine")); !ok {
		t.Errorf("Ivy was not exported")
	}
	_, gil := w.cloudUser(anchorOf("Gil Dup"))
	_, hals := w.cloudUser(anchorOf("Hal Dup"))
	if gil == hals {
		t.Fatalf("of two users with one UPN, exported Gil %v and Hal %v: want exactly one", gil, hals)
	}
	// The errors are stored: Fay anchored elsewhere, and the duplicate.
	errs, err := w.st.TargetErrors(w.ctx, w.target.ID)
	if err != nil {
		t.Fatal(err)
	}
	byObject := map[string]store.TargetError{}
	for _, e := range errs {
		byObject[e.Anchor] = e
	}
	if e, ok := byObject[anchorOf("Fay Wu")]; !ok || e.Code != "AnchoredElsewhere" || e.Attribute != "userPrincipalName" || e.Value != "fay@"+dom {
		t.Errorf("Fay's error: %+v (all: %+v)", e, errs)
	}
	loser := anchorOf("Hal Dup")
	if hals {
		loser = anchorOf("Gil Dup")
	}
	if e, ok := byObject[loser]; !ok || e.Attribute != "userPrincipalName" || e.Value != "gil@"+initial {
		t.Errorf("the duplicate's error: %+v (all: %+v)", e, errs)
	}
	if len(errs) != 2 {
		t.Errorf("%d sync errors, want 2: %+v", len(errs), errs)
	}

	// The same errors again at the next cycle: retried, kept, first seen unchanged.
	w.cycle(provision.CycleOptions{})
	again, _ := w.st.TargetErrors(w.ctx, w.target.ID)
	if len(again) != 2 || !again[0].FirstSeen.Equal(errs[0].FirstSeen) {
		t.Errorf("errors after a second cycle: %+v", again)
	}

	// Fix the duplicate in AD (the one not exported gets a UPN and an
	// account name of its own): its error clears.
	fix, fixName := &hal, "Hal Dup"
	if hals {
		fix, fixName = &gilU, "Gil Dup"
	}
	w.editUser(fix, func(u *directory.User) { u.Username, u.Email, u.AccountName = "hal@"+dom, "hal@"+dom, "hal" })
	res = w.cycle(provision.CycleOptions{})
	left, _ := w.st.TargetErrors(w.ctx, w.target.ID)
	if len(left) != 1 || left[0].Anchor != anchorOf("Fay Wu") {
		raw, _ := json.Marshal(res.Steps)
		t.Fatalf("errors after the fix: %+v\n%s", left, raw)
	}
	if h, ok := w.cloudUser(anchorOf(fixName)); !ok || h.UserPrincipalName != "hal@"+dom {
		t.Errorf("%s after the fix: %+v", fixName, h)
	}
}
