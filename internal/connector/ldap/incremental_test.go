package ldap

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/sambatest"
)

// TestIncrementalMatchesFullSnapshot changes the directory in every way an
// administrator does, reads the changes through DirSync, applies them onto
// the first snapshot as the engine would, and checks the result equals a
// fresh snapshot, call by call where the form of the call matters.
func TestIncrementalMatchesFullSnapshot(t *testing.T) {
	dc := testDC(t)
	f := newFixture(t, dc, "Inc")
	cfg := baseCfg(dc, f.root)
	cfg.ExcludeOUs = []string{f.contractors}
	cfg.UPNSuffixMap = map[string]string{"corp.local": "corp.example.com"}
	c := open(t, dc, cfg, Options{})

	cursor, err := c.Cursor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !c.ReportsDeletions(cursor) {
		t.Error("ReportsDeletions of a DirSync cursor = false")
	}
	before := snapshot(t, c)
	ids := before.byName()
	id := func(name string) string { return ids["inc-"+name+"@corp.example.com"].ExternalID }
	eng, _ := before.groupByName("inc-Engineering")
	nested, _ := before.groupByName("inc-Nested")
	dl, _ := before.groupByName("inc-All Staff")

	// Nothing changed since the cursor: nothing comes.
	quiet := before.clone()
	cursor, err = c.Changes(t.Context(), cursor, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if len(quiet.calls) != 0 {
		t.Fatalf("Changes with nothing changed sent %q", quiet.calls)
	}

	a := dc.Admin(t)
	gina := a.AddUser(f.staff, sambatest.User{SAMAccountName: "inc-gina", UPN: "inc-gina@corp.example.com", Mail: "gina@corp.example.com", GivenName: "Gina"})
	a.Replace(f.alice, "title", "Principal Engineer")
	a.Replace(f.alice, "givenName") // cleared
	a.SetEnabled(f.alice, false)
	a.Replace(f.alice, "mail", "alice.a@corp.example.com")
	a.Delete(f.dave)
	carol := a.Move(f.carol, "inc-carol", f.other)                     // move within scope
	a.Move(f.erin, "inc-erin", f.contractors)                          // move out of scope
	frank := a.Move(f.frank, "inc-frank", f.staff)                     // move into scope
	bob := a.Move(f.bob, "Robert O'Brien", "")                         // rename
	a.Replace(bob, "userPrincipalName", "inc-robert@corp.example.com") // and a new UPN
	a.RemoveMembers(f.eng, bob, f.pc)
	a.AddMembers(f.eng, gina)
	a.AddMembers(f.dl, carol, f.nested)
	a.Replace(f.eng, "description", "Builds and runs things")
	a.Move(f.dl, "inc-Everyone", "")                                                             // group rename
	a.AddGroup(f.staff, sambatest.Group{CN: "inc-Ops", Members: []string{gina, f.nested, f.pc}}) // new group

	after := before.clone()
	next, err := c.Changes(t.Context(), cursor, after)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Changes sent:\n  %s", strings.Join(after.calls, "\n  "))
	fresh := snapshot(t, c)

	// The incremental result is the full one.
	if !reflect.DeepEqual(normUsers(after.users), normUsers(fresh.users)) {
		for k, u := range fresh.users {
			if !reflect.DeepEqual(norm(after.users[k]), norm(u)) {
				t.Errorf("user %s:\n incremental %+v\n full        %+v", k, after.users[k], u)
			}
		}
		for k := range after.users {
			if _, ok := fresh.users[k]; !ok {
				t.Errorf("user %s (%s) is left by the incremental read but gone from the full one", k, after.users[k].Username)
			}
		}
	}
	if !reflect.DeepEqual(after.groups, fresh.groups) {
		t.Errorf("groups differ:\n incremental %+v\n full        %+v", after.groups, fresh.groups)
	}
	if !reflect.DeepEqual(after.members, fresh.members) {
		for m := range fresh.members {
			if !after.members[m] {
				t.Errorf("membership missing from the incremental read: %+v", m)
			}
		}
		for m := range after.members {
			if !fresh.members[m] {
				t.Errorf("membership the incremental read kept but the full one lacks: %+v", m)
			}
		}
	}

	// The form of the calls: a deletion is hard, a move out of scope is
	// not, an attribute change is a patch of exactly what changed, a moved
	// user keeps its anchor.
	if hard, ok := after.removed[id("dave")]; !ok || !hard {
		t.Errorf("dave was deleted: RemoveUser hard expected, got %v %v", ok, hard)
	}
	erin := "inc-erin@corp.example.com"
	if hard, ok := after.removed[id("erin")]; !ok || hard {
		t.Errorf("%s left the scope: RemoveUser soft expected, got %v %v", erin, ok, hard)
	}
	if got := after.patches[id("alice")]; !containsAll(got, "job_title", "given_name", "enabled", "email") || slices.Contains(got, "surname") {
		t.Errorf("alice's patch fields = %q", got)
	}
	if u := after.users[id("bob")]; u.Username != "inc-robert@corp.example.com" || !strings.EqualFold(u.DN, bob) {
		t.Errorf("renamed bob kept anchor %s but holds %+v", id("bob"), u)
	}
	if u := after.users[id("carol")]; !strings.EqualFold(u.DN, carol) {
		t.Errorf("moved carol: DN %q, want %q", u.DN, carol)
	}
	if u, ok := fresh.byName()["inc-frank@corp.example.com"]; !ok || !after.members[directory.SourceMembership{GroupExternalID: eng.ExternalID, MemberExternalID: u.ExternalID, MemberKind: directory.MemberUser}] || !strings.EqualFold(u.DN, frank) {
		t.Errorf("frank moved into scope must come with his existing Engineering membership")
	}
	if !slices.Contains(after.calls, "member- "+eng.ExternalID+" user "+id("bob")) {
		t.Errorf("bob's removal from Engineering was not sent as RemoveMembership")
	}
	if !slices.Contains(after.calls, "member+ "+dl.ExternalID+" group "+nested.ExternalID) {
		t.Errorf("the nested group added to All Staff was not sent")
	}
	if got := after.patches[eng.ExternalID]; !slices.Equal(got, []string{"description"}) {
		t.Errorf("Engineering's patch fields = %q, want [description]", got)
	}
	if g, ok := after.groups[dl.ExternalID]; !ok || g.Name != "inc-Everyone" {
		t.Errorf("renamed group: %+v", g)
	}

	// Read again from the new cursor: nothing more.
	again := after.clone()
	if _, err := c.Changes(t.Context(), next, again); err != nil {
		t.Fatal(err)
	}
	if len(again.calls) != 0 {
		t.Errorf("second Changes with nothing changed sent %q", again.calls)
	}

	// A cookie the DC cannot read is a cursor error, which makes the
	// engine reconcile in full; so is a widened scope.
	st, _ := decodeCursor(next)
	st.Users = []byte("not a DirSync cookie")
	if _, err := c.Changes(t.Context(), encodeCursor(st), newRecorder()); connector.KindOf(err) != connector.KindCursor {
		t.Errorf("Changes with a corrupt cookie = %v, want KindCursor", err)
	}
	st, _ = decodeCursor(next)
	st.DC = "00000000-0000-0000-0000-000000000000"
	if _, err := c.Changes(t.Context(), encodeCursor(st), newRecorder()); connector.KindOf(err) != connector.KindCursor || !strings.Contains(err.Error(), "another domain controller") {
		t.Errorf("Changes with another DC's cursor = %v, want KindCursor", err)
	}
	wider := cfg
	wider.ExcludeOUs = nil
	if _, err := open(t, dc, wider, Options{}).Changes(t.Context(), next, newRecorder()); connector.KindOf(err) != connector.KindCursor {
		t.Errorf("Changes after the scope changed = %v, want KindCursor", err)
	}
}

// TestIncrementalUserFilter checks the path where only the server can tell
// whether a changed user still matches a filter: a user whose department
// changes leaves the scope, and one whose department now matches enters it.
func TestIncrementalUserFilter(t *testing.T) {
	dc := testDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "IncFilter")
	in := a.AddUser(root, sambatest.User{SAMAccountName: "if-in", UPN: "if-in@corp.example.com", Department: "Sales"})
	out := a.AddUser(root, sambatest.User{SAMAccountName: "if-out", UPN: "if-out@corp.example.com", Department: "Ops"})
	a.AddGroup(root, sambatest.Group{CN: "if-Group", Members: []string{in, out}})
	cfg := baseCfg(dc, root)
	cfg.UserFilter = "(department=Sales)"
	c := open(t, dc, cfg, Options{})
	cursor, err := c.Cursor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, c)
	if len(before.users) != 1 {
		t.Fatalf("users = %d, want 1", len(before.users))
	}
	a.Replace(in, "department", "Ops")
	a.Replace(out, "department", "Sales")
	after := before.clone()
	if _, err := c.Changes(t.Context(), cursor, after); err != nil {
		t.Fatal(err)
	}
	fresh := snapshot(t, c)
	if !reflect.DeepEqual(normUsers(after.users), normUsers(fresh.users)) || !reflect.DeepEqual(after.members, fresh.members) {
		t.Errorf("with a user filter, incremental != full:\n calls %q\n incremental %+v %v\n full %+v %v",
			after.calls, after.users, after.members, fresh.users, fresh.members)
	}
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// norm makes a user comparable: list order is not significant, and a nil
// list is an empty one.
func norm(u directory.SourceUser) directory.SourceUser {
	u.ProxyAddresses = slices.Sorted(slices.Values(u.ProxyAddresses))
	u.BusinessPhones = slices.Sorted(slices.Values(u.BusinessPhones))
	if len(u.ProxyAddresses) == 0 {
		u.ProxyAddresses = nil
	}
	if len(u.BusinessPhones) == 0 {
		u.BusinessPhones = nil
	}
	u.DN = strings.ToLower(u.DN)
	return u
}

func normUsers(m map[string]directory.SourceUser) map[string]directory.SourceUser {
	out := map[string]directory.SourceUser{}
	for k, u := range m {
		out[k] = norm(u)
	}
	return out
}

// TestIncrementalScopeRoundTrips covers two paths that DirSync reports in a
// form of its own: a group that comes back into scope must bring the groups
// it joined while it was out (DirSync reported that membership then, when
// it could only be skipped), and a user moved out of scope and deleted
// between two reads arrives as a tombstone whose lastKnownParent is outside
// the scope, yet must still be reported removed.
func TestIncrementalScopeRoundTrips(t *testing.T) {
	dc := testDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "IncRound")
	in := a.AddOU(root, "In")
	out := a.AddOU(root, "Out")
	u := a.AddUser(in, sambatest.User{SAMAccountName: "ir-u", UPN: "ir-u@corp.example.com"})
	w := a.AddUser(in, sambatest.User{SAMAccountName: "ir-w", UPN: "ir-w@corp.example.com"})
	g := a.AddGroup(in, sambatest.Group{CN: "ir-G", Members: []string{u}})
	q := a.AddGroup(in, sambatest.Group{CN: "ir-Q", Members: []string{w}})
	cfg := baseCfg(dc, root)
	cfg.ExcludeOUs = []string{out}
	c := open(t, dc, cfg, Options{})
	cursor, err := c.Cursor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	state := snapshot(t, c)
	step := func(what string) {
		t.Helper()
		next := state.clone()
		if cursor, err = c.Changes(t.Context(), cursor, next); err != nil {
			t.Fatal(err)
		}
		fresh := snapshot(t, c)
		if !reflect.DeepEqual(normUsers(next.users), normUsers(fresh.users)) || !reflect.DeepEqual(next.members, fresh.members) ||
			len(next.groups) != len(fresh.groups) {
			t.Fatalf("%s: incremental != full:\n calls %q\n incremental %v %v\n full        %v %v", what, next.calls,
				next.users, next.members, fresh.users, fresh.members)
		}
		state = next
	}
	g = a.Move(g, "ir-G", out)
	step("group moved out of scope")
	a.AddMembers(q, g)
	step("the out-of-scope group joined an in-scope group")
	a.Move(g, "ir-G", in)
	step("group moved back into scope")
	a.Delete(a.Move(w, "ir-w", out))
	step("user moved out of scope and deleted between two reads")
}
