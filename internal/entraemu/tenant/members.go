package tenant

import (
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

var errAlreadyMember = model.BadRequest("One or more added object references already exist for the following modified properties: 'members'.")

// AddMember adds an active user, group, device, contact or service
// principal to g.
func (tx *Tx) AddMember(g *Rec[model.Group], memberID string) error {
	kind, ok := tx.MemberKind(memberID)
	if !ok {
		return model.NotFound(memberID)
	}
	if memberID == g.Obj.ID {
		return model.BadRequest("A group cannot be a member of itself.")
	}
	if !tx.addMember(g, memberID, kind, tx.d.parentsOf(memberID)) {
		return errAlreadyMember
	}
	return nil
}

// addMember adds and logs a member; parents is the member's memberOf list.
// It reports false when the member was already there.
func (tx *Tx) addMember(g *Rec[model.Group], id string, kind model.ObjKind, parents *[]string) bool {
	i, found := findMember(g.Members, id)
	if found {
		return false
	}
	g.Members = slices.Insert(g.Members, i, model.Ref{ID: id, Kind: kind})
	if parents != nil {
		*parents, _ = insertSorted(*parents, g.Obj.ID)
	}
	tx.d.record(change{kind: model.ObjGroup, id: g.Obj.ID, op: opMemberAdd, member: id, mkind: kind})
	return true
}

// RemoveMember removes a member from a group.
func (tx *Tx) RemoveMember(groupID, memberID string) error {
	d := tx.d
	g := d.groups.active.byID[groupID]
	if g == nil {
		return model.NotFound(groupID)
	}
	i, found := findMember(g.Members, memberID)
	if !found {
		return model.NotFound(memberID)
	}
	kind := g.Members[i].Kind
	g.Members = slices.Delete(g.Members, i, i+1)
	if p := d.parentsOf(memberID); p != nil {
		*p, _ = removeSorted(*p, groupID)
	}
	d.record(change{kind: model.ObjGroup, id: groupID, op: opMemberRemove, member: memberID, mkind: kind})
	return nil
}

// leaveAll removes member id from every group in parents, logging each
// removal.
func (tx *Tx) leaveAll(id string, kind model.ObjKind, parents []string) {
	for _, gid := range parents {
		g := tx.d.groups.active.byID[gid]
		if g == nil {
			continue
		}
		if i, ok := findMember(g.Members, id); ok {
			g.Members = slices.Delete(g.Members, i, i+1)
			tx.d.record(change{kind: model.ObjGroup, id: gid, op: opMemberRemove, member: id, mkind: kind})
		}
	}
}

// detach takes an object out of the memberships around it before it
// leaves the active set: out of its parent groups (logged there), and, for
// a group, out of its members' memberOf lists. A group keeps its own
// member list, for a restore.
func (tx *Tx) detach(kind model.ObjKind, id string, memberOf *[]string, members []model.Ref) {
	tx.leaveAll(id, kind, *memberOf)
	*memberOf = nil
	for _, m := range members {
		if p := tx.d.parentsOf(m.ID); p != nil {
			*p, _ = removeSorted(*p, id)
		}
	}
}

// MemberOf are the groups an active object is a direct member of, sorted.
func (v *View) MemberOf(id string) []string {
	if p := v.d.parentsOf(id); p != nil {
		return *p
	}
	return nil
}

// TransitiveMembers walks nested groups breadth first with a visited set,
// so cycles end. The result is sorted by id.
func (v *View) TransitiveMembers(groupID string) []model.Ref {
	seen := map[string]bool{groupID: true}
	var out []model.Ref
	queue := []string{groupID}
	for len(queue) > 0 {
		g := v.d.groups.active.byID[queue[0]]
		queue = queue[1:]
		if g == nil {
			continue
		}
		for _, m := range g.Members {
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			out = append(out, m)
			if m.Kind == model.ObjGroup {
				queue = append(queue, m.ID)
			}
		}
	}
	slices.SortFunc(out, func(a, b model.Ref) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// TransitiveMemberOf returns every group an object is in, directly or
// through nesting, sorted.
func (v *View) TransitiveMemberOf(id string) []string {
	p := v.d.parentsOf(id)
	if p == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	queue := slices.Clone(*p)
	for len(queue) > 0 {
		gid := queue[0]
		queue = queue[1:]
		if seen[gid] || gid == id {
			continue
		}
		seen[gid] = true
		out = append(out, gid)
		if g := v.d.groups.active.byID[gid]; g != nil {
			queue = append(queue, g.memberOf...)
		}
	}
	slices.Sort(out)
	return out
}

// member describes a member for the admin API.
func (v *View) member(m model.Ref) model.Member {
	d := v.d
	out := model.Member{ID: m.ID, Kind: m.Kind.String()}
	switch m.Kind {
	case model.ObjUser:
		if u := d.users.active.byID[m.ID]; u != nil {
			out.DisplayName, out.UserPrincipalName, out.Mail = u.Obj.DisplayName, u.Obj.UserPrincipalName, u.Obj.Mail
		}
	case model.ObjGroup:
		if g := d.groups.active.byID[m.ID]; g != nil {
			out.DisplayName, out.Mail = g.Obj.DisplayName, g.Obj.Mail
		}
	default:
		if o := d.object(m.ID); o != nil {
			out.DisplayName, out.Mail = o.Obj.DisplayName, o.Obj.Mail
		}
	}
	return out
}
