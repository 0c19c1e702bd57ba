package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

// ErrThreshold is wrapped by the error of a run that would have disabled or
// deleted more than the source's deletion limit allows.
var ErrThreshold = fmt.Errorf("%w: deletion threshold exceeded", ErrStopped)

// scoper is a source's scope rules and import options, with what the group
// filter reached in this run's snapshot.
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

func parseSettings(src directory.Source) (scope.Settings, error) {
	s, err := scope.Parse(src.Settings)
	if err != nil {
		return s, fmt.Errorf("source %s: settings: %w", src.Name, err)
	}
	return s, nil
}

// prepareScope works out what the group filter reaches in a staged snapshot:
// the selected groups, their nested groups and every user in them. In
// flatten mode it stages each selected group's flattened user list as the
// memberships to apply.
func (e *Engine) prepareScope(ctx context.Context, runID string, s scope.Settings) (*scoper, error) {
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
	if s.Groups.EffectiveMode() == scope.ModeFlatten {
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
		for _, g := range slices.Sorted(mapKeys(flat)) {
			for _, u := range flat[g] {
				ms = append(ms, directory.SourceMembership{GroupExternalID: g, MemberExternalID: u, MemberKind: directory.MemberUser})
			}
		}
		if err := e.Store.StageMemberships(ctx, sc.memberRun, ms); err != nil {
			return nil, fmt.Errorf("group filter: stage flattened members: %w", err)
		}
	}
	return sc, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// admit decides whether a source user is in scope and shapes it by the
// import options. A user out of scope is counted with its reason, and one
// the directory already has from this source leaves through the lifecycle.
func (a *applier) admit(su directory.SourceUser) (directory.SourceUser, bool, error) {
	inGroups := !a.scope.filter || a.scope.users[su.ExternalID]
	if in, reason := a.scope.settings.Decide(su, inGroups); !in {
		return su, false, a.outOfScope(su, reason)
	}
	shaped, problems := a.scope.settings.Shape(su)
	for _, p := range problems {
		if a.run.Skips == nil {
			a.run.Skips = map[string]int{}
		}
		a.run.Skips["not imported: "+problemKind(p)]++
		if err := a.record(directory.Change{ObjectKind: directory.MemberUser, ExternalID: su.ExternalID, Name: su.Username,
			Action: directory.ActionWarning, Detail: p}); err != nil {
			return su, false, err
		}
	}
	return shaped, true, nil
}

// problemKind is the part of a Shape problem that names its kind, for
// counting ("mobile_phone \"x\": not a number" counts as "mobile_phone").
func problemKind(p string) string {
	if k, _, ok := strings.Cut(p, " "); ok {
		return k
	}
	return p
}

func (a *applier) outOfScope(su directory.SourceUser, reason string) error {
	a.run.Counts.Skipped++
	if a.run.Skips == nil {
		a.run.Skips = map[string]int{}
	}
	a.run.Skips[reason]++
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

// groupInScope reports whether the group filter keeps a source group.
func (a *applier) groupInScope(externalID string) bool {
	return !a.scope.filter || a.scope.groups[externalID]
}

// checkThreshold stops a run that would disable or delete more objects than
// the source's deletion limit allows; total is how many objects the directory
// held from the source before the run.
func (a *applier) checkThreshold() error {
	if a.allowDeletes {
		return nil
	}
	n := a.run.Counts.Deleted + a.run.Counts.Disabled
	total := a.held
	if a.run.Kind == directory.RunDelta {
		total = 0 // unknown without a count: the absolute limit still holds
	}
	limit := a.scope.settings.DeletionLimit
	if total == 0 {
		if n > limit.Objects() {
			return fmt.Errorf("%w: the run would disable or delete %d objects, more than the limit of %d; nothing was applied (see the run's changes; rerun with --allow-deletes to proceed)", ErrThreshold, n, limit.Objects())
		}
		return nil
	}
	if over, msg := limit.Exceeds(n, total); over {
		return fmt.Errorf("%w: %s; nothing was applied (see the run's changes; rerun with --allow-deletes to proceed)", ErrThreshold, msg)
	}
	return nil
}
