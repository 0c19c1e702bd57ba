package scope

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
)

// MembersFunc lists a group's direct members.
type MembersFunc func(groupID string) ([]directory.SourceMembership, error)

// GroupClosure computes what a selection of groups reaches: the external
// ids of the users that are members of a selected group or of a group
// nested in one, at any depth, and the groups reached (the selected groups
// included). It asks members once per group reached, follows each group
// once (so a cycle ends), and holds only what it reaches. Members of other
// kinds (devices, contacts) are ignored.
func GroupClosure(selected []string, members MembersFunc) (users, groups map[string]bool, err error) {
	users, groups = map[string]bool{}, map[string]bool{}
	queue := make([]string, 0, len(selected))
	for _, g := range selected {
		if !groups[g] {
			groups[g] = true
			queue = append(queue, g)
		}
	}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		ms, err := members(g)
		if err != nil {
			return nil, nil, fmt.Errorf("scope: members of group %s: %w", g, err)
		}
		for _, m := range ms {
			switch m.MemberKind {
			case directory.MemberUser:
				users[m.MemberExternalID] = true
			case directory.MemberGroup:
				if !groups[m.MemberExternalID] {
					groups[m.MemberExternalID] = true
					queue = append(queue, m.MemberExternalID)
				}
			}
		}
	}
	return users, groups, nil
}

// FlattenMembers computes, for each selected group, the sorted external ids
// of every user it holds directly or through nested groups: the members a
// group gets under ModeFlatten. It asks members once per group reached,
// however many selected groups share it, and a cycle ends.
func FlattenMembers(selected []string, members MembersFunc) (map[string][]string, error) {
	// Direct members of each group reached, kept so that groups nested in
	// several selected groups are asked for once.
	type direct struct{ users, groups []string }
	cache := map[string]*direct{}
	get := func(g string) (*direct, error) {
		if d, ok := cache[g]; ok {
			return d, nil
		}
		ms, err := members(g)
		if err != nil {
			return nil, fmt.Errorf("scope: members of group %s: %w", g, err)
		}
		d := &direct{}
		for _, m := range ms {
			switch m.MemberKind {
			case directory.MemberUser:
				d.users = append(d.users, m.MemberExternalID)
			case directory.MemberGroup:
				d.groups = append(d.groups, m.MemberExternalID)
			}
		}
		cache[g] = d
		return d, nil
	}

	out := make(map[string][]string, len(selected))
	for _, root := range selected {
		if _, done := out[root]; done {
			continue
		}
		users := map[string]bool{}
		seen := map[string]bool{root: true}
		queue := []string{root}
		for len(queue) > 0 {
			d, err := get(queue[0])
			if err != nil {
				return nil, err
			}
			queue = queue[1:]
			for _, u := range d.users {
				users[u] = true
			}
			for _, g := range d.groups {
				if !seen[g] {
					seen[g] = true
					queue = append(queue, g)
				}
			}
		}
		ids := make([]string, 0, len(users))
		for u := range users {
			ids = append(ids, u)
		}
		slices.Sort(ids)
		out[root] = ids
	}
	return out, nil
}

// SearchGroups is the group picker's search over a list of groups: the
// groups whose name contains query, ignoring case, sorted by name, at most
// MaxSearchResults of them; more reports whether others matched too. An
// empty query matches every group.
func SearchGroups(all []directory.SourceGroup, query string) (found []directory.SourceGroup, more bool) {
	q := strings.ToLower(strings.TrimSpace(query))
	for _, g := range all {
		if strings.Contains(strings.ToLower(g.Name), q) {
			found = append(found, g)
		}
	}
	slices.SortFunc(found, func(a, b directory.SourceGroup) int {
		return cmp.Or(
			cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			cmp.Compare(a.ExternalID, b.ExternalID),
		)
	})
	if len(found) > MaxSearchResults {
		return found[:MaxSearchResults:MaxSearchResults], true
	}
	return found, false
}
