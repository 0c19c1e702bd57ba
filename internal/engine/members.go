package engine

import (
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Memberships follow one rule, whatever the kind of run: the direct
// memberships a source owns are those it reports between a group and a
// member that are both in the directory through it and out of the trash.
// Every run reconciles the part of them it read (its reach) with
// store.Tx.SyncMemberships: a full run the whole source, an incremental
// run the pairs the source reported added or ended, a single-user run
// that user's groups. Set-based SQL is the one implementation because a
// full run's memberships are counted in millions and must not pass
// through memory; the narrow reaches run the same statements on a few
// rows.
//
// An object going to the trash ends its own memberships at once (it has
// few), through endMemberships, so that its member_removed changes come
// before its deleted change in the run and in the event feed.

// syncMembers reconciles the source's memberships within reach. A run
// that applies its plan has the store record the changes and their events
// set-wise, after those already pending, so that they are numbered in the
// order they happen; a plan kept in memory (a dry run) gets them a page at
// a time.
func (a *applier) syncMembers(reach store.Reach) error {
	if a.changes.keep {
		return a.tx.SyncMemberships(a.ctx, a.src.ID, a.scope.memberRun, reach, a.membersChanged)
	}
	if err := a.changes.flush(); err != nil {
		return err
	}
	removed, added, err := a.tx.SyncMembershipsLogged(a.ctx, a.src.ID, a.scope.memberRun, reach,
		store.MemberLog{RunID: a.run.ID, AccountID: a.src.AccountID, SourceName: a.src.Name, Time: a.now})
	a.run.Counts.MembersRemoved += removed
	a.run.Counts.MembersAdded += added
	return err
}

// endMemberships removes memberships the source owns, for an object going
// to the trash.
func (a *applier) endMemberships(ms []store.Membership) error {
	var ended []store.Membership
	for _, m := range ms {
		removed, err := a.tx.RemoveMembership(a.ctx, a.src.ID, m)
		if err != nil {
			return err
		}
		if removed {
			ended = append(ended, m)
		}
	}
	return a.membersChanged(false, ended)
}

// membersChanged counts and records memberships added or removed: the one
// place a membership change becomes a change of the run and an event.
func (a *applier) membersChanged(added bool, page []store.Membership) error {
	action := directory.ActionMemberRemoved
	if added {
		action = directory.ActionMemberAdded
		a.run.Counts.MembersAdded += len(page)
	} else {
		a.run.Counts.MembersRemoved += len(page)
	}
	for _, m := range page {
		member := directory.Member{Kind: m.MemberKind, ID: m.MemberID, Name: m.MemberName}
		if err := a.record(directory.Change{ObjectKind: directory.MemberGroup, ObjectID: m.GroupID, Name: m.GroupName,
			Action: action, Member: &member, Detail: directory.MemberDetail(member)}); err != nil {
			return err
		}
	}
	return nil
}
