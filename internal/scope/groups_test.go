package scope

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
)

// tenant is a source's direct memberships, with a count of the questions
// asked about each group.
type tenant struct {
	members map[string][]directory.SourceMembership
	asked   map[string]int
	fail    string // a group whose members cannot be read
}

// newTenant reads "g1: u1 u2 +g2" lines: g1 holds users u1, u2 and group g2.
// "dev:" members are devices, which the directory does not hold.
func newTenant(lines ...string) *tenant {
	t := &tenant{members: map[string][]directory.SourceMembership{}, asked: map[string]int{}}
	for _, line := range lines {
		g, rest, _ := strings.Cut(line, ":")
		for _, m := range strings.Fields(rest) {
			ms := directory.SourceMembership{GroupExternalID: g, MemberExternalID: m, MemberKind: directory.MemberUser}
			switch {
			case strings.HasPrefix(m, "+"):
				ms.MemberExternalID, ms.MemberKind = m[1:], directory.MemberGroup
			case strings.HasPrefix(m, "dev:"):
				ms.MemberKind = "device"
			}
			t.members[g] = append(t.members[g], ms)
		}
	}
	return t
}

func (t *tenant) list(g string) ([]directory.SourceMembership, error) {
	t.asked[g]++
	if t.asked[g] > 100 {
		// A walk that does not end on a cycle fails here, not by timeout.
		return nil, fmt.Errorf("group %s read %d times: a cycle is not handled", g, t.asked[g])
	}
	if g == t.fail {
		return nil, errors.New("graph: 503 Service Unavailable")
	}
	return t.members[g], nil
}

// within fails the test when f does not return soon: a walk that loops on a
// cycle must fail, not hang until the test binary's timeout.
func within(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("did not return within 10s: a cycle is not handled")
	}
}

func set(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func TestGroupClosure(t *testing.T) {
	// sales holds emea, which holds uk; uk holds sales back (a cycle), and
	// emea holds itself. hr is apart.
	ten := newTenant(
		"sales: u1 +emea dev:d1",
		"emea: u2 +uk +emea",
		"uk: u3 u1 +sales",
		"hr: u4 +people",
		"people: u5",
		"empty:",
	)
	tests := []struct {
		selected      []string
		users, groups map[string]bool
	}{
		{[]string{"sales"}, set("u1", "u2", "u3"), set("sales", "emea", "uk")},
		{[]string{"uk"}, set("u1", "u2", "u3"), set("sales", "emea", "uk")},
		{[]string{"hr"}, set("u4", "u5"), set("hr", "people")},
		{[]string{"people", "hr", "people"}, set("u4", "u5"), set("hr", "people")},
		{[]string{"emea", "hr"}, set("u1", "u2", "u3", "u4", "u5"), set("sales", "emea", "uk", "hr", "people")},
		{[]string{"empty"}, set(), set("empty")},
		{nil, set(), set()},
	}
	for _, tt := range tests {
		ten.asked = map[string]int{}
		var users, groups map[string]bool
		var err error
		within(t, func() { users, groups, err = GroupClosure(tt.selected, ten.list) })
		if err != nil {
			t.Fatalf("GroupClosure(%v): %v", tt.selected, err)
		}
		if !reflect.DeepEqual(users, tt.users) || !reflect.DeepEqual(groups, tt.groups) {
			t.Errorf("GroupClosure(%v) = %v, %v; want %v, %v", tt.selected, users, groups, tt.users, tt.groups)
		}
		// Each group reached is read once, and nothing else is read.
		for g, n := range ten.asked {
			if n != 1 || !tt.groups[g] {
				t.Errorf("GroupClosure(%v) asked for %s %d times", tt.selected, g, n)
			}
		}
		if len(ten.asked) != len(tt.groups) {
			t.Errorf("GroupClosure(%v) read %d groups, reached %d", tt.selected, len(ten.asked), len(tt.groups))
		}
	}
}

func TestGroupClosureError(t *testing.T) {
	ten := newTenant("a: u1 +b", "b: u2")
	ten.fail = "b"
	users, groups, err := GroupClosure([]string{"a"}, ten.list)
	if err == nil || users != nil || groups != nil {
		t.Fatalf("GroupClosure = %v, %v, %v; want only an error", users, groups, err)
	}
	if want := "scope: members of group b: graph: 503 Service Unavailable"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestFlattenMembers(t *testing.T) {
	ten := newTenant(
		"sales: u1 +emea",
		"emea: u2 +uk",
		"uk: u3 u1 +sales",
		"hr: u4 +shared",
		"it: u6 +shared",
		"shared: u5 u6 dev:d1",
	)
	var got map[string][]string
	var err error
	within(t, func() { got, err = FlattenMembers([]string{"sales", "hr", "it", "hr"}, ten.list) })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"sales": {"u1", "u2", "u3"},
		"hr":    {"u4", "u5", "u6"},
		"it":    {"u5", "u6"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FlattenMembers = %v, want %v", got, want)
	}
	// shared is nested in both hr and it but read once.
	for g, n := range ten.asked {
		if n != 1 {
			t.Errorf("asked for %s %d times", g, n)
		}
	}

	ten.fail = "shared"
	ten.asked = map[string]int{}
	if _, err := FlattenMembers([]string{"hr"}, ten.list); err == nil || !strings.Contains(err.Error(), "scope: members of group shared: ") {
		t.Errorf("FlattenMembers error = %v", err)
	}
}

func TestSearchGroups(t *testing.T) {
	var all []directory.SourceGroup
	for i := range 150 {
		all = append(all, directory.SourceGroup{ExternalID: fmt.Sprintf("id%03d", i), GroupAttributes: directory.GroupAttributes{Name: fmt.Sprintf("Team %03d", 149-i)}})
	}
	all = append(all,
		directory.SourceGroup{ExternalID: "s2", GroupAttributes: directory.GroupAttributes{Name: "sales EMEA"}},
		directory.SourceGroup{ExternalID: "s1", GroupAttributes: directory.GroupAttributes{Name: "Sales"}},
		directory.SourceGroup{ExternalID: "s0", GroupAttributes: directory.GroupAttributes{Name: "Presales"}},
	)
	found, more := SearchGroups(all, "SALES")
	var names []string
	for _, g := range found {
		names = append(names, g.Name)
	}
	if more || !reflect.DeepEqual(names, []string{"Presales", "Sales", "sales EMEA"}) {
		t.Errorf("SearchGroups(SALES) = %q, %v", names, more)
	}

	found, more = SearchGroups(all, "team")
	if !more || len(found) != MaxSearchResults || found[0].Name != "Team 000" || found[99].Name != "Team 099" {
		t.Errorf("SearchGroups(team) = %d results from %q to %q, more %v; want the first 100 by name and more", len(found), found[0].Name, found[len(found)-1].Name, more)
	}
	found, more = SearchGroups(all, "team 14")
	if more || len(found) != 10 {
		t.Errorf("SearchGroups(team 14) = %d, %v; want 10, false", len(found), more)
	}
	if found, more := SearchGroups(all, ""); !more || len(found) != MaxSearchResults {
		t.Errorf("SearchGroups(\"\") = %d, %v", len(found), more)
	}
	if found, more := SearchGroups(all, "nothing"); more || len(found) != 0 {
		t.Errorf("SearchGroups(nothing) = %d, %v", len(found), more)
	}
}
