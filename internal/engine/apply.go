package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

// applier plans and applies one run inside one transaction.
type applier struct {
	ctx   context.Context
	tx    store.Tx
	src   directory.Source
	run   *directory.Run
	now   time.Time
	batch int
	// keep holds every change in memory instead of writing it, for a dry
	// run whose transaction is rolled back.
	keep    bool
	kept    []directory.Change
	pending []directory.Change
	events  []directory.Event
	// scope is the source's scope rules and import options.
	scope *scoper
	// allowDeletes lifts the deletion limit for this run.
	allowDeletes bool
	// held counts the objects the directory held from the source before
	// the run, as the apply meets them: the base of the deletion limit.
	held int
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

// applyFull reconciles the directory with a staged snapshot of the whole
// source and saves cursor (when the source has one) with it.
func (a *applier) applyFull(cursor string) error {
	return runSteps([]step{
		{"groups", a.applyGroups},
		{"users", a.applyUsers},
		{"guard", a.guardEmptySource},
		{"removed users", a.retireUsers},
		{"removed groups", a.retireGroups},
		{"deletion limit", a.checkThreshold},
		{"memberships", a.applyMemberships},
		{"changes", a.flushChanges},
		{"cursor", func() error { return a.saveCursor(cursor) }},
	})
}

// saveCursor keeps the source's cursor in the same transaction as the
// changes it covers: a crash at any point repeats at most the last round.
func (a *applier) saveCursor(cursor string) error {
	if a.keep {
		return nil
	}
	return a.tx.SetSourceState(a.ctx, a.src.ID, cursor)
}

func (a *applier) record(c directory.Change) error {
	c.RunID = a.run.ID
	if a.keep {
		a.kept = append(a.kept, c)
		return nil
	}
	a.pending = append(a.pending, c)
	if e, ok := a.eventFor(c); ok {
		a.events = append(a.events, e)
	}
	if len(a.pending) >= a.batch {
		return a.flushChanges()
	}
	return nil
}

// flushChanges writes the pending changes and their events: in the same
// transaction as the changes themselves, so no change is ever without its
// event, nor an event without its change.
func (a *applier) flushChanges() error {
	if len(a.pending) > 0 {
		if err := a.tx.AddChanges(a.ctx, a.run.ID, a.pending); err != nil {
			return err
		}
		a.pending = a.pending[:0]
	}
	if len(a.events) > 0 {
		if err := a.tx.AppendEvents(a.ctx, a.events); err != nil {
			return err
		}
		a.events = a.events[:0]
	}
	return nil
}

// guardEmptySource stops a run whose source suddenly reports no users while
// the directory holds users from it: an outage, a revoked permission or a
// wrong filter looks exactly like that, and must never read as "everyone left".
func (a *applier) guardEmptySource() error {
	if a.run.SourceUsers > 0 {
		return nil
	}
	left, err := a.tx.UnstagedUsers(a.ctx, a.src.ID, a.run.ID, "", 1000)
	if err != nil {
		return err
	}
	n := 0
	for _, u := range left {
		if u.State != directory.StateTrash {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%w: source %s returned no users while the directory holds %s from it; nothing was applied (check the source's permissions and filters)",
		ErrStopped, a.src.Name, plural(n, "user"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if n >= 1000 {
		return fmt.Sprintf("at least %d %ss", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (a *applier) link(id string) directory.SourceLink {
	return directory.SourceLink{SourceID: a.src.ID, Source: a.src.Name, ExternalID: id}
}

// --- users -----------------------------------------------------------------

func (a *applier) applyUsers() error {
	after := ""
	for {
		page, err := a.tx.StagedUsers(a.ctx, a.run.ID, after, a.batch)
		if err != nil {
			return err
		}
		for _, su := range page {
			if err := a.applyUser(su); err != nil {
				return fmt.Errorf("user %s (%s): %w", su.Username, su.ExternalID, err)
			}
		}
		if len(page) < a.batch {
			return nil
		}
		after = page[len(page)-1].ExternalID
	}
}

func (a *applier) applyUser(su directory.SourceUser) error {
	su, in, err := a.admit(su)
	if err != nil || !in {
		return err
	}
	u, err := a.tx.UserByLink(a.ctx, a.src.ID, su.ExternalID)
	if err == nil {
		return a.updateUser(u, su)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// Not linked yet: meet a user the account already has, by username
	// then by email, so turning sync on over existing users makes no duplicates.
	match, err := a.matchUser(su)
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
	if holder, field, err := a.collision("", su.UserAttributes); err != nil {
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
	a.run.Counts.Created++
	return a.record(directory.Change{ObjectKind: directory.MemberUser, ObjectID: nu.ID, ExternalID: su.ExternalID,
		Name: su.Username, Action: directory.ActionCreated, Attributes: directory.DiffUsers(directory.UserAttributes{}, su.UserAttributes)})
}

func (a *applier) matchUser(su directory.SourceUser) (*directory.User, error) {
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
			return &u, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return nil, nil
}

// collision finds a user other than self that holds attrs' username or email.
func (a *applier) collision(self string, attrs directory.UserAttributes) (*directory.User, string, error) {
	u, err := a.tx.UserByUsername(a.ctx, a.src.AccountID, attrs.Username)
	if err == nil && u.ID != self {
		return &u, "username", nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	if attrs.Email == "" {
		return nil, "", nil
	}
	u, err = a.tx.UserByEmail(a.ctx, a.src.AccountID, attrs.Email)
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
	if !restoring && len(u.Sources) > 0 {
		a.held++
	}
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
	if len(diff) > 0 {
		if holder, field, err := a.collision(u.ID, su.UserAttributes); err != nil {
			return err
		} else if holder != nil {
			return a.conflict(su, *holder, field)
		}
	}
	u.UserAttributes = su.UserAttributes
	u.Enabled = su.Enabled
	u.State = directory.StateFor(su.Enabled)
	u.TrashedAt = time.Time{}
	if err := a.tx.UpdateUser(a.ctx, u); err != nil {
		return err
	}
	base := directory.Change{ObjectKind: directory.MemberUser, ObjectID: u.ID, ExternalID: su.ExternalID, Name: su.Username}
	var changes []directory.Change
	switch {
	case restoring:
		a.run.Counts.Restored++
		c := base
		c.Action, c.Attributes = directory.ActionRestored, diff
		changes = append(changes, c)
	case len(diff) > 0:
		a.run.Counts.Updated++
		c := base
		c.Action, c.Attributes = directory.ActionUpdated, diff
		changes = append(changes, c)
	}
	if enabling {
		c := base
		if su.Enabled {
			a.run.Counts.Enabled++
			c.Action = directory.ActionEnabled
		} else {
			a.run.Counts.Disabled++
			c.Action = directory.ActionDisabled
		}
		changes = append(changes, c)
	}
	for _, c := range changes {
		if err := a.record(c); err != nil {
			return err
		}
	}
	return nil
}

// retireUsers moves to the trash every user of the source that the source no
// longer reports. The trash keeps them, restorable with the same id.
func (a *applier) retireUsers() error {
	if !a.scope.settings.ProcessesDeletions() {
		return nil
	}
	after := ""
	for {
		page, err := a.tx.UnstagedUsers(a.ctx, a.src.ID, a.run.ID, after, a.batch)
		if err != nil {
			return err
		}
		for _, u := range page {
			if err := a.trashUser(u, "no longer in the source; moved to the trash"); err != nil {
				return err
			}
		}
		if len(page) < a.batch {
			return nil
		}
		after = page[len(page)-1].ID
	}
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

func (a *applier) applyGroups() error {
	after := ""
	for {
		page, err := a.tx.StagedGroups(a.ctx, a.run.ID, after, a.batch)
		if err != nil {
			return err
		}
		for _, sg := range page {
			if err := a.applyGroup(sg); err != nil {
				return fmt.Errorf("group %s (%s): %w", sg.Name, sg.ExternalID, err)
			}
		}
		if len(page) < a.batch {
			return nil
		}
		after = page[len(page)-1].ExternalID
	}
}

func (a *applier) applyGroup(sg directory.SourceGroup) error {
	g, err := a.tx.GroupByLink(a.ctx, a.src.ID, sg.ExternalID)
	if !a.groupInScope(sg.ExternalID) {
		if err == nil && a.scope.settings.ProcessesDeletions() {
			return a.trashGroup(g, "out of scope (not a selected group); moved to the trash")
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	}
	if err == nil {
		return a.updateGroup(g, sg)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// A local group of the same name that no source manages is adopted.
	if local, err := a.tx.GroupByName(a.ctx, a.src.AccountID, sg.Name); err == nil && len(local.Sources) == 0 {
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
	return a.record(directory.Change{ObjectKind: directory.MemberGroup, ObjectID: ng.ID, ExternalID: sg.ExternalID,
		Name: sg.Name, Action: directory.ActionCreated, Attributes: directory.DiffGroups(directory.GroupAttributes{}, sg.GroupAttributes)})
}

func (a *applier) updateGroup(g directory.Group, sg directory.SourceGroup) error {
	diff := directory.DiffGroups(g.GroupAttributes, sg.GroupAttributes)
	restoring := g.State == directory.StateTrash
	if !restoring && len(g.Sources) > 0 {
		a.held++
	}
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
	return a.record(directory.Change{ObjectKind: directory.MemberGroup, ObjectID: g.ID, ExternalID: sg.ExternalID,
		Name: sg.Name, Action: action, Attributes: diff})
}

func (a *applier) retireGroups() error {
	if !a.scope.settings.ProcessesDeletions() {
		return nil
	}
	after := ""
	for {
		page, err := a.tx.UnstagedGroups(a.ctx, a.src.ID, a.run.ID, after, a.batch)
		if err != nil {
			return err
		}
		for _, g := range page {
			if err := a.trashGroup(g, "no longer in the source; moved to the trash"); err != nil {
				return err
			}
		}
		if len(page) < a.batch {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// --- memberships -----------------------------------------------------------

func (a *applier) applyMemberships() error {
	return a.tx.SyncMemberships(a.ctx, a.src.ID, a.scope.memberRun, func(added bool, page []store.Membership) error {
		action := directory.ActionMemberRemoved
		if added {
			action = directory.ActionMemberAdded
			a.run.Counts.MembersAdded += len(page)
		} else {
			a.run.Counts.MembersRemoved += len(page)
		}
		for _, m := range page {
			if err := a.record(directory.Change{ObjectKind: directory.MemberGroup, ObjectID: m.GroupID, Name: m.GroupName,
				Action: action, Member: &directory.Member{Kind: m.MemberKind, ID: m.MemberID, Name: m.MemberName},
				Detail: fmt.Sprintf("%s %s (%s)", m.MemberKind, m.MemberName, m.MemberID)}); err != nil {
				return err
			}
		}
		return nil
	})
}

// trashUser moves a user to the trash, where it stays restorable with its id
// and local data until the account's retention purges it.
func (a *applier) trashUser(u directory.User, detail string) error {
	if u.State == directory.StateTrash {
		return nil
	}
	a.held++
	u.State, u.TrashedAt = directory.StateTrash, a.now
	if err := a.tx.UpdateUser(a.ctx, u); err != nil {
		return err
	}
	// Its memberships end with it, as a full run's membership sync would end
	// them; a restore brings back what the source then reports.
	ms, err := a.tx.MembershipsOf(a.ctx, a.src.ID, directory.MemberUser, u.ID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		m.MemberName = u.Username
		if err := a.memberChange(m, false); err != nil {
			return err
		}
	}
	a.run.Counts.Deleted++
	return a.record(directory.Change{ObjectKind: directory.MemberUser, ObjectID: u.ID, ExternalID: externalID(u.Sources, a.src.ID),
		Name: u.Username, Action: directory.ActionDeleted, Detail: detail})
}

func (a *applier) trashGroup(g directory.Group, detail string) error {
	if g.State == directory.StateTrash {
		return nil
	}
	a.held++
	g.State, g.TrashedAt = directory.StateTrash, a.now
	if err := a.tx.UpdateGroup(a.ctx, g); err != nil {
		return err
	}
	// Its place in other groups and its own members end with it.
	in, err := a.tx.MembershipsOf(a.ctx, a.src.ID, directory.MemberGroup, g.ID)
	if err != nil {
		return err
	}
	own, err := a.tx.MembersOwned(a.ctx, a.src.ID, g.ID)
	if err != nil {
		return err
	}
	for _, m := range append(in, own...) {
		if m.MemberID == g.ID {
			m.MemberName = g.Name
		}
		if err := a.memberChange(m, false); err != nil {
			return err
		}
	}
	a.run.Counts.Deleted++
	return a.record(directory.Change{ObjectKind: directory.MemberGroup, ObjectID: g.ID, ExternalID: externalID(g.Sources, a.src.ID),
		Name: g.Name, Action: directory.ActionDeleted, Detail: detail})
}
