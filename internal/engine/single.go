package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// ErrUnsupported is wrapped by the error of a request the source's connector
// cannot serve.
var ErrUnsupported = errors.New("not supported by this kind of source")

// SyncUser synchronizes one user at once: reads that user and the groups it
// is a direct member of, and applies them as a full run would. A user the
// source no longer has goes to the trash, as a full run would send it.
func (e *Engine) SyncUser(ctx context.Context, src directory.Source, conn connector.Connector, who string, opts Options) (directory.Run, error) {
	look, ok := conn.(connector.UserLookup)
	if !ok {
		return directory.Run{}, fmt.Errorf("single-user sync of source %s: %w", src.Name, ErrUnsupported)
	}
	release, err := e.lease(ctx, src)
	if err != nil {
		return directory.Run{}, err
	}
	defer release()
	settings, err := parseSettings(src)
	if err != nil {
		return directory.Run{}, err
	}
	run := directory.Run{AccountID: src.AccountID, SourceID: src.ID, Source: src.Name, Kind: directory.RunSingle,
		Trigger: opts.Trigger, DryRun: opts.DryRun, StartedAt: e.now(), Outcome: directory.OutcomeRunning}
	if err := e.Store.Update(ctx, func(tx store.Tx) error { return tx.CreateRun(ctx, &run) }); err != nil {
		return run, fmt.Errorf("engine: record run: %w", err)
	}
	sc := &scoper{settings: settings, memberRun: run.ID}
	su, groups, err := look.LookupUser(ctx, who)
	e.countRequests(&run, conn)
	gone := connector.KindOf(err) == connector.KindNotFound
	if err != nil && !gone {
		return e.finish(ctx, run, directory.OutcomeFailed, fmt.Errorf("look up %s in source %s: %w", who, src.Name, err))
	}
	if gone {
		run.Reason = fmt.Sprintf("%s is not in source %s", who, src.Name)
		return e.apply(ctx, src, &run, opts, sc, func(a *applier) error { return a.retireOne(who) })
	}
	run.SourceUsers = 1
	if !settings.Groups.All() {
		// The group filter decides by the groups this user is in.
		sc.filter, sc.users, sc.groups = true, map[string]bool{}, map[string]bool{}
		for _, g := range settings.Groups.Selected {
			sc.groups[g] = true
		}
		for _, m := range groups {
			if sc.groups[m.GroupExternalID] {
				sc.users[su.ExternalID] = true
			}
		}
	}
	return e.apply(ctx, src, &run, opts, sc, func(a *applier) error { return a.applyOne(su, groups) })
}

// applyOne applies one user and makes its direct memberships through this
// source those the source reported (among the groups the directory has).
func (a *applier) applyOne(su directory.SourceUser, groups []directory.SourceMembership) error {
	if err := a.applyUser(su); err != nil {
		return fmt.Errorf("user %s (%s): %w", su.Username, su.ExternalID, err)
	}
	u, err := a.tx.UserByLink(a.ctx, a.src.ID, su.ExternalID)
	if errors.Is(err, store.ErrNotFound) {
		return a.flushChanges() // quarantined as a conflict: nothing to link memberships to
	}
	if err != nil {
		return err
	}
	want := map[string]store.Membership{}
	for _, m := range groups {
		g, err := a.tx.GroupByLink(a.ctx, a.src.ID, m.GroupExternalID)
		if errors.Is(err, store.ErrNotFound) {
			continue // a group this source does not bring
		}
		if err != nil {
			return err
		}
		want[g.ID] = store.Membership{GroupID: g.ID, GroupName: g.Name, MemberKind: directory.MemberUser, MemberID: u.ID, MemberName: u.Username}
	}
	have, err := a.tx.MembershipsOf(a.ctx, a.src.ID, directory.MemberUser, u.ID)
	if err != nil {
		return err
	}
	for _, m := range have {
		if _, keep := want[m.GroupID]; keep {
			delete(want, m.GroupID)
			continue
		}
		m.MemberName = u.Username
		if err := a.memberChange(m, false); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(want) {
		if err := a.memberChange(want[id], true); err != nil {
			return err
		}
	}
	return a.flushChanges()
}

// memberChange adds or removes one membership and records it.
func (a *applier) memberChange(m store.Membership, add bool) error {
	var changed bool
	var err error
	action := directory.ActionMemberAdded
	if add {
		changed, err = a.tx.AddMembership(a.ctx, a.src.ID, m)
	} else {
		action = directory.ActionMemberRemoved
		changed, err = a.tx.RemoveMembership(a.ctx, a.src.ID, m)
	}
	if err != nil || !changed {
		return err
	}
	if add {
		a.run.Counts.MembersAdded++
	} else {
		a.run.Counts.MembersRemoved++
	}
	return a.record(directory.Change{ObjectKind: directory.MemberGroup, ObjectID: m.GroupID, Name: m.GroupName, Action: action,
		Member: &directory.Member{Kind: m.MemberKind, ID: m.MemberID, Name: m.MemberName},
		Detail: fmt.Sprintf("%s %s (%s)", m.MemberKind, m.MemberName, m.MemberID)})
}

// retireOne trashes the directory user that who names (a source id, a
// username, an email or a dirsync id), when this source manages it.
func (a *applier) retireOne(who string) error {
	u, err := a.tx.UserByLink(a.ctx, a.src.ID, who)
	for _, find := range []func() (directory.User, error){
		func() (directory.User, error) { return a.tx.UserByUsername(a.ctx, a.src.AccountID, who) },
		func() (directory.User, error) { return a.tx.UserByEmail(a.ctx, a.src.AccountID, who) },
		func() (directory.User, error) { return a.tx.User(a.ctx, a.src.AccountID, who) },
	} {
		if !errors.Is(err, store.ErrNotFound) {
			break
		}
		u, err = find()
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && externalID(u.Sources, a.src.ID) == "") {
		a.run.Reason += "; the directory has no user of this source by that name: nothing to do"
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.trashUser(u, "not found at the source; moved to the trash"); err != nil {
		return err
	}
	return a.flushChanges()
}
