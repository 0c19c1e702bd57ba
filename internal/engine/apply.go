package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

// applier plans and applies one run inside one transaction. Every kind of
// run goes through it: a plan is a list of its steps.
type applier struct {
	ctx     context.Context
	tx      store.Tx
	src     directory.Source
	run     *directory.Run
	now     time.Time
	batch   int
	scope   *scoper
	changes *changeLog
	// rejects are the objects the read refused for their size: recorded
	// as skipped, and never retired for their absence.
	rejects *rejections
	// held is what the directory held from the source when the run
	// began, counted once (heldCount): the base of the deletion limit and
	// of the empty-source guard.
	heldUsers, heldGroups int
	// limited is false for runs the deletion limit does not apply to (a
	// confirmed run, a single-user run).
	limited bool
	// stop is why the plan must not be applied: the deletion limit.
	stop error
}

func (j *job) newApplier(ctx context.Context, tx store.Tx, sc *scoper) (*applier, error) {
	a := &applier{ctx: ctx, tx: tx, src: j.src, run: &j.run, now: j.e.now(), batch: j.e.batch(), scope: sc, rejects: j.rejects,
		limited: !j.opts.AllowDeletes && j.run.Kind != directory.RunSingle}
	a.changes = &changeLog{ctx: ctx, tx: tx, runID: j.run.ID, batch: a.batch, eventFor: a.eventFor, keep: j.opts.DryRun}
	var err error
	if j.held != nil {
		a.heldUsers, a.heldGroups, err = j.held.wait(ctx)
	} else {
		a.heldUsers, a.heldGroups, err = tx.CountLinked(ctx, j.src.ID)
	}
	return a, err
}

// heldCount counts what the directory holds from the source as the run
// begins, beside its read: a count of the whole source (a third of a
// second at 100,000 users) that the apply's transaction, which every
// other writer waits for, then need not make.
type heldCount struct {
	done          chan struct{}
	users, groups int
	err           error
}

// countHeld starts counting what the directory holds from the source.
func (j *job) countHeld(ctx context.Context) {
	h := &heldCount{done: make(chan struct{})}
	go func() {
		defer close(h.done)
		h.users, h.groups, h.err = j.e.Store.CountLinked(ctx, j.src.ID)
		if h.err != nil {
			h.err = fmt.Errorf("engine: count what the source holds: %w", h.err)
		}
	}()
	j.held = h
}

func (h *heldCount) wait(ctx context.Context) (users, groups int, err error) {
	select {
	case <-h.done:
		return h.users, h.groups, h.err
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

// step is one named part of an apply, so an error says where it happened.
type step struct {
	name string
	fn   func() error
}

func runSteps(steps []step) error {
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("apply %s: %w", s.name, err)
		}
	}
	return nil
}

// fullPlan reconciles the directory with a staged snapshot of the whole
// source and saves the source's state (its cursor, when it has one) with it.
func (a *applier) fullPlan(state sourceState) []step {
	return []step{
		{"refused objects", a.recordRejections},
		{"groups", a.applyStagedGroups},
		{"prepared users", a.applyPrepared},
		{"users", a.applyStagedUsers},
		{"guard", a.guardEmptySource},
		{"removed users", a.retireUsers},
		{"removed groups", a.retireGroups},
		{"memberships", func() error { return a.syncMembers(store.Reach{}) }},
		{"deletion limit", a.checkLimit},
		{"changes", a.changes.flush},
		{"cursor", func() error { return a.saveState(state) }},
	}
}

// saveState keeps the source's cursor in the same transaction as the
// changes it covers: a crash at any point repeats at most the last round.
func (a *applier) saveState(state sourceState) error {
	if a.changes.keep {
		return nil
	}
	return a.tx.SetSourceState(a.ctx, a.src.ID, state.String())
}

// eachPage pages through a listing ordered by key until a short page,
// calling each for every item: memory holds one page, however large the
// source.
func eachPage[T any](size int, list func(after string, limit int) ([]T, error), key func(T) string, each func(T) error) error {
	after := ""
	for {
		page, err := list(after, size)
		if err != nil {
			return err
		}
		for _, v := range page {
			if err := each(v); err != nil {
				return err
			}
		}
		if len(page) < size {
			return nil
		}
		after = key(page[len(page)-1])
	}
}

// guardEmptySource stops a run whose source suddenly reports no users while
// the directory holds users from it: an outage, a revoked permission or a
// wrong filter looks exactly like that, and must never read as "everyone left".
func (a *applier) guardEmptySource() error {
	if a.run.SourceUsers > 0 || a.heldUsers == 0 {
		return nil
	}
	return fmt.Errorf("%w: source %s returned no users while the directory holds %s from it; nothing was applied (check the source's permissions and filters)",
		ErrStopped, a.src.Name, plural(a.heldUsers, "user"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (a *applier) link(id string) directory.SourceLink {
	return directory.SourceLink{SourceID: a.src.ID, Source: a.src.Name, ExternalID: id}
}

func (a *applier) record(c directory.Change) error { return a.changes.add(c) }

// --- users -----------------------------------------------------------------

func (a *applier) applyStagedUsers() error {
	after := ""
	for {
		page, err := a.tx.StagedUsers(a.ctx, a.run.ID, after, a.batch)
		if err != nil {
			return err
		}
		if err := a.applyUserPage(page); err != nil {
			return err
		}
		if len(page) < a.batch {
			return nil
		}
		after = page[len(page)-1].ExternalID
	}
}

// applyUserPage applies a page of source users: those nothing in the
// directory meets (no link, no user holding their username or email: every
// user of a first sync) are created together, in a few statements; the
// others go one by one, after them, through applyAdmitted.
func (a *applier) applyUserPage(page []directory.SourceUser) error {
	admitted := make([]directory.SourceUser, 0, len(page))
	for _, su := range page {
		shaped, in, err := a.admit(su)
		if err != nil {
			return fmt.Errorf("user %s (%s): %w", su.Username, su.ExternalID, err)
		}
		if in {
			admitted = append(admitted, shaped)
		}
	}
	free, err := a.tx.FreeUsers(a.ctx, a.src.AccountID, a.src.ID, admitted)
	if err != nil {
		return err
	}
	var fresh []*directory.User
	var exts []string
	for i, su := range admitted {
		if free[i] {
			fresh = append(fresh, &directory.User{AccountID: a.src.AccountID, UserAttributes: su.UserAttributes, Enabled: su.Enabled,
				State: directory.StateFor(su.Enabled), Tags: a.scope.settings.ApplyTags(nil)})
			exts = append(exts, su.ExternalID)
		}
	}
	if err := a.tx.CreateLinkedUsers(a.ctx, a.src.ID, fresh, exts); err != nil {
		return err
	}
	for i, nu := range fresh {
		if err := a.created(*nu, exts[i]); err != nil {
			return err
		}
	}
	for i, su := range admitted {
		if free[i] {
			continue
		}
		if err := a.applyAdmitted(su); err != nil {
			return fmt.Errorf("user %s (%s): %w", su.Username, su.ExternalID, err)
		}
	}
	return nil
}

// applyUser brings one source user into the directory, as the scope rules
// and import options say: created, matched, updated, or out of scope.
func (a *applier) applyUser(su directory.SourceUser) error {
	if err := a.applyUserIn(su); err != nil {
		return fmt.Errorf("user %s (%s): %w", su.Username, su.ExternalID, err)
	}
	return nil
}

func (a *applier) applyUserIn(su directory.SourceUser) error {
	su, in, err := a.admit(su)
	if err != nil || !in {
		return err
	}
	return a.applyAdmitted(su)
}

// applyLinked applies a source user to u, the user its link already
// leads to (an incremental run looked it up to lay a patch over it).
func (a *applier) applyLinked(u directory.User, su directory.SourceUser) error {
	shaped, in, err := a.admit(su)
	if err == nil && in {
		err = a.updateUser(u, shaped)
	}
	if err != nil {
		return fmt.Errorf("user %s (%s): %w", su.Username, su.ExternalID, err)
	}
	return nil
}

// applyAdmitted applies a source user the scope admitted (as admit shaped it).
func (a *applier) applyAdmitted(su directory.SourceUser) error {
	u, err := a.tx.UserByLink(a.ctx, a.src.ID, su.ExternalID)
	if err == nil {
		return a.updateUser(u, su)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// Not linked yet: meet a user the account already has, by username
	// then by email, so turning sync on over existing users makes no duplicates.
	match, missed, err := a.matchUser(su)
	if err != nil {
		return err
	}
	if match != nil {
		if len(match.Sources) > 0 {
			return a.conflict(su, *match, "username or email")
		}
		if err := a.tx.Link(a.ctx, directory.MemberUser, match.ID, a.link(su.ExternalID)); err != nil {
			return err
		}
		return a.updateUser(*match, su)
	}
	return a.createUser(su, missed)
}

// createUser creates a user for su. missed are the lookups matchUser made
// and found nobody by, which the collision check need not repeat: a first
// sync creates every user, and each lookup saved is one per user.
func (a *applier) createUser(su directory.SourceUser, missed probes) error {
	if holder, field, err := a.collision("", su.UserAttributes, missed); err != nil {
		return err
	} else if holder != nil {
		return a.conflict(su, *holder, field)
	}
	nu := directory.User{
		AccountID:      a.src.AccountID,
		UserAttributes: su.UserAttributes,
		Enabled:        su.Enabled,
		State:          directory.StateFor(su.Enabled),
		Tags:           a.scope.settings.ApplyTags(nil),
	}
	if err := a.tx.CreateUser(a.ctx, &nu); err != nil {
		return err
	}
	if err := a.tx.Link(a.ctx, directory.MemberUser, nu.ID, a.link(su.ExternalID)); err != nil {
		return err
	}
	return a.created(nu, su.ExternalID)
}

// created counts and records a user the run created for a source object.
func (a *applier) created(nu directory.User, externalID string) error {
	a.run.Counts.Created++
	nu.Sources = []directory.SourceLink{a.link(externalID)}
	c, err := a.withObject(createdChange(nu, externalID), nu)
	if err != nil {
		return err
	}
	return a.record(c)
}

// createdChange is the change that records a user created for a source
// object (its state after, Object, aside).
func createdChange(nu directory.User, externalID string) directory.Change {
	return directory.Change{ObjectKind: directory.MemberUser, ObjectID: nu.ID, ExternalID: externalID,
		Name: nu.Username, Action: directory.ActionCreated, Attributes: directory.DiffUsers(directory.UserAttributes{}, nu.UserAttributes)}
}

// applyPrepared creates the users the run prepared while it read the
// source (prepare.go) that are still free, after the changes recorded so
// far; the users step then meets only the others.
func (a *applier) applyPrepared() error {
	if a.changes.keep {
		return nil // a plan kept in memory prepares nothing
	}
	if err := a.changes.flush(); err != nil {
		return err
	}
	n, err := a.tx.ApplyPreparedUsers(a.ctx, a.src.ID,
		store.MemberLog{RunID: a.run.ID, AccountID: a.src.AccountID, SourceName: a.src.Name, Time: a.now})
	a.run.Counts.Created += n
	return err
}

// probes says which of a user's unique attributes a lookup found held by nobody.
type probes struct{ username, email bool }

// matchUser finds the user su meets by the source's matching attributes,
// in their order, and says which lookups found nobody.
func (a *applier) matchUser(su directory.SourceUser) (*directory.User, probes, error) {
	var missed probes
	for _, attr := range a.scope.settings.Matching() {
		by := func() (directory.User, error) { return a.tx.UserByUsername(a.ctx, a.src.AccountID, su.Username) }
		if attr == scope.MatchEmail {
			by = func() (directory.User, error) {
				if su.Email == "" {
					return directory.User{}, store.ErrNotFound
				}
				return a.tx.UserByEmail(a.ctx, a.src.AccountID, su.Email)
			}
		}
		u, err := by()
		if err == nil {
			return &u, missed, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, missed, err
		}
		if attr == scope.MatchEmail {
			missed.email = true
		} else {
			missed.username = true
		}
	}
	return nil, missed, nil
}

// collision finds a user other than self that holds attrs' username or
// email; missed are the lookups already made for attrs that found nobody.
func (a *applier) collision(self string, attrs directory.UserAttributes, missed probes) (*directory.User, string, error) {
	if !missed.username {
		u, err := a.tx.UserByUsername(a.ctx, a.src.AccountID, attrs.Username)
		if err == nil && u.ID != self {
			return &u, "username", nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, "", err
		}
	}
	if attrs.Email == "" || missed.email {
		return nil, "", nil
	}
	u, err := a.tx.UserByEmail(a.ctx, a.src.AccountID, attrs.Email)
	if err == nil && u.ID != self {
		return &u, "email", nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	return nil, "", nil
}

// conflict quarantines an incoming user whose username or email another
// user holds: the holder is left untouched, and the run reports both sides.
func (a *applier) conflict(su directory.SourceUser, holder directory.User, field string) error {
	owner := "a local user"
	if len(holder.Sources) > 0 {
		owner = fmt.Sprintf("a user from source %s (%s)", holder.Sources[0].Source, holder.Sources[0].ExternalID)
	}
	a.run.Counts.Conflicts++
	return a.record(directory.Change{ObjectKind: directory.MemberUser, ObjectID: holder.ID, ExternalID: su.ExternalID,
		Name: su.Username, Action: directory.ActionConflict,
		Detail: fmt.Sprintf("%s already held by %s, user %s (%s); incoming object quarantined", field, owner, holder.ID, holder.Username)})
}

func (a *applier) updateUser(u directory.User, su directory.SourceUser) error {
	restoring := u.State == directory.StateTrash
	if !a.scope.settings.UpdatesExisting() && len(u.Sources) > 0 {
		// One-time imports create who is missing and touch nobody else.
		a.run.Counts.Unchanged++
		return nil
	}
	diff := directory.DiffUsers(u.UserAttributes, su.UserAttributes)
	tags := a.scope.settings.ApplyTags(u.Tags)
	if !slices.Equal(tags, u.Tags) && !(len(tags) == 0 && len(u.Tags) == 0) {
		diff = append(diff, directory.AttrChange{Attribute: "tags", Before: u.Tags, After: tags})
		u.Tags = tags
	}
	enabling := u.Enabled != su.Enabled
	if len(diff) == 0 && !restoring && !enabling {
		a.run.Counts.Unchanged++
		return nil
	}
	if keysChange(u.UserAttributes, su.UserAttributes) {
		if holder, field, err := a.collision(u.ID, su.UserAttributes, probes{}); err != nil {
			return err
		} else if holder != nil {
			return a.conflict(su, *holder, field)
		}
	}
	u.UserAttributes, u.Enabled, u.State, u.TrashedAt = su.UserAttributes, su.Enabled, directory.StateFor(su.Enabled), time.Time{}
	if err := a.tx.UpdateUser(a.ctx, u); err != nil {
		return err
	}
	base, err := a.withStoredObject(directory.Change{ObjectKind: directory.MemberUser, ObjectID: u.ID, ExternalID: su.ExternalID, Name: su.Username})
	if err != nil {
		return err
	}
	switch {
	case restoring:
		a.run.Counts.Restored++
		if err := a.record(withAction(base, directory.ActionRestored, diff)); err != nil {
			return err
		}
	case len(diff) > 0:
		a.run.Counts.Updated++
		if err := a.record(withAction(base, directory.ActionUpdated, diff)); err != nil {
			return err
		}
	}
	switch {
	case enabling && su.Enabled:
		a.run.Counts.Enabled++
		return a.record(withAction(base, directory.ActionEnabled, nil))
	case enabling:
		if err := a.removal(&a.run.Counts.Disabled); err != nil {
			return err
		}
		return a.record(withAction(base, directory.ActionDisabled, nil))
	}
	return nil
}

// keysChange reports whether next gives a user another username or email
// as the store matches them (case-insensitively). Only then may another
// user hold them: the store keeps both unique, so a user keeping its own
// collides with nobody, and an update of other attributes (most of a
// delta's) looks nobody up.
func keysChange(cur, next directory.UserAttributes) bool {
	return strings.ToLower(cur.Username) != strings.ToLower(next.Username) || strings.ToLower(cur.Email) != strings.ToLower(next.Email)
}

func withAction(c directory.Change, action directory.ChangeAction, attrs []directory.AttrChange) directory.Change {
	c.Action, c.Attributes = action, attrs
	return c
}

// retireUsers moves to the trash every user of the source that the source no
// longer reports. The trash keeps them, restorable with the same id.
func (a *applier) retireUsers() error {
	if !a.scope.settings.ProcessesDeletions() {
		return nil
	}
	return eachPage(a.batch, func(after string, limit int) ([]directory.User, error) {
		return a.tx.UnstagedUsers(a.ctx, a.src.ID, a.run.ID, after, limit)
	}, func(u directory.User) string { return u.ID }, func(u directory.User) error {
		if a.rejects.rejected(directory.MemberUser, u.Sources, a.src.ID) {
			return nil // the source has it, oversized: the directory keeps what it had
		}
		return a.trashUser(u, "no longer in the source; moved to the trash")
	})
}

func externalID(links []directory.SourceLink, sourceID string) string {
	for _, l := range links {
		if l.SourceID == sourceID {
			return l.ExternalID
		}
	}
	return ""
}

// --- groups ----------------------------------------------------------------

func (a *applier) applyStagedGroups() error {
	return eachPage(a.batch, func(after string, limit int) ([]directory.SourceGroup, error) {
		return a.tx.StagedGroups(a.ctx, a.run.ID, after, limit)
	}, func(g directory.SourceGroup) string { return g.ExternalID }, a.applyGroup)
}

// applyGroup brings one source group into the directory: created,
// adopted, updated, or (out of the group filter's reach) to the trash.
func (a *applier) applyGroup(sg directory.SourceGroup) error {
	if err := a.applyGroupIn(sg); err != nil {
		return fmt.Errorf("group %s (%s): %w", sg.Name, sg.ExternalID, err)
	}
	return nil
}

func (a *applier) applyGroupIn(sg directory.SourceGroup) error {
	g, err := a.tx.GroupByLink(a.ctx, a.src.ID, sg.ExternalID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	found := err == nil
	switch {
	case found:
		return a.applyLinkedGroupIn(g, sg)
	case !a.scope.groupInScope(sg.ExternalID):
		return nil
	}
	// A local group of the same name that no source manages is adopted.
	local, err := a.tx.GroupByName(a.ctx, a.src.AccountID, sg.Name)
	if err == nil && len(local.Sources) == 0 {
		if err := a.tx.Link(a.ctx, directory.MemberGroup, local.ID, a.link(sg.ExternalID)); err != nil {
			return err
		}
		return a.updateGroup(local, sg)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ng := directory.Group{AccountID: a.src.AccountID, GroupAttributes: sg.GroupAttributes, State: directory.StateActive}
	if err := a.tx.CreateGroup(a.ctx, &ng); err != nil {
		return err
	}
	if err := a.tx.Link(a.ctx, directory.MemberGroup, ng.ID, a.link(sg.ExternalID)); err != nil {
		return err
	}
	a.run.Counts.Created++
	ng.Sources = []directory.SourceLink{a.link(sg.ExternalID)}
	c, err := a.withObject(directory.Change{ObjectKind: directory.MemberGroup, ObjectID: ng.ID, ExternalID: sg.ExternalID,
		Name: sg.Name, Action: directory.ActionCreated, Attributes: directory.DiffGroups(directory.GroupAttributes{}, sg.GroupAttributes)}, ng)
	if err != nil {
		return err
	}
	return a.record(c)
}

// applyLinkedGroup applies a source group to g, the group its link
// already leads to.
func (a *applier) applyLinkedGroup(g directory.Group, sg directory.SourceGroup) error {
	if err := a.applyLinkedGroupIn(g, sg); err != nil {
		return fmt.Errorf("group %s (%s): %w", sg.Name, sg.ExternalID, err)
	}
	return nil
}

func (a *applier) applyLinkedGroupIn(g directory.Group, sg directory.SourceGroup) error {
	if !a.scope.groupInScope(sg.ExternalID) {
		if a.scope.settings.ProcessesDeletions() {
			return a.trashGroup(g, "out of scope (not a selected group); moved to the trash")
		}
		return nil
	}
	return a.updateGroup(g, sg)
}

func (a *applier) updateGroup(g directory.Group, sg directory.SourceGroup) error {
	diff := directory.DiffGroups(g.GroupAttributes, sg.GroupAttributes)
	restoring := g.State == directory.StateTrash
	if len(diff) == 0 && !restoring {
		a.run.Counts.Unchanged++
		return nil
	}
	g.GroupAttributes, g.State, g.TrashedAt = sg.GroupAttributes, directory.StateActive, time.Time{}
	if err := a.tx.UpdateGroup(a.ctx, g); err != nil {
		return err
	}
	action := directory.ActionUpdated
	if restoring {
		action = directory.ActionRestored
		a.run.Counts.Restored++
	} else {
		a.run.Counts.Updated++
	}
	return a.recordStored(directory.Change{ObjectKind: directory.MemberGroup, ObjectID: g.ID, ExternalID: sg.ExternalID,
		Name: sg.Name, Action: action, Attributes: diff})
}

func (a *applier) retireGroups() error {
	if !a.scope.settings.ProcessesDeletions() {
		return nil
	}
	return eachPage(a.batch, func(after string, limit int) ([]directory.Group, error) {
		return a.tx.UnstagedGroups(a.ctx, a.src.ID, a.run.ID, after, limit)
	}, func(g directory.Group) string { return g.ID }, func(g directory.Group) error {
		if a.rejects.rejected(directory.MemberGroup, g.Sources, a.src.ID) {
			return nil
		}
		return a.trashGroup(g, "no longer in the source; moved to the trash")
	})
}

// --- the trash -------------------------------------------------------------

// trashUser moves a user to the trash, where it stays restorable with its id
// and local data until the account's retention purges it. Its memberships
// end first: an object in the trash is in no group.
func (a *applier) trashUser(u directory.User, detail string) error {
	if u.State == directory.StateTrash {
		return nil
	}
	ms, err := a.tx.MembershipsOf(a.ctx, a.src.ID, directory.MemberUser, u.ID)
	if err != nil {
		return err
	}
	for i := range ms {
		ms[i].MemberName = u.Username
	}
	if err := a.endMemberships(ms); err != nil {
		return err
	}
	u.State, u.TrashedAt = directory.StateTrash, a.now
	if err := a.tx.UpdateUser(a.ctx, u); err != nil {
		return err
	}
	if err := a.removal(&a.run.Counts.Deleted); err != nil {
		return err
	}
	return a.recordStored(directory.Change{ObjectKind: directory.MemberUser, ObjectID: u.ID, ExternalID: externalID(u.Sources, a.src.ID),
		Name: u.Username, Action: directory.ActionDeleted, Detail: detail})
}

// trashGroup moves a group to the trash; its place in other groups and
// its own members end with it.
func (a *applier) trashGroup(g directory.Group, detail string) error {
	if g.State == directory.StateTrash {
		return nil
	}
	in, err := a.tx.MembershipsOf(a.ctx, a.src.ID, directory.MemberGroup, g.ID)
	if err != nil {
		return err
	}
	own, err := a.tx.MembersOwned(a.ctx, a.src.ID, g.ID)
	if err != nil {
		return err
	}
	ms := append(in, own...)
	for i := range ms {
		if ms[i].MemberID == g.ID {
			ms[i].MemberName = g.Name
		}
	}
	if err := a.endMemberships(ms); err != nil {
		return err
	}
	g.State, g.TrashedAt = directory.StateTrash, a.now
	if err := a.tx.UpdateGroup(a.ctx, g); err != nil {
		return err
	}
	if err := a.removal(&a.run.Counts.Deleted); err != nil {
		return err
	}
	return a.recordStored(directory.Change{ObjectKind: directory.MemberGroup, ObjectID: g.ID, ExternalID: externalID(g.Sources, a.src.ID),
		Name: g.Name, Action: directory.ActionDeleted, Detail: detail})
}
