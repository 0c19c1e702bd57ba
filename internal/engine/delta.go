package engine

import (
	"context"
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
	rejects *rejections
	mu      sync.Mutex
	users   map[string]*userDelta
	groups  map[string]*groupDelta
	members map[memberKey]memberDelta
	order   []memberKey
	skips   skipTally
}

// objectDelta is what an incremental read says of one user or group: the
// object (whole, or a patch of some fields), or its removal.
type objectDelta[T any, F comparable] struct {
	object T
	// fields is nil when object is whole; otherwise the fields it carries.
	fields  []F
	removed bool
	hard    bool
}

type (
	userDelta  = objectDelta[directory.SourceUser, directory.UserField]
	groupDelta = objectDelta[directory.SourceGroup, directory.GroupField]
)

// merge lays a later report of the object over this one: a whole object
// replaces it, a patch is laid over it and the fields add up.
func (d *objectDelta[T, F]) merge(patch T, fields []F, overlay func(T, T, []F) (T, error)) error {
	if d.removed || fields == nil {
		*d = objectDelta[T, F]{object: patch, fields: slices.Clone(fields)}
		return nil
	}
	merged, err := overlay(d.object, patch, fields)
	if err != nil {
		return err
	}
	d.object = merged
	if d.fields != nil {
		for _, f := range fields {
			if !slices.Contains(d.fields, f) {
				d.fields = append(d.fields, f)
			}
		}
	}
	return nil
}

type memberKey struct{ group, member string }

type memberDelta struct {
	m       directory.SourceMembership
	removed bool
}

func newDeltaSink() *deltaSink {
	return &deltaSink{rejects: newRejections(), users: map[string]*userDelta{}, groups: map[string]*groupDelta{},
		members: map[memberKey]memberDelta{}}
}

var _ connector.ChangeSink = (*deltaSink)(nil)

func (s *deltaSink) User(u directory.SourceUser) error { return s.UserPatch(u, nil) }

func (s *deltaSink) UserPatch(u directory.SourceUser, fields []directory.UserField) error {
	ok, reason := s.rejects.admitUser(u)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		s.skips.refuse(reason)
		return nil
	}
	d, ok := s.users[u.ExternalID]
	if !ok {
		d = &userDelta{removed: true}
		s.users[u.ExternalID] = d
	}
	return d.merge(u, fields, directory.OverlayUser)
}

func (s *deltaSink) Group(g directory.SourceGroup) error { return s.GroupPatch(g, nil) }

func (s *deltaSink) GroupPatch(g directory.SourceGroup, fields []directory.GroupField) error {
	ok, reason := s.rejects.admitGroup(g)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		s.skips.refuse(reason)
		return nil
	}
	d, ok := s.groups[g.ExternalID]
	if !ok {
		d = &groupDelta{removed: true}
		s.groups[g.ExternalID] = d
	}
	return d.merge(g, fields, directory.OverlayGroup)
}

func (s *deltaSink) RemoveUser(id string, hard bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[id] = &userDelta{object: directory.SourceUser{ExternalID: id}, removed: true, hard: hard}
	return nil
}

func (s *deltaSink) RemoveGroup(id string, hard bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = &groupDelta{object: directory.SourceGroup{ExternalID: id}, removed: true, hard: hard}
	return nil
}

func (s *deltaSink) Membership(m directory.SourceMembership) error { return s.member(m, false) }

func (s *deltaSink) RemoveMembership(m directory.SourceMembership) error { return s.member(m, true) }

func (s *deltaSink) member(m directory.SourceMembership, removed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reason, over := oversizedMembership(m); over {
		s.skips.refuse(reason)
		return nil
	}
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
	s.skips.skip(sk)
	return nil
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
		{"refused objects", a.recordRejections},
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
	ids := slices.Sorted(maps.Keys(d.users))
	linked := linkedObjects[directory.User]{byLink: a.tx.UserByLink, id: func(u directory.User) string { return u.ID }}
	if err := linked.load(ids, func(ids []string) (map[string]directory.User, error) { return a.tx.UsersByLink(a.ctx, a.src.ID, ids) }); err != nil {
		return err
	}
	for _, id := range ids {
		ud := d.users[id]
		existing, found, err := linked.get(a.ctx, a.src.ID, id)
		if err != nil {
			return err
		}
		switch {
		case ud.removed:
			if found && a.scope.settings.ProcessesDeletions() {
				err = a.trashUser(existing, removalDetail(ud.hard))
			}
		case found && ud.fields != nil:
			current := directory.SourceUser{ExternalID: id, UserAttributes: existing.UserAttributes, Enabled: existing.Enabled}
			var merged directory.SourceUser
			if merged, err = directory.OverlayUser(current, ud.object, ud.fields); err == nil {
				err = a.applyLinked(existing, merged)
			}
		case found:
			err = a.applyLinked(existing, ud.object)
		default:
			// One the directory does not know: new at the source, or back
			// from a state dirsync never saw. What the source sent is all
			// there is.
			err = a.applyUser(ud.object)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) applyGroupDeltas(d *deltaSink) error {
	ids := slices.Sorted(maps.Keys(d.groups))
	linked := linkedObjects[directory.Group]{byLink: a.tx.GroupByLink, id: func(g directory.Group) string { return g.ID }}
	if err := linked.load(ids, func(ids []string) (map[string]directory.Group, error) { return a.tx.GroupsByLink(a.ctx, a.src.ID, ids) }); err != nil {
		return err
	}
	for _, id := range ids {
		gd := d.groups[id]
		existing, found, err := linked.get(a.ctx, a.src.ID, id)
		if err != nil {
			return err
		}
		switch {
		case gd.removed:
			if found && a.scope.settings.ProcessesDeletions() {
				err = a.trashGroup(existing, removalDetail(gd.hard))
			}
		case found && gd.fields != nil:
			current := directory.SourceGroup{ExternalID: id, GroupAttributes: existing.GroupAttributes}
			var merged directory.SourceGroup
			if merged, err = directory.OverlayGroup(current, gd.object, gd.fields); err == nil {
				err = a.applyLinkedGroup(existing, merged)
			}
		case found:
			err = a.applyLinkedGroup(existing, gd.object)
		default:
			err = a.applyGroup(gd.object)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// linkedObjects are the users or groups an incremental read names, read
// by their links in a few statements as a step begins (one lookup each
// made most of the step's time), each handed out once: an object two of
// the source's objects link to is read again the second time, as the
// first may have changed it.
type linkedObjects[T any] struct {
	byLink func(ctx context.Context, sourceID, externalID string) (T, error)
	id     func(T) string
	loaded map[string]T
	given  map[string]bool
}

func (l *linkedObjects[T]) load(ids []string, byLinks func([]string) (map[string]T, error)) error {
	var err error
	l.loaded, err = byLinks(ids)
	l.given = make(map[string]bool, len(l.loaded))
	return err
}

// get returns the object linked to externalID, and whether there is one.
func (l *linkedObjects[T]) get(ctx context.Context, sourceID, externalID string) (T, bool, error) {
	v, ok := l.loaded[externalID]
	if ok && l.given[l.id(v)] {
		v, err := l.byLink(ctx, sourceID, externalID)
		if errors.Is(err, store.ErrNotFound) {
			return v, false, nil
		}
		return v, err == nil, err
	}
	if ok {
		l.given[l.id(v)] = true
	}
	return v, ok, nil
}

func removalDetail(hard bool) string {
	if hard {
		return "deleted permanently at the source; moved to the trash"
	}
	return "deleted at the source (restorable there); moved to the trash"
}
