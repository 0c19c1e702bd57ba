package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/phone"
	"github.com/dirsync/dirsync/internal/store"
)

// ErrUnsupported is wrapped by the error of a request the source's connector
// cannot serve.
var ErrUnsupported = errors.New("not supported by this kind of source")

// ErrUnknownUser is wrapped by the error of a single-user sync of a name
// that neither the source nor the users the source brought in know:
// nothing changed.
var ErrUnknownUser = errors.New("no such user")

// maxAncestors bounds how many groups a single-user run follows up from
// the user: far more than any real nesting, and a cycle ends anyway.
const maxAncestors = 10000

// SyncUser synchronizes one user at once, as a full run would: the user
// (who: a source id, a UPN, or the username, email or dirsync id of a user
// the source brought in) with the source's scope rules and import
// options, and its direct memberships. With a group filter, the groups
// above the user's are read too, so that the filter reaches the user
// through nested groups as it does in a full run.
//
// A name the source does not know is looked for among the users the
// source brought in; such a user is trashed only when the source answers
// that its id no longer exists, as a full run would trash it. A name
// nobody knows is refused (ErrUnknownUser), and nothing changes.
func (e *Engine) SyncUser(ctx context.Context, src directory.Source, conn connector.Connector, who string, opts Options) (directory.Run, error) {
	look, ok := conn.(connector.UserLookup)
	if !ok {
		return directory.Run{}, fmt.Errorf("single-user sync of source %s: %w", src.Name, ErrUnsupported)
	}
	j, err := e.begin(ctx, src, conn, directory.RunSingle, opts)
	defer j.end(ctx)
	if err != nil {
		return j.run, err
	}
	ctx, stop := j.bound(ctx)
	defer stop()
	if err := j.record(ctx); err != nil {
		return j.run, err
	}
	if err := j.prepare(ctx); err != nil {
		return j.fail(ctx, directory.OutcomeFailed, err)
	}
	found, err := j.lookup(ctx, look, who)
	j.countRequests()
	if err != nil {
		return j.fail(ctx, directory.OutcomeFailed, err)
	}
	if found.gone != nil {
		j.run.Reason = fmt.Sprintf("%s is no longer in source %s (its id %s does not exist there)", who, src.Name, externalID(found.gone.Sources, src.ID))
		sc := &scoper{settings: j.settings, memberRun: j.run.ID}
		return j.apply(ctx, sc, func(a *applier) []step { return a.retirePlan(*found.gone) })
	}
	j.run.SourceUsers = 1
	if field, limit := found.user.Oversized(); field != "" {
		return j.fail(ctx, directory.OutcomeFailed, fmt.Errorf("source %s reports user %s with %s %s: not imported; nothing changed",
			src.Name, short(found.user.ExternalID), field, limit))
	}
	if err := j.stage(ctx, found); err != nil {
		return j.fail(ctx, directory.OutcomeFailed, err)
	}
	sc, err := e.scopeFor(ctx, j.run.ID, j.settings)
	if err != nil {
		return j.fail(ctx, directory.OutcomeFailed, err)
	}
	return j.apply(ctx, sc, func(a *applier) []step { return a.onePlan(found.user.ExternalID) })
}

// lookedUp is what a single-user run found.
type lookedUp struct {
	user directory.SourceUser
	// groups are the user's direct memberships and, with a group filter,
	// those of the groups above it.
	groups []directory.SourceMembership
	// gone is set instead when the source no longer has the directory's user.
	gone *directory.User
}

// lookup finds who at the source, or among the users the source brought
// in (whose usernames may be shaped by the import options, so that the
// source knows them by another name), whom it then looks up by id.
func (j *job) lookup(ctx context.Context, look connector.UserLookup, who string) (lookedUp, error) {
	su, ms, err := look.LookupUser(ctx, who)
	if err == nil {
		return j.withParents(ctx, lookedUp{user: su, groups: ms})
	}
	if connector.KindOf(err) != connector.KindNotFound {
		return lookedUp{}, fmt.Errorf("look up %s in source %s: %w", who, j.src.Name, err)
	}
	known, err := j.knownUser(ctx, who)
	if err != nil {
		return lookedUp{}, err
	}
	if known == nil {
		return lookedUp{}, fmt.Errorf("%w: source %s has no user %q, and no user it brought in has that username, email or id; nothing changed",
			ErrUnknownUser, j.src.Name, who)
	}
	id := externalID(known.Sources, j.src.ID)
	if id != who {
		su, ms, err = look.LookupUser(ctx, id)
		switch {
		case err == nil:
			return j.withParents(ctx, lookedUp{user: su, groups: ms})
		case connector.KindOf(err) != connector.KindNotFound:
			return lookedUp{}, fmt.Errorf("look up %s (%s) in source %s: %w", who, id, j.src.Name, err)
		}
	}
	return lookedUp{gone: known}, nil
}

// knownUser finds the user the source brought in that who names: by the
// source's id, by username (as given, and as the import options shape a
// source's name), by email, or by dirsync id. Nil when there is none.
func (j *job) knownUser(ctx context.Context, who string) (*directory.User, error) {
	st, acc := j.e.Store, j.src.AccountID
	shaped, _ := j.settings.Shape(directory.SourceUser{UserAttributes: directory.UserAttributes{Username: who}}, phone.Numbers{})
	finds := []func() (directory.User, error){
		func() (directory.User, error) { return st.UserByLink(ctx, j.src.ID, who) },
		func() (directory.User, error) { return st.UserByUsername(ctx, acc, who) },
		func() (directory.User, error) { return st.UserByUsername(ctx, acc, shaped.Username) },
		func() (directory.User, error) { return st.UserByEmail(ctx, acc, who) },
		func() (directory.User, error) { return st.User(ctx, acc, who) },
	}
	for _, find := range finds {
		u, err := find()
		switch {
		case err == nil && externalID(u.Sources, j.src.ID) != "":
			return &u, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("engine: find %s among the users of source %s: %w", who, j.src.Name, err)
		}
	}
	return nil, nil
}

// withParents adds, when a group filter needs them, the memberships of
// the groups above the user's, up to the top.
func (j *job) withParents(ctx context.Context, l lookedUp) (lookedUp, error) {
	if j.settings.Groups.All() || len(l.groups) == 0 {
		return l, nil
	}
	gp, ok := j.conn.(connector.GroupParents)
	if !ok {
		return l, fmt.Errorf("single-user sync of source %s with a group filter: following nested groups up %w", j.src.Name, ErrUnsupported)
	}
	seen := map[string]bool{}
	var level []string
	for _, m := range l.groups {
		if !seen[m.GroupExternalID] {
			seen[m.GroupExternalID] = true
			level = append(level, m.GroupExternalID)
		}
	}
	for len(level) > 0 {
		parents, err := gp.ParentGroups(ctx, level)
		if err != nil {
			return l, fmt.Errorf("read the groups above %s's in source %s: %w", l.user.Username, j.src.Name, err)
		}
		l.groups, level = append(l.groups, parents...), nil
		for _, p := range parents {
			if !seen[p.GroupExternalID] {
				seen[p.GroupExternalID] = true
				level = append(level, p.GroupExternalID)
			}
		}
		if len(seen) > maxAncestors {
			return l, fmt.Errorf("engine: more than %d groups above %s in source %s", maxAncestors, l.user.Username, j.src.Name)
		}
	}
	return l, nil
}

// stage stages the user and the memberships around it, as a full run
// stages the whole source, for the same scope computation and membership
// rule.
func (j *job) stage(ctx context.Context, l lookedUp) error {
	if err := j.e.Store.StageUsers(ctx, j.run.ID, []directory.SourceUser{l.user}); err != nil {
		return fmt.Errorf("stage the user: %w", err)
	}
	if err := j.e.Store.StageMemberships(ctx, j.run.ID, l.groups); err != nil {
		return fmt.Errorf("stage the user's groups: %w", err)
	}
	return nil
}

// onePlan applies the one staged user and makes its memberships through
// this source those the source reports, among the groups the directory has.
func (a *applier) onePlan(externalID string) []step {
	return []step{
		{"user", a.applyStagedUsers},
		{"memberships", func() error {
			u, err := a.tx.UserByLink(a.ctx, a.src.ID, externalID)
			if errors.Is(err, store.ErrNotFound) {
				return nil // out of scope, or quarantined as a conflict: not in the directory
			}
			if err != nil {
				return err
			}
			return a.syncMembers(store.Reach{UserID: u.ID})
		}},
		{"changes", a.changes.flush},
	}
}

// retirePlan sends a user the source no longer has to the trash, as a
// full run would.
func (a *applier) retirePlan(u directory.User) []step {
	return []step{
		{"user", func() error {
			if !a.scope.settings.ProcessesDeletions() {
				return nil
			}
			return a.trashUser(u, "no longer in the source (looked up by its id); moved to the trash")
		}},
		{"changes", a.changes.flush},
	}
}
