package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/phone"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

// ErrThreshold is wrapped by the error of a run that would have disabled or
// deleted more than the source's deletion limit allows.
var ErrThreshold = fmt.Errorf("%w: deletion threshold exceeded", ErrStopped)

// scoper is a source's scope rules and import options, with what the group
// filter reached in this run's staged memberships.
type scoper struct {
	settings scope.Settings
	// filter is true when a group filter limits the source.
	filter bool
	// users and groups are the external ids the group filter reached.
	users, groups map[string]bool
	// memberRun is the staging key of the memberships to apply: the run's
	// own, or its flattened ones.
	memberRun string
}

// scopeFor is the one scope computation of every kind of run: the source's
// settings and, with a group filter, what the selected groups reach through
// the direct memberships the run staged: the selected groups, the groups
// nested in them and every user in those. A full run staged the whole
// source's memberships; a single-user run staged the user's groups and the
// groups above them, which is all the reach needs to decide about that
// user. (Incremental runs have no group filter: such sources reconcile in
// full every time.) In flatten mode, it stages each selected group's
// flattened user list as the memberships to apply.
func (e *Engine) scopeFor(ctx context.Context, runID string, s scope.Settings) (*scoper, error) {
	sc := &scoper{settings: s, memberRun: runID}
	if s.Groups.All() {
		return sc, nil
	}
	sc.filter = true
	members := func(g string) ([]directory.SourceMembership, error) { return e.Store.StagedMembersOf(ctx, runID, g) }
	users, groups, err := scope.GroupClosure(s.Groups.Selected, members)
	if err != nil {
		return nil, fmt.Errorf("group filter: %w", err)
	}
	sc.users, sc.groups = users, groups
	if s.Groups.EffectiveMode() != scope.ModeFlatten {
		return sc, nil
	}
	sc.groups = map[string]bool{}
	for _, g := range s.Groups.Selected {
		sc.groups[g] = true
	}
	flat, err := scope.FlattenMembers(s.Groups.Selected, members)
	if err != nil {
		return nil, fmt.Errorf("group filter: %w", err)
	}
	sc.memberRun = runID + "/flat"
	var ms []directory.SourceMembership
	for _, g := range slices.Sorted(maps.Keys(flat)) {
		for _, u := range flat[g] {
			ms = append(ms, directory.SourceMembership{GroupExternalID: g, MemberExternalID: u, MemberKind: directory.MemberUser})
		}
	}
	if err := e.Store.StageMemberships(ctx, sc.memberRun, ms); err != nil {
		return nil, fmt.Errorf("group filter: stage flattened members: %w", err)
	}
	return sc, nil
}

// groupInScope reports whether the group filter keeps a source group.
func (sc *scoper) groupInScope(externalID string) bool {
	return !sc.filter || sc.groups[externalID]
}

// admit decides whether a source user is in scope and shapes it by the
// import options. A user out of scope is counted as skipped with its
// reason, and one the directory already has from this source leaves
// through the lifecycle; a problem with a user imported (an invalid phone
// left out) is counted as a warning.
func (a *applier) admit(su directory.SourceUser) (directory.SourceUser, bool, error) {
	inGroups := !a.scope.filter || a.scope.users[su.ExternalID]
	if in, code, reason := a.scope.settings.Decide(su, inGroups); !in {
		return su, false, a.outOfScope(su, code, reason)
	}
	shaped, problems := a.scope.settings.Shape(su, phone.Numbers{})
	for _, p := range problems {
		a.run.Warn(p.Code, p.Message, 1)
		if err := a.record(directory.Change{ObjectKind: directory.MemberUser, ExternalID: su.ExternalID, Name: su.Username,
			Action: directory.ActionWarning, Detail: p.Detail}); err != nil {
			return su, false, err
		}
	}
	return shaped, true, nil
}

func (a *applier) outOfScope(su directory.SourceUser, code, reason string) error {
	a.run.Skip(code, reason, 1)
	u, err := a.tx.UserByLink(a.ctx, a.src.ID, su.ExternalID)
	if errors.Is(err, store.ErrNotFound) {
		return a.record(directory.Change{ObjectKind: directory.MemberUser, ExternalID: su.ExternalID, Name: su.Username,
			Action: directory.ActionSkipped, Detail: reason})
	}
	if err != nil {
		return err
	}
	if !a.scope.settings.ProcessesDeletions() {
		return nil
	}
	return a.trashUser(u, "out of scope ("+reason+"); moved to the trash")
}

// removal counts one more object disabled or deleted. The moment the run
// goes past the source's deletion limit, it will not be applied: the
// change log keeps the rest of the plan (and reads back what it wrote),
// which the run records when it stops.
func (a *applier) removal(count *int) error {
	*count++
	if !a.limited || a.stop != nil {
		return nil
	}
	if over, _ := a.overLimit(); !over {
		return nil
	}
	a.stop = ErrThreshold // its message is written by checkLimit, with the final counts
	return a.changes.keepFromNow()
}

// overLimit reports whether the run disables or deletes more than the
// limit allows of what the directory held from the source, and says so.
func (a *applier) overLimit() (bool, string) {
	n := a.run.Counts.Deleted + a.run.Counts.Disabled
	return a.scope.settings.DeletionLimit.Exceeds(n, a.heldUsers+a.heldGroups)
}

// checkLimit ends a plan that went past the deletion limit: the run stops
// with the whole plan, and applies none of it.
func (a *applier) checkLimit() error {
	if !a.limited {
		return nil
	}
	over, msg := a.overLimit()
	if !over {
		return nil
	}
	a.stop = fmt.Errorf("%w: %s; nothing was applied (see the run's changes; rerun with --allow-deletes to proceed)", ErrThreshold, msg)
	return a.changes.keepFromNow()
}
