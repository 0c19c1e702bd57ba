package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// deltaSink merges an incremental read in memory, one entry per object: a
// delta holds what changed, so its size follows the changes, not the source.
// Sources may report an object several times in one round (Graph does, and
// splits a large group's members over several entries): the last report of
// each attribute wins, and membership changes merge per (group, member).
type deltaSink struct {
	mu      sync.Mutex
	users   map[string]*userDelta
	groups  map[string]*groupDelta
	members map[memberKey]memberDelta
	order   []memberKey
	skips   map[string]int
}

type userDelta struct {
	user directory.SourceUser
	// fields is nil when user is whole; otherwise the attributes it carries.
	fields  []string
	removed bool
	hard    bool
}

type groupDelta struct {
	group   directory.SourceGroup
	fields  []string
	removed bool
	hard    bool
}

type memberKey struct{ group, member string }

type memberDelta struct {
	m       directory.SourceMembership
	removed bool
}

func newDeltaSink() *deltaSink {
	return &deltaSink{users: map[string]*userDelta{}, groups: map[string]*groupDelta{},
		members: map[memberKey]memberDelta{}, skips: map[string]int{}}
}

var _ connector.ChangeSink = (*deltaSink)(nil)

func (s *deltaSink) User(u directory.SourceUser) error { return s.UserPatch(u, nil) }

func (s *deltaSink) UserPatch(u directory.SourceUser, fields []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.users[u.ExternalID]
	if !ok || d.removed {
		s.users[u.ExternalID] = &userDelta{user: u, fields: clone(fields)}
		return nil
	}
	d.user, d.fields = mergePatch(d.user, d.fields, u, fields)
	return nil
}

func (s *deltaSink) Group(g directory.SourceGroup) error { return s.GroupPatch(g, nil) }

func (s *deltaSink) GroupPatch(g directory.SourceGroup, fields []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.groups[g.ExternalID]
	if !ok || d.removed {
		s.groups[g.ExternalID] = &groupDelta{group: g, fields: clone(fields)}
		return nil
	}
	d.group, d.fields = mergePatch(d.group, d.fields, g, fields)
	return nil
}

func (s *deltaSink) RemoveUser(id string, hard bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[id] = &userDelta{user: directory.SourceUser{ExternalID: id}, removed: true, hard: hard}
	return nil
}

func (s *deltaSink) RemoveGroup(id string, hard bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = &groupDelta{group: directory.SourceGroup{ExternalID: id}, removed: true, hard: hard}
	return nil
}

func (s *deltaSink) Membership(m directory.SourceMembership) error { return s.member(m, false) }

func (s *deltaSink) RemoveMembership(m directory.SourceMembership) error { return s.member(m, true) }

func (s *deltaSink) member(m directory.SourceMembership, removed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := memberKey{m.GroupExternalID, m.MemberExternalID}
	if _, seen := s.members[k]; !seen {
		s.order = append(s.order, k)
	}
	s.members[k] = memberDelta{m, removed}
	return nil
}

func (s *deltaSink) Skip(sk connector.Skipped) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skips[sk.Reason]++
	return nil
}

func clone(fields []string) []string {
	if fields == nil {
		return nil
	}
	return slices.Clone(fields)
}

// mergePatch lays patch (carrying fields, or everything when fields is nil)
// over base (carrying baseFields). The result carries the union.
func mergePatch[T any](base T, baseFields []string, patch T, fields []string) (T, []string) {
	if fields == nil {
		return patch, nil
	}
	merged := overlay(base, patch, fields)
	if baseFields == nil {
		return merged, nil
	}
	union := slices.Clone(baseFields)
	for _, f := range fields {
		if !slices.Contains(union, f) {
			union = append(union, f)
		}
	}
	return merged, union
}

// overlay returns base with the named attributes taken from patch. It works
// on the JSON names, which are the names sources use in ChangeSink: an
// attribute named but absent from patch's JSON was cleared at the source.
func overlay[T any](base, patch T, fields []string) T {
	var b, p map[string]json.RawMessage
	bj, _ := json.Marshal(base)
	pj, _ := json.Marshal(patch)
	_ = json.Unmarshal(bj, &b)
	_ = json.Unmarshal(pj, &p)
	for _, f := range fields {
		if v, ok := p[f]; ok {
			b[f] = v
		} else {
			delete(b, f)
		}
	}
	var out T
	mj, _ := json.Marshal(b)
	_ = json.Unmarshal(mj, &out)
	return out
}

// applyDelta applies a merged incremental read and saves the source's next
// cursor in the same transaction.
func (a *applier) applyDelta(d *deltaSink, next string) error {
	return runSteps([]step{
		{"groups", func() error { return a.applyGroupDeltas(d) }},
		{"users", func() error { return a.applyUserDeltas(d) }},
		{"memberships", func() error { return a.applyMemberDeltas(d) }},
		{"deletion limit", a.checkThreshold},
		{"changes", a.flushChanges},
		{"cursor", func() error { return a.saveCursor(next) }},
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (a *applier) applyUserDeltas(d *deltaSink) error {
	for _, id := range sortedKeys(d.users) {
		ud := d.users[id]
		existing, err := a.tx.UserByLink(a.ctx, a.src.ID, id)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		switch {
		case ud.removed:
			if found && a.scope.settings.ProcessesDeletions() {
				if err := a.trashUser(existing, removalDetail(ud.hard)); err != nil {
					return err
				}
			}
		case found:
			current := directory.SourceUser{ExternalID: id, UserAttributes: existing.UserAttributes, Enabled: existing.Enabled}
			merged := ud.user
			if ud.fields != nil {
				merged = overlay(current, ud.user, ud.fields)
			}
			if err := a.updateUser(existing, merged); err != nil {
				return fmt.Errorf("user %s (%s): %w", merged.Username, id, err)
			}
		default:
			// A user the directory does not know: new at the source, or back
			// from a state dirsync never saw. What the source sent is all there is.
			if err := a.applyUser(ud.user); err != nil {
				return fmt.Errorf("user %s (%s): %w", ud.user.Username, id, err)
			}
		}
	}
	return nil
}

func (a *applier) applyGroupDeltas(d *deltaSink) error {
	for _, id := range sortedKeys(d.groups) {
		gd := d.groups[id]
		existing, err := a.tx.GroupByLink(a.ctx, a.src.ID, id)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		switch {
		case gd.removed:
			if found && a.scope.settings.ProcessesDeletions() {
				if err := a.trashGroup(existing, removalDetail(gd.hard)); err != nil {
					return err
				}
			}
		case found:
			merged := gd.group
			if gd.fields != nil {
				merged = overlay(directory.SourceGroup{ExternalID: id, GroupAttributes: existing.GroupAttributes}, gd.group, gd.fields)
			}
			if err := a.updateGroup(existing, merged); err != nil {
				return fmt.Errorf("group %s (%s): %w", merged.Name, id, err)
			}
		default:
			if err := a.applyGroup(gd.group); err != nil {
				return fmt.Errorf("group %s (%s): %w", gd.group.Name, id, err)
			}
		}
	}
	return nil
}

func removalDetail(hard bool) string {
	if hard {
		return "deleted permanently at the source; moved to the trash"
	}
	return "deleted at the source (restorable there); moved to the trash"
}

func (a *applier) applyMemberDeltas(d *deltaSink) error {
	for _, k := range d.order {
		md := d.members[k]
		g, err := a.tx.GroupByLink(a.ctx, a.src.ID, md.m.GroupExternalID)
		if errors.Is(err, store.ErrNotFound) {
			continue // a group outside what this source brings
		}
		if err != nil {
			return err
		}
		kind, memberID, memberName := md.m.MemberKind, "", ""
		switch kind {
		case directory.MemberUser:
			u, err := a.tx.UserByLink(a.ctx, a.src.ID, md.m.MemberExternalID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			memberID, memberName = u.ID, u.Username
		case directory.MemberGroup:
			mg, err := a.tx.GroupByLink(a.ctx, a.src.ID, md.m.MemberExternalID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			memberID, memberName = mg.ID, mg.Name
		default:
			continue
		}
		m := store.Membership{GroupID: g.ID, GroupName: g.Name, MemberKind: kind, MemberID: memberID, MemberName: memberName}
		action := directory.ActionMemberAdded
		var changed bool
		if md.removed {
			action = directory.ActionMemberRemoved
			changed, err = a.tx.RemoveMembership(a.ctx, a.src.ID, m)
		} else {
			changed, err = a.tx.AddMembership(a.ctx, a.src.ID, m)
		}
		if err != nil {
			return err
		}
		if !changed {
			continue // a replay: the directory already says so
		}
		if md.removed {
			a.run.Counts.MembersRemoved++
		} else {
			a.run.Counts.MembersAdded++
		}
		if err := a.record(directory.Change{ObjectKind: directory.MemberGroup, ObjectID: g.ID, Name: g.Name, Action: action,
			Member: &directory.Member{Kind: kind, ID: memberID, Name: memberName},
			Detail: fmt.Sprintf("%s %s (%s)", kind, memberName, memberID)}); err != nil {
			return err
		}
	}
	return nil
}
