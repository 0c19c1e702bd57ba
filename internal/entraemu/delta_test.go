package entraemu

import (
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

type round struct {
	entries   []map[string]any
	pages     int
	deltaLink string
	pageSizes []int
}

// walk follows a delta round from u to its deltaLink; between pages it
// calls between (if set) with the page number.
func walk(t testing.TB, cl *client, u string, between func(page int), headers ...string) round {
	t.Helper()
	var rd round
	next := u
	for {
		r := cl.mustGet(next, headers...)
		vals := r.values()
		rd.entries = append(rd.entries, vals...)
		rd.pages++
		rd.pageSizes = append(rd.pageSizes, len(vals))
		if dl := r.str("@odata.deltaLink"); dl != "" {
			if r.str("@odata.nextLink") != "" {
				t.Fatal("a page with both nextLink and deltaLink")
			}
			rd.deltaLink = dl
			return rd
		}
		next = r.str("@odata.nextLink")
		if next == "" {
			t.Fatalf("page without nextLink or deltaLink: %s", r.raw)
		}
		if between != nil {
			between(rd.pages)
		}
		if rd.pages > 5000 {
			t.Fatal("delta round does not end")
		}
	}
}

func byID(entries []map[string]any) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, e := range entries {
		id := e["id"].(string)
		out[id] = append(out[id], e)
	}
	return out
}

func TestDeltaUsersInitialRound(t *testing.T) {
	tn, s := start(t, Options{Users: 450, Groups: 2, Seed: 20})
	cl := newClient(t, s)
	rd := walk(t, cl, "/v1.0/users/delta?$select=displayName,mail,accountEnabled&$top=5", nil)
	if !slices.Equal(rd.pageSizes, []int{200, 200, 50}) {
		t.Errorf("page sizes %v: $top is ignored and pages hold 200 users", rd.pageSizes)
	}
	if got := ids(rd.entries); !slices.Equal(got, userIDs(tn)) {
		t.Errorf("the initial round returned %d users, want %d", len(got), len(userIDs(tn)))
	}
	u, _ := url.Parse(rd.deltaLink)
	if u.Path != "/v1.0/users/delta" || u.Query().Get("$deltatoken") == "" || len(u.Query()) != 1 {
		t.Errorf("deltaLink = %s", rd.deltaLink)
	}
	truth := map[string]User{}
	for _, u := range tn.Users() {
		truth[u.ID] = u
	}
	sawNoMail := false
	for _, e := range rd.entries {
		u := truth[e["id"].(string)]
		for k := range e {
			if k != "id" && k != "displayName" && k != "mail" && k != "accountEnabled" {
				t.Fatalf("unselected property %s in %v", k, e)
			}
		}
		if u.Mail == "" {
			sawNoMail = true
			// Never set: omitted, not null.
			if _, ok := e["mail"]; ok {
				t.Errorf("user without mail has a mail member: %v", e)
			}
		} else if e["mail"] != u.Mail {
			t.Errorf("mail = %v, want %s", e["mail"], u.Mail)
		}
		if e["accountEnabled"] != u.AccountEnabled {
			t.Errorf("accountEnabled of %s", u.ID)
		}
	}
	if !sawNoMail {
		t.Error("no user without mail in the tenant")
	}
	// The nextLink carries only the token: $select is inside it.
	r := cl.mustGet("/v1.0/users/delta?$select=displayName")
	if nl, _ := url.Parse(r.str("@odata.nextLink")); len(nl.Query()) != 1 || nl.Query().Get("$skiptoken") == "" {
		t.Errorf("nextLink = %s", r.str("@odata.nextLink"))
	}
	if !strings.HasSuffix(r.str("@odata.context"), "#users(displayName)") {
		t.Errorf("context = %s", r.str("@odata.context"))
	}
	// Without $select: the documented default properties.
	r = cl.mustGet("/v1.0/users/delta")
	for _, e := range r.values() {
		for k := range e {
			if !slices.Contains(documentedUserDefaults, k) {
				t.Fatalf("default delta property %s", k)
			}
		}
	}
}

func TestDeltaUsersIncremental(t *testing.T) {
	tn, s := start(t, Options{Users: 60, Groups: 5, Seed: 21})
	cl := newClient(t, s)
	sel := "/v1.0/users/delta?$select=displayName,mail,accountEnabled,jobTitle,department"
	rd := walk(t, cl, sel, nil)
	users := tn.Users()
	var withMail []User
	for _, u := range users {
		if u.Mail != "" && u.AccountEnabled {
			withMail = append(withMail, u)
		}
	}
	renamed, unselected, disabled, deleted, purged, restored, mailCleared := withMail[0], withMail[1], withMail[2], withMail[3], withMail[4], withMail[5], withMail[6]

	tn.UpdateUser(renamed.ID, func(u *User) { u.DisplayName = "Renamed Person"; u.JobTitle = "Counsel" })
	tn.UpdateUser(unselected.ID, func(u *User) { u.OfficeLocation = "Elsewhere 9" })
	tn.UpdateUser(disabled.ID, func(u *User) { u.AccountEnabled = false })
	tn.UpdateUser(mailCleared.ID, func(u *User) { u.Mail = "" })
	tn.DeleteUser(deleted.ID)
	tn.DeleteUser(purged.ID)
	tn.PurgeUser(purged.ID)
	tn.DeleteUser(restored.ID)
	tn.RestoreUser(restored.ID)
	created, err := tn.CreateUser(User{UserPrincipalName: "new.person@" + tn.Domain(), DisplayName: "New Person", AccountEnabled: true, Mail: "new.person@" + tn.Domain()})
	if err != nil {
		t.Fatal(err)
	}

	// Default behaviour: every selected property of a changed user.
	next := walk(t, cl, rd.deltaLink, nil)
	got := byID(next.entries)
	wantIDs := []string{renamed.ID, disabled.ID, mailCleared.ID, deleted.ID, purged.ID, restored.ID, created.ID}
	sort.Strings(wantIDs)
	if gotIDs := slices.Sorted(mapsKeys(got)); !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("changed users = %v, want %v (a change to an unselected property is not reported)", gotIDs, wantIDs)
	}
	if len(got[renamed.ID]) == 0 || len(got[disabled.ID]) == 0 || len(got[mailCleared.ID]) == 0 {
		t.FailNow()
	}
	if e := got[renamed.ID][0]; e["displayName"] != "Renamed Person" || e["mail"] != renamed.Mail || e["accountEnabled"] != true {
		t.Errorf("renamed = %v", e)
	}
	if e := got[disabled.ID][0]; e["accountEnabled"] != false || e["displayName"] != disabled.DisplayName {
		t.Errorf("disabled = %v", e)
	}
	if e := got[mailCleared.ID][0]; e["mail"] != nil {
		t.Errorf("cleared mail = %v", e)
	} else if _, ok := e["mail"]; !ok {
		t.Errorf("a property set to null is included as null: %v", e)
	}
	if e := got[deleted.ID][0]; len(e) != 2 || e["@removed"].(map[string]any)["reason"] != "changed" {
		t.Errorf("soft-deleted = %v", e)
	}
	if e := got[purged.ID][0]; e["@removed"].(map[string]any)["reason"] != "deleted" {
		t.Errorf("purged = %v", e)
	}
	if e := got[restored.ID][0]; e["@removed"] != nil || e["displayName"] != restored.DisplayName {
		t.Errorf("restored = %v", e)
	}
	if e := got[created.ID][0]; e["displayName"] != "New Person" {
		t.Errorf("created = %v", e)
	}

	// Prefer: return=minimal: only what changed.
	tn.UpdateUser(renamed.ID, func(u *User) { u.DisplayName = "Renamed Again"; u.JobTitle = "" })
	r := cl.mustGet(next.deltaLink, "Prefer", "return=minimal")
	if r.header.Get("Preference-Applied") != "return=minimal" {
		t.Errorf("Preference-Applied = %q", r.header.Get("Preference-Applied"))
	}
	vals := r.values()
	if len(vals) != 1 || len(vals[0]) != 3 || vals[0]["displayName"] != "Renamed Again" || vals[0]["jobTitle"] != nil {
		t.Errorf("minimal = %v", vals)
	}
	// The same deltaLink again without the header: the same changes,
	// with every selected property (replays are allowed).
	again := walk(t, cl, next.deltaLink, nil)
	if len(again.entries) != 1 || again.entries[0]["mail"] != renamed.Mail {
		t.Errorf("replayed round = %v", again.entries)
	}
	// Nothing changed: an empty page and a deltaLink.
	quiet := walk(t, cl, again.deltaLink, nil)
	if len(quiet.entries) != 0 || quiet.pages != 1 {
		t.Errorf("quiet round = %v", quiet.entries)
	}

	// Without $select every property is tracked: a department change
	// brings the user back, with the default properties.
	all := walk(t, cl, "/v1.0/users/delta", nil)
	tn.UpdateUser(unselected.ID, func(u *User) { u.Department = "Somewhere Else" })
	got2 := walk(t, cl, all.deltaLink, nil).entries
	if len(got2) != 1 || got2[0]["id"] != unselected.ID || got2[0]["department"] != nil || got2[0]["displayName"] == nil {
		t.Errorf("unselected round = %v", got2)
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestDeltaLatestAndFilter(t *testing.T) {
	tn, s := start(t, Options{Users: 50, Seed: 22})
	cl := newClient(t, s)
	r := cl.mustGet("/v1.0/users/delta?$deltatoken=latest&$select=displayName")
	if len(r.values()) != 0 || r.str("@odata.deltaLink") == "" || r.str("@odata.nextLink") != "" {
		t.Fatalf("latest = %s", r.raw)
	}
	u := tn.Users()[7]
	tn.UpdateUser(u.ID, func(x *User) { x.DisplayName = "From Now On" })
	rd := walk(t, cl, r.str("@odata.deltaLink"), nil)
	if len(rd.entries) != 1 || rd.entries[0]["displayName"] != "From Now On" || len(rd.entries[0]) != 2 {
		t.Errorf("round after latest = %v", rd.entries)
	}

	a, b := tn.Users()[1], tn.Users()[2]
	rd = walk(t, cl, "/v1.0/users/delta?$filter="+url.QueryEscape("id eq '"+a.ID+"' or id eq '"+b.ID+"'"), nil)
	if got := ids(rd.entries); !slices.Equal(got, []string{a.ID, b.ID}) {
		t.Errorf("filtered round = %v", got)
	}
	tn.UpdateUser(a.ID, func(x *User) { x.Surname = "Changed" })
	tn.UpdateUser(tn.Users()[3].ID, func(x *User) { x.Surname = "Changed" })
	if got := ids(walk(t, cl, rd.deltaLink, nil).entries); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("filtered incremental = %v", got)
	}
	for _, q := range []string{"$filter=" + url.QueryEscape("displayName eq 'x'"), "$orderby=displayName", "$expand=manager", "$select=nosuch"} {
		if r := cl.get("/v1.0/users/delta?" + q); r.status != 400 {
			t.Errorf("%s: %d %s", q, r.status, r.raw)
		}
	}
	if r := cl.get("/v1.0/users/delta?$deltatoken=bm90IGEgdG9rZW4gYXQgYWxs"); r.status != 400 {
		t.Errorf("garbage token: %d", r.status)
	}
	// A users token on groups.
	tok := strings.SplitN(r.str("@odata.deltaLink"), "$deltatoken=", 2)[1]
	if r := cl.get("/v1.0/groups/delta?$deltatoken=" + tok); r.status != 400 {
		t.Errorf("users token on groups: %d", r.status)
	}
}

func TestDeltaExpiry(t *testing.T) {
	clock := newFakeClock()
	tn, s := start(t, Options{Users: 30, Groups: 5, Seed: 23, Clock: clock, TokenLifetime: 365 * 24 * time.Hour})
	cl := newClient(t, s)
	rd := walk(t, cl, "/v1.0/users/delta?$select=displayName", nil)

	tn.ExpireDeltaTokens()
	r := cl.get(rd.deltaLink)
	if r.status != 410 || r.errorCode() != "resyncRequired" {
		t.Fatalf("after ExpireDeltaTokens: %d %s", r.status, r.raw)
	}
	loc := r.header.Get("Location")
	lu, _ := url.Parse(loc)
	if !lu.Query().Has("$deltatoken") || lu.Query().Get("$deltatoken") != "" || lu.Query().Get("$select") != "displayName" {
		t.Errorf("Location = %q", loc)
	}
	// Following Location starts a full round with the same $select.
	full := walk(t, cl, loc, nil)
	if len(full.entries) != 30 || len(full.entries[0]) != 2 {
		t.Errorf("restart from Location: %d entries %v", len(full.entries), full.entries[0])
	}
	// Directory delta tokens last 7 days.
	clock.Advance(8 * 24 * time.Hour)
	r = cl.get(full.deltaLink)
	if r.status != 410 || r.errorCode() != "syncStateNotFound" || r.header.Get("Location") == "" {
		t.Errorf("8-day-old token: %d %s", r.status, r.raw)
	}
	// A skip token of an unfinished initial round expires too.
	first := cl.mustGet("/v1.0/users/delta?$select=displayName")
	_ = first
	tn2, s2 := start(t, Options{Users: 450, Seed: 24, Clock: clock, TokenLifetime: 365 * 24 * time.Hour})
	_ = tn2
	cl2 := newClient(t, s2)
	page := cl2.mustGet("/v1.0/users/delta")
	clock.Advance(8 * 24 * time.Hour)
	if r := cl2.get(page.str("@odata.nextLink")); r.status != 410 {
		t.Errorf("old skip token: %d", r.status)
	}
	// Another emulator's token (a restarted emulator): its state is gone.
	if r := cl2.get(s2.URL() + "/v1.0/users/delta?$deltatoken=" + strings.SplitN(full.deltaLink, "$deltatoken=", 2)[1]); r.status != 410 || r.errorCode() != "syncStateNotFound" {
		t.Errorf("token of another instance: %d %s", r.status, r.raw)
	}
}

func memberIDs(e map[string]any) (added, removed []string) {
	ms, _ := e["members@delta"].([]any)
	for _, m := range ms {
		mm := m.(map[string]any)
		if mm["@odata.type"] == nil {
			panic(fmt.Sprint("member without @odata.type: ", mm))
		}
		if rem, ok := mm["@removed"].(map[string]any); ok {
			if rem["reason"] != "deleted" {
				panic(fmt.Sprint("member removal reason ", rem))
			}
			removed = append(removed, mm["id"].(string))
		} else {
			added = append(added, mm["id"].(string))
		}
	}
	return
}

func TestDeltaGroupsSplitLargeGroup(t *testing.T) {
	tn, s := start(t, Options{Users: 400, Groups: 25, Seed: 25, DeltaMemberPageSize: 100, DeltaGroupPageSize: 10})
	cl := newClient(t, s)
	all := groupByName(t, tn, "All Employees")
	if n := len(tn.DirectMembers(all.ID)); n < 300 {
		t.Fatalf("All Employees has %d members", n)
	}
	rd := walk(t, cl, "/v1.0/groups/delta?$select=displayName,description,members", nil)
	pagesWithAll := 0
	merged := map[string]map[string]bool{}
	for p, e := range splitPages(rd) {
		for _, g := range e {
			id := g["id"].(string)
			if id == all.ID {
				pagesWithAll++
				if g["displayName"] != "All Employees" {
					t.Errorf("a slice of the group without its properties: %v", keys(g))
				}
			}
			if merged[id] == nil {
				merged[id] = map[string]bool{}
			}
			added, removed := memberIDs(g)
			if len(removed) > 0 {
				t.Errorf("page %d: removals in an initial round", p)
			}
			for _, m := range added {
				merged[id][m] = true
			}
		}
	}
	if pagesWithAll < 3 {
		t.Errorf("the large group came in %d entries, want it split across pages", pagesWithAll)
	}
	for _, g := range tn.Groups() {
		var want []string
		for _, m := range tn.DirectMembers(g.ID) {
			want = append(want, m.ID)
		}
		got := slices.Sorted(mapsKeys(merged[g.ID]))
		if len(want) == 0 {
			want = nil
			got = nil
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: merged %d members, want %d", g.DisplayName, len(got), len(want))
		}
	}
	// The empty group has no members@delta.
	empty := groupByName(t, tn, "Empty Group")
	for _, e := range rd.entries {
		if e["id"] == empty.ID {
			if _, ok := e["members@delta"]; ok {
				t.Errorf("empty group has members@delta: %v", e)
			}
		}
	}

	// Incremental: membership changes, a large addition split again, and
	// deletions of each kind.
	users := tn.Users()
	proj := groupByName(t, tn, "O'Neill Project")
	oldMember := tn.DirectMembers(proj.ID)[0].ID
	tn.RemoveMember(proj.ID, oldMember)
	var outsider string
	for _, u := range users {
		if !slices.Contains(tn.MemberOf(u.ID), proj.ID) {
			outsider = u.ID
			break
		}
	}
	tn.AddMember(proj.ID, outsider)
	nested := groupByName(t, tn, "Empty Group")
	tn.AddMember(proj.ID, nested.ID)
	var bulk []string
	for _, u := range users[:250] {
		bulk = append(bulk, u.ID)
	}
	big, _ := tn.CreateGroup(Group{DisplayName: "Bulk", MailNickname: "bulk", SecurityEnabled: true}, bulk...)
	tn.UpdateGroup(groupByName(t, tn, "Cycle A").ID, func(g *Group) { g.Description = "renamed" })
	m365 := groupByName(t, tn, "Équipe Montréal")
	tn.DeleteGroup(m365.ID)
	sec := groupByName(t, tn, "Cycle B")
	tn.DeleteGroup(sec.ID)
	// A soft-deleted user leaves its groups: the removal shows in them.
	victim := tn.DirectMembers(groupByName(t, tn, "Engineering Leads").ID)[0].ID
	victimGroups := tn.MemberOf(victim)
	tn.DeleteUser(victim)

	next := walk(t, cl, rd.deltaLink, nil)
	got := byID(next.entries)
	if e := got[proj.ID]; len(e) != 1 {
		t.Fatalf("project entries = %v", e)
	} else {
		added, removed := memberIDs(e[0])
		if !slices.Contains(removed, oldMember) || !slices.Contains(added, outsider) || !slices.Contains(added, nested.ID) {
			t.Errorf("project members@delta: added %v removed %v", added, removed)
		}
		for _, m := range e[0]["members@delta"].([]any) {
			if m.(map[string]any)["id"] == nested.ID && m.(map[string]any)["@odata.type"] != "#microsoft.graph.group" {
				t.Errorf("nested group member type = %v", m)
			}
		}
	}
	if len(got[big.ID]) < 3 {
		t.Errorf("a 250-member addition came in %d entries with a budget of 100", len(got[big.ID]))
	}
	// Every member added in the round appears once: as added, or as
	// removed for the one deleted since.
	var bigAdded, bigSeen []string
	for _, e := range got[big.ID] {
		a, r := memberIDs(e)
		bigAdded = append(bigAdded, a...)
		bigSeen = append(bigSeen, a...)
		bigSeen = append(bigSeen, r...)
	}
	slices.Sort(bigAdded)
	slices.Sort(bigSeen)
	slices.Sort(bulk)
	var now []string
	for _, mm := range tn.DirectMembers(big.ID) {
		now = append(now, mm.ID)
	}
	if !slices.Equal(bigSeen, bulk) || !slices.Equal(bigAdded, now) {
		t.Errorf("bulk group members merged: %d seen, %d added, %d now", len(bigSeen), len(bigAdded), len(now))
	}
	if e := got[groupByNameAny(tn, "Cycle A")]; len(e) != 1 || e[0]["description"] != "renamed" {
		t.Errorf("renamed group = %v", e)
	}
	if e := got[m365.ID]; len(e) != 1 || e[0]["@removed"].(map[string]any)["reason"] != "changed" {
		t.Errorf("deleted Microsoft 365 group = %v", e)
	}
	if e := got[sec.ID]; len(e) != 1 || e[0]["@removed"].(map[string]any)["reason"] != "deleted" {
		t.Errorf("deleted security group = %v", e)
	}
	for _, gid := range victimGroups {
		if gid == m365.ID || gid == sec.ID {
			continue
		}
		found := false
		for _, e := range got[gid] {
			_, removed := memberIDs(e)
			found = found || slices.Contains(removed, victim)
		}
		if !found {
			t.Errorf("group %s does not report its deleted member", gid)
		}
	}
	// Groups delta without $select tracks members too (documented default).
	r := cl.mustGet("/v1.0/groups/delta")
	sawMembers := false
	for _, e := range r.values() {
		if _, ok := e["members@delta"]; ok {
			sawMembers = true
		}
	}
	if !sawMembers {
		t.Error("groups delta without $select has no members@delta")
	}
}

func groupByNameAny(tn *Tenant, name string) string {
	for _, g := range tn.Groups() {
		if g.DisplayName == name {
			return g.ID
		}
	}
	return ""
}

// splitPages regroups a round's entries by page.
func splitPages(rd round) [][]map[string]any {
	var out [][]map[string]any
	i := 0
	for _, n := range rd.pageSizes {
		out = append(out, rd.entries[i:i+n])
		i += n
	}
	return out
}

// mirror is a delta consumer that merges as Microsoft documents: entries
// patch the stored object, @removed deletes it, members@delta adds and
// removes members. It is what dirsync's connector must do, reduced.
type mirror struct {
	users  map[string]map[string]any
	groups map[string]map[string]any
	member map[string]map[string]bool
}

func newMirror() *mirror {
	return &mirror{users: map[string]map[string]any{}, groups: map[string]map[string]any{}, member: map[string]map[string]bool{}}
}

func (m *mirror) applyUsers(entries []map[string]any) {
	for _, e := range entries {
		id := e["id"].(string)
		if e["@removed"] != nil {
			delete(m.users, id)
			continue
		}
		u := m.users[id]
		if u == nil {
			u = map[string]any{}
			m.users[id] = u
		}
		for k, v := range e {
			u[k] = v
		}
	}
}

func (m *mirror) applyGroups(entries []map[string]any) {
	for _, e := range entries {
		id := e["id"].(string)
		if e["@removed"] != nil {
			delete(m.groups, id)
			delete(m.member, id)
			continue
		}
		g := m.groups[id]
		if g == nil {
			g = map[string]any{}
			m.groups[id] = g
			m.member[id] = map[string]bool{}
		}
		for k, v := range e {
			if k != "members@delta" {
				g[k] = v
			}
		}
		added, removed := memberIDs(e)
		for _, a := range added {
			m.member[id][a] = true
		}
		for _, r := range removed {
			delete(m.member[id], r)
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// diff compares the mirror with the tenant's truth.
func (m *mirror) diff(tn *Tenant) []string {
	var out []string
	users := tn.Users()
	if len(users) != len(m.users) {
		out = append(out, fmt.Sprintf("%d users, want %d", len(m.users), len(users)))
	}
	for _, u := range users {
		got := m.users[u.ID]
		if got == nil {
			out = append(out, "missing user "+u.ID)
			continue
		}
		if str(got["displayName"]) != u.DisplayName || str(got["mail"]) != u.Mail || str(got["jobTitle"]) != u.JobTitle || got["accountEnabled"] != u.AccountEnabled || str(got["userPrincipalName"]) != u.UserPrincipalName {
			out = append(out, fmt.Sprintf("user %s = %v, want %+v", u.ID, got, u))
		}
	}
	groups := tn.Groups()
	if len(groups) != len(m.groups) {
		out = append(out, fmt.Sprintf("%d groups, want %d", len(m.groups), len(groups)))
	}
	for _, g := range groups {
		got := m.groups[g.ID]
		if got == nil {
			out = append(out, "missing group "+g.DisplayName)
			continue
		}
		if str(got["displayName"]) != g.DisplayName || str(got["description"]) != g.Description {
			out = append(out, fmt.Sprintf("group %s = %v", g.ID, got))
		}
		var want []string
		for _, mm := range tn.DirectMembers(g.ID) {
			want = append(want, mm.ID)
		}
		have := slices.Sorted(mapsKeys(m.member[g.ID]))
		if len(want) != len(have) || (len(want) > 0 && !slices.Equal(want, have)) {
			out = append(out, fmt.Sprintf("group %s: %d members, want %d", g.DisplayName, len(have), len(want)))
		}
	}
	return out
}

// TestDeltaConvergesUnderRandomChanges changes the tenant at random, also
// between the pages of a round, and checks after each round that a client
// merging delta as documented holds exactly the tenant's state once a
// round without concurrent changes completes.
func TestDeltaConvergesUnderRandomChanges(t *testing.T) {
	tn, s := start(t, Options{Users: 300, Groups: 30, Seed: 26, DeltaUserPageSize: 50, DeltaGroupPageSize: 7, DeltaMemberPageSize: 60})
	cl := newClient(t, s)
	rng := mrand.New(mrand.NewPCG(26, 1))
	m := newMirror()
	userSel := "/v1.0/users/delta?$select=displayName,mail,jobTitle,accountEnabled,userPrincipalName"
	groupSel := "/v1.0/groups/delta?$select=displayName,description,members"
	n := 0
	change := func(int) {
		for i := 0; i < 1+rng.IntN(6); i++ {
			randomChange(t, tn, rng, &n)
		}
	}
	ur := walk(t, cl, userSel, change)
	gr := walk(t, cl, groupSel, change)
	m.applyUsers(ur.entries)
	m.applyGroups(gr.entries)
	for round := 0; round < 12; round++ {
		var between func(int)
		if round%2 == 0 {
			for i := 0; i < 20; i++ {
				randomChange(t, tn, rng, &n)
			}
			between = change
		}
		headers := []string{}
		if round%3 == 1 {
			headers = []string{"Prefer", "return=minimal"}
		}
		ur = walk(t, cl, ur.deltaLink, between, headers...)
		gr = walk(t, cl, gr.deltaLink, between, headers...)
		m.applyUsers(ur.entries)
		m.applyGroups(gr.entries)
		if between == nil {
			if d := m.diff(tn); len(d) > 0 {
				t.Fatalf("round %d: mirror differs from the tenant:\n%s", round, strings.Join(d[:min(len(d), 10)], "\n"))
			}
		}
	}
	if n < 150 {
		t.Errorf("only %d changes made", n)
	}
}

func randomChange(t testing.TB, tn *Tenant, rng *mrand.Rand, n *int) {
	users := tn.Users()
	groups := tn.Groups()
	pickU := func() User { return users[rng.IntN(len(users))] }
	pickG := func() Group { return groups[rng.IntN(len(groups))] }
	*n++
	switch rng.IntN(12) {
	case 0:
		tn.CreateUser(User{UserPrincipalName: fmt.Sprintf("rand%d@%s", *n, tn.Domain()), DisplayName: fmt.Sprintf("Random %d", *n), AccountEnabled: true, Mail: fmt.Sprintf("rand%d@%s", *n, tn.Domain())})
	case 1:
		u := pickU()
		tn.UpdateUser(u.ID, func(x *User) { x.DisplayName = fmt.Sprintf("%s ~%d", strings.Split(x.DisplayName, " ~")[0], *n) })
	case 2:
		u := pickU()
		tn.UpdateUser(u.ID, func(x *User) { x.AccountEnabled = !x.AccountEnabled; x.JobTitle = "" })
	case 3:
		tn.DeleteUser(pickU().ID)
	case 4:
		if d := tn.DeletedUsers(); len(d) > 0 {
			tn.RestoreUser(d[rng.IntN(len(d))].ID)
		}
	case 5:
		if rng.IntN(2) == 0 {
			tn.PurgeUser(pickU().ID)
		} else if d := tn.DeletedUsers(); len(d) > 0 {
			tn.PurgeUser(d[0].ID)
		}
	case 6, 7:
		tn.AddMember(pickG().ID, pickU().ID)
	case 8:
		g := pickG()
		if ms := tn.DirectMembers(g.ID); len(ms) > 0 {
			tn.RemoveMember(g.ID, ms[rng.IntN(len(ms))].ID)
		}
	case 9:
		a, b := pickG(), pickG()
		tn.AddMember(a.ID, b.ID)
	case 10:
		g := pickG()
		tn.UpdateGroup(g.ID, func(x *Group) { x.Description = fmt.Sprintf("changed %d", *n) })
	case 11:
		switch rng.IntN(3) {
		case 0:
			if len(groups) > 10 {
				tn.DeleteGroup(pickG().ID)
			}
		case 1:
			if d := tn.DeletedGroups(); len(d) > 0 {
				tn.RestoreGroup(d[0].ID)
			}
		default:
			var ms []string
			for i := 0; i < rng.IntN(90); i++ {
				ms = append(ms, pickU().ID)
			}
			slices.Sort(ms)
			tn.CreateGroup(Group{DisplayName: fmt.Sprintf("New group %d", *n), GroupTypes: []string{"Unified"}, MailEnabled: true}, slices.Compact(ms)...)
		}
	}
}

func newRand(seed uint64) *mrand.Rand { return mrand.New(mrand.NewPCG(seed, 2)) }
