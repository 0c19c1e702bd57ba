package ldap

import (
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
)

// TestBrowseAndSearchAgainstSamba: the OU tree is listed a level at a
// time, whatever the OU filter; the pickers' searches match the start of
// names within the source's scope and say when there are more.
func TestBrowseAndSearchAgainstSamba(t *testing.T) {
	dc := testDC(t)
	f := newFixture(t, dc, "Browse")
	cfg := baseCfg(dc, f.root)
	cfg.ExcludeOUs = []string{f.contractors}
	c := open(t, dc, cfg, Options{})
	ctx := t.Context()

	names := func(cs []connector.Container) string {
		var n []string
		for _, c := range cs {
			n = append(n, c.Name+"/"+c.Class)
		}
		return strings.Join(n, " ")
	}
	top, more, err := c.Containers(ctx, f.root, 100)
	if err != nil || more || names(top) != "Other/organizationalUnit Staff/organizationalUnit" {
		t.Fatalf("Containers(root) = %s, %v, %v", names(top), more, err)
	}
	// The excluded OU is listed: the tree is where the filter is chosen.
	staff, _, err := c.Containers(ctx, top[1].DN, 100)
	if err != nil || names(staff) != "Contractors/organizationalUnit Sales/organizationalUnit" {
		t.Fatalf("Containers(Staff) = %s, %v", names(staff), err)
	}
	one, more, err := c.Containers(ctx, top[1].DN, 1)
	if err != nil || len(one) != 1 || !more {
		t.Errorf("Containers limited to 1 = %s, more %v, %v", names(one), more, err)
	}
	base, _, err := c.Containers(ctx, "", 1000)
	if err != nil || !strings.Contains(names(base), "Browse/organizationalUnit") {
		t.Errorf("Containers(base) = %s, %v", names(base), err)
	}
	if _, _, err := c.Containers(ctx, "DC=elsewhere,DC=example", 10); connector.KindOf(err) != connector.KindInvalid {
		t.Errorf("a DN outside the base: %v", err)
	}

	groups, more, err := c.SearchGroups(ctx, "browse-", 100)
	var gn []string
	for _, g := range groups {
		gn = append(gn, g.Name)
	}
	if err != nil || more || strings.Join(gn, ", ") != "browse-All Staff, browse-Engineering, browse-Nested" {
		t.Fatalf("SearchGroups = %v, %v, %v", gn, more, err)
	}
	if two, more, err := c.SearchGroups(ctx, "browse-", 2); err != nil || len(two) != 2 || !more {
		t.Errorf("SearchGroups limited to 2 = %d, more %v, %v", len(two), more, err)
	}
	// Frank is in the excluded OU: not found.
	users, _, err := c.SearchUsers(ctx, "browse-", 100)
	var un []string
	for _, u := range users {
		un = append(un, u.AccountName)
	}
	if err != nil || strings.Join(un, " ") != "browse-alice browse-bob browse-carol browse-dave browse-erin" {
		t.Errorf("SearchUsers = %v, %v", un, err)
	}
	// Filter syntax in the query is data.
	if got, _, err := c.SearchUsers(ctx, "*)(cn=*", 100); err != nil || len(got) != 0 {
		t.Errorf("SearchUsers with filter syntax = %d users, %v", len(got), err)
	}
}
