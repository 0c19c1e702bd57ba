package provision_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/provision"
	"github.com/dirsync/dirsync/internal/store"
)

// TestExportThenDeltaMatchesInitial: the first cycle creates the
// directory's users and groups in the tenant, mapped by the flow table;
// after renames, a disable, a deletion and membership changes, a delta
// cycle brings the tenant to the state a fresh initial cycle finds nothing
// to change in.
func TestExportThenDeltaMatchesInitial(t *testing.T) {
	w := newWorld(t, 5, provision.Settings{UsageLocation: "FR"})
	dom := w.tenant.Domain()
	ann := w.addUser("Ann Lee", "ann@"+dom, true)
	w.editUser(&ann, func(u *directory.User) { u.ProxyAddresses = []string{"SMTP:ann@" + dom} })
	bob := w.addUser("Bob Stone", "bob@corp.local", true) // a non-routable suffix
	cid := w.addUser("Cid Moss", "cid@"+dom, false)
	dan := w.addUser("Dan Roe", "dan@"+dom, true)
	sales := w.addGroup("Sales", ann, bob)
	w.addGroup("Ops", cid)

	res := w.cycle(provision.CycleOptions{})
	if res.Run.Outcome != provision.RunSucceeded || res.Summary.Failed != 0 {
		t.Fatalf("first cycle: %s %q, %+v", res.Run.Outcome, res.Run.Reason, res.Summary)
	}
	if res.Summary.Planned[provision.OpCreateUser] != 4 || res.Summary.Planned[provision.OpCreateGroup] != 2 || res.Summary.Planned[provision.OpAddMember] != 3 {
		t.Fatalf("first plan: %v", res.Summary.Planned)
	}
	for _, s := range res.Steps {
		if s.Op == provision.OpCreateUser && (s.Object == "ann@"+dom) != strings.Contains(s.Note, "proxyAddresses not written") {
			t.Errorf("%s's step says %q about proxyAddresses", s.Object, s.Note)
		}
	}
	a, ok := w.cloudUser(anchorOf("Ann Lee"))
	if !ok || a.UserPrincipalName != "ann@"+dom || a.DisplayName != "Ann Lee" || a.GivenName != "Ann" || a.Surname != "Lee" ||
		a.JobTitle != "Engineer" || a.Department != "R&D" || a.UsageLocation != "FR" || !a.AccountEnabled || a.MailNickname != "ann" {
		t.Fatalf("Ann in the tenant: %+v", a)
	}
	b, _ := w.cloudUser(anchorOf("Bob Stone"))
	if b.UserPrincipalName != "bob@"+w.tenant.InitialDomain() {
		t.Errorf("Bob's corp.local UPN became %q, want the .onmicrosoft.com domain", b.UserPrincipalName)
	}
	if c, _ := w.cloudUser(anchorOf("Cid Moss")); c.AccountEnabled {
		t.Errorf("Cid is disabled in AD and enabled in the tenant")
	}
	if _, members, ok := w.cloudGroup("Sales"); !ok || !slices.Equal(sorted(members), []string{"ann@" + dom, b.UserPrincipalName}) {
		t.Fatalf("Sales in the tenant: %v, %v", ok, members)
	}
	if g, _, _ := w.cloudGroup("Sales"); !g.SecurityEnabled || g.MailEnabled {
		t.Errorf("Sales is not a security group: %+v", g)
	}

	// A second cycle with nothing changed plans nothing.
	if res := w.cycle(provision.CycleOptions{}); len(res.Steps) != 0 || res.Summary.ReadFull {
		t.Fatalf("idle delta cycle planned %v (read full: %v)", res.Summary.Planned, res.Summary.ReadFull)
	}

	// Rename (UPN and name), disable, delete, membership changes.
	w.editUser(&ann, func(u *directory.User) {
		u.Username, u.DisplayName, u.Surname, u.DN = "ann.lee@"+dom, "Ann Lee-Smith", "Lee-Smith", "CN=Ann,OU=Moved,DC=corp"
	})
	w.editUser(&dan, func(u *directory.User) { u.Enabled, u.State = false, directory.StateDisabled })
	w.editUser(&bob, func(u *directory.User) { u.State = directory.StateTrash })
	w.member(sales, bob, false)
	w.member(sales, dan, true)
	w.update(func(tx store.Tx) error {
		sales.Name = "Sales EMEA"
		return tx.UpdateGroup(w.ctx, sales)
	})

	res = w.cycle(provision.CycleOptions{})
	if res.Run.Outcome != provision.RunSucceeded || res.Summary.ReadFull {
		t.Fatalf("delta cycle: %s %q (read full %v) %v", res.Run.Outcome, res.Run.Reason, res.Summary.ReadFull, res.Steps)
	}
	a2, _ := w.cloudUser(anchorOf("Ann Lee"))
	if a2.ID != a.ID || a2.UserPrincipalName != "ann.lee@"+dom || a2.DisplayName != "Ann Lee-Smith" {
		t.Errorf("renamed Ann: %+v (was %s)", a2, a.ID)
	}
	if d, _ := w.cloudUser(anchorOf("Dan Roe")); d.AccountEnabled {
		t.Errorf("Dan is disabled in AD, enabled in the tenant")
	}
	if _, ok := w.cloudUser(anchorOf("Bob Stone")); ok {
		t.Errorf("Bob left AD and is still an active user in the tenant")
	}
	if !slices.ContainsFunc(w.tenant.DeletedUsers(), func(u entraemu.User) bool { return u.ID == b.ID }) {
		t.Errorf("Bob's deletion was not a soft delete (not in deleted items)")
	}
	if _, members, ok := w.cloudGroup("Sales EMEA"); !ok || !slices.Equal(sorted(members), []string{"ann.lee@" + dom, "dan@" + dom}) {
		t.Fatalf("Sales EMEA in the tenant: %v, %v", ok, members)
	}

	// An initial cycle (the tenant read from scratch) finds nothing to change.
	res = w.cycle(provision.CycleOptions{Full: true})
	if !res.Summary.ReadFull || len(res.Steps) != 0 {
		t.Fatalf("initial cycle after the delta one planned %v", res.Steps)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestMembersAddedManyAtATime: members go 20 to a PATCH (members@odata.bind);
// when Graph refuses one PATCH because a member is already there (added in
// the cloud meanwhile), its members are sent one by one and each ends
// right.
func TestMembersAddedManyAtATime(t *testing.T) {
	w := newWorld(t, 1, provision.Settings{})
	dom := w.tenant.Domain()
	var us []directory.User
	for i := range 45 {
		us = append(us, w.addUser(fmt.Sprintf("User %02d", i), fmt.Sprintf("u%02d@%s", i, dom), true))
	}
	g := w.addGroup("Big", us[:40]...)
	res := w.cycle(provision.CycleOptions{})
	// 45 creates and a group in 3 batches, 40 members in 2 PATCHes (1 batch).
	if res.Summary.Done != 86 || res.Summary.Requests > 12 {
		t.Fatalf("first cycle: %+v", res.Summary)
	}
	w.member(g, us[40], true)
	w.member(g, us[41], true)
	w.editUser(&us[0], func(u *directory.User) { u.JobTitle = "Lead" })
	cg, _, _ := w.cloudGroup("Big")
	u40, _ := w.cloudUser(us[40].ImmutableID)
	added := false
	res = w.cycle(provision.CycleOptions{Progress: func(done, total int) {
		if !added { // after the user update, before the members
			added = true
			if err := w.tenant.AddMember(cg.ID, u40.ID); err != nil {
				t.Error(err)
			}
		}
	}})
	if res.Run.Outcome != provision.RunSucceeded || res.Summary.Failed != 0 {
		t.Fatalf("second cycle: %s %+v", res.Run.Outcome, res.Steps)
	}
	// Two delta reads, the domains, the user update, the refused PATCH
	// and the two members one by one in one batch.
	if res.Summary.Requests != 6 {
		t.Errorf("second cycle: %d requests, want 6: %+v", res.Summary.Requests, res.Summary)
	}
	if _, ms, _ := w.cloudGroup("Big"); len(ms) != 42 {
		t.Fatalf("Big has %d members in the tenant, want 42", len(ms))
	}
}

// TestGroupCreatedButNotLinkedIsAdopted: a cycle that stopped after Graph
// created a group and before its link was stored does not make the group
// twice: the next cycle adopts it.
func TestGroupCreatedButNotLinkedIsAdopted(t *testing.T) {
	w := newWorld(t, 1, provision.Settings{})
	ann := w.addUser("Ann Lee", "ann@"+w.tenant.Domain(), true)
	w.addGroup("Sales", ann)
	w.cycle(provision.CycleOptions{})
	links, _ := w.st.TargetLinks(w.ctx, w.target.ID)
	for _, l := range links {
		if l.Kind == "group" {
			w.update(func(tx store.Tx) error { return tx.DeleteTargetLink(w.ctx, w.target.ID, l.Kind, l.Anchor) })
		}
	}
	res := w.cycle(provision.CycleOptions{})
	if res.Summary.Planned[provision.OpCreateGroup] != 0 {
		t.Fatalf("the unlinked group was created again: %v", res.Summary.Planned)
	}
	n := 0
	for _, g := range w.tenant.Groups() {
		if g.DisplayName == "Sales" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d groups named Sales in the tenant", n)
	}
}
