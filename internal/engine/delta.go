package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
		s.users[u.ExternalID] = &userDelta{user: u, fields: slices.Clone(fields)}
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
		s.groups[g.ExternalID] = &groupDelta{group: g, fields: slices.Clone(fields)}
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

// stageMembers stages the membership changes of the read, for the
// membership rule: those the source reports under the run's id, those it
// reports ended under endedKey.
func (s *deltaSink) stageMembers(ctx context.Context, st store.Stager, runID string) error {
	var added, ended []directory.SourceMembership
	for _, k := range s.order {
		if md := s.members[k]; md.removed {
			ended = append(ended, md.m)
		} else {
			added = append(added, md.m)
		}
	}
	if err := st.StageMemberships(ctx, runID, added); err != nil {
		return fmt.Errorf("stage membership changes: %w", err)
	}
	if err := st.StageMemberships(ctx, endedKey(runID), ended); err != nil {
		return fmt.Errorf("stage ended memberships: %w", err)
	}
	return nil
}

// endedKey is the staging key of the memberships an incremental run read
// as ended.
func endedKey(runID string) string { return runID + "/ended" }

// deltaPlan applies a merged incremental read and saves the source's next
// cursor in the same transaction.
func (a *applier) deltaPlan(d *deltaSink, state sourceState) []step {
	return []step{
		{"groups", func() error { return a.applyGroupDeltas(d) }},
		{"users", func() error { return a.applyUserDeltas(d) }},
		{"memberships", func() error { return a.syncMembers(store.Reach{Ended: endedKey(a.run.ID)}) }},
		{"deletion limit", a.checkLimit},
		{"changes", a.changes.flush},
		{"cursor", func() error { return a.saveState(state) }},
	}
}

// applyUserDeltas applies the users of an incremental read: a removal
// sends the user to the trash; anything else goes the way of a full run's
// users (scope, import options, matching), with a patch laid over what the
// directory holds.
func (a *applier) applyUserDeltas(d *deltaSink) error {
	for _, id := range slices.Sorted(maps.Keys(d.users)) {
		ud := d.users[id]
		existing, err := a.tx.UserByLink(a.ctx, a.src.ID, id)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		err = nil
		switch {
		case ud.removed:
			if found && a.scope.settings.ProcessesDeletions() {
				err = a.trashUser(existing, removalDetail(ud.hard))
			}
		case found && ud.fields != nil:
			current := directory.SourceUser{ExternalID: id, UserAttributes: existing.UserAttributes, Enabled: existing.Enabled}
			err = a.applyUser(overlay(current, ud.user, ud.fields))
		default:
			// A whole user, or one the directory does not know: new at the
			// source, or back from a state dirsync never saw. What the
			// source sent is all there is.
			err = a.applyUser(ud.user)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) applyGroupDeltas(d *deltaSink) error {
	for _, id := range slices.Sorted(maps.Keys(d.groups)) {
		gd := d.groups[id]
		existing, err := a.tx.GroupByLink(a.ctx, a.src.ID, id)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		err = nil
		switch {
		case gd.removed:
			if found && a.scope.settings.ProcessesDeletions() {
				err = a.trashGroup(existing, removalDetail(gd.hard))
			}
		case found && gd.fields != nil:
			err = a.applyGroup(overlay(directory.SourceGroup{ExternalID: id, GroupAttributes: existing.GroupAttributes}, gd.group, gd.fields))
		default:
			err = a.applyGroup(gd.group)
		}
		if err != nil {
			return err
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
