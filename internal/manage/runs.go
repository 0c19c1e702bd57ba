package manage

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// RunQuery filters and pages a run listing, newest first.
type RunQuery struct {
	Source string // a source's name or id; "" lists the account's runs
	After  string // the Next of the previous page
	Limit  int    // 0 means DefaultLimit
}

// Runs lists runs newest first: the source's, or the account's.
func (m *Manager) Runs(ctx context.Context, actor Actor, q RunQuery) (Page[directory.Run], error) {
	if err := actor.require(ActRead); err != nil {
		return Page[directory.Run]{}, err
	}
	sq := store.RunQuery{}
	var err error
	if sq.Limit, err = checkLimit(q.Limit, DefaultLimit); err != nil {
		return Page[directory.Run]{}, err
	}
	if sq.After, err = decodeCursor(listRuns, q.After); err != nil {
		return Page[directory.Run]{}, err
	}
	if q.Source != "" {
		src, err := m.findSource(ctx, m.d.Store, actor, q.Source)
		if KindOf(err) == NotFound {
			return Page[directory.Run]{}, invalid("source", "%s", AsError(err).Message).with(err)
		}
		if err != nil {
			return Page[directory.Run]{}, err
		}
		sq.SourceID = src.ID
	}
	page, err := m.d.Store.RunPage(ctx, actor.AccountID, sq)
	if err != nil {
		return Page[directory.Run]{}, err
	}
	return pageOf(listRuns, page.Items, page.Next), nil
}

// Run returns one run of the account.
func (m *Manager) Run(ctx context.Context, actor Actor, id string) (directory.Run, error) {
	if err := actor.require(ActRead); err != nil {
		return directory.Run{}, err
	}
	run, err := m.d.Store.Run(ctx, actor.AccountID, id)
	if errors.Is(err, store.ErrNotFound) {
		return run, notFound("account %s has no run %q", actor.AccountName, id).with(err)
	}
	return run, err
}

// ChangeQuery pages a run's changes, in the order the run made them.
type ChangeQuery struct {
	After string // the Next of the previous page
	Limit int    // 0 lists every change
}

// Changes lists a run's changes in order.
func (m *Manager) Changes(ctx context.Context, actor Actor, runID string, q ChangeQuery) (Page[directory.Change], error) {
	run, err := m.Run(ctx, actor, runID)
	if err != nil {
		return Page[directory.Change]{}, err
	}
	if q.Limit < 0 || q.Limit > MaxLimit {
		return Page[directory.Change]{}, invalid("limit", "limit must be a whole number from 1 to %d", MaxLimit)
	}
	limit := q.Limit
	pos, err := decodeCursor(listChanges, q.After)
	if err != nil {
		return Page[directory.Change]{}, err
	}
	after := 0
	if pos != "" {
		if after, err = strconv.Atoi(pos); err != nil || after < 0 {
			return Page[directory.Change]{}, invalid("after", "after is not a cursor this listing returned")
		}
	}
	ask := 0
	if limit > 0 {
		ask = limit + 1 // one more than the page tells whether another follows
	}
	cs, err := m.d.Store.Changes(ctx, run.ID, after, ask)
	if err != nil {
		return Page[directory.Change]{}, err
	}
	next := ""
	if limit > 0 && len(cs) > limit {
		cs = cs[:limit]
		next = strconv.Itoa(cs[limit-1].Seq)
	}
	return pageOf(listChanges, cs, next), nil
}

// UserChange is one change a sync applied about a user: to the user
// itself, or a membership of it added or removed (then Name is the
// group's), with the run's source and when the run applied it.
type UserChange struct {
	directory.Change
	SourceID  string    `json:"source_id"`
	Source    string    `json:"source"`
	AppliedAt time.Time `json:"applied_at"`
}

// UserHistoryQuery pages a user's change history, newest first.
type UserHistoryQuery struct {
	After string // the Next of the previous page
	Limit int    // 0 means DefaultLimit
}

// UserHistory lists what syncs changed about a user (by id, username or
// email), across every run of every source, newest first. Only applied
// runs count: previews (dry runs) and runs that failed or stopped
// changed nothing.
func (m *Manager) UserHistory(ctx context.Context, actor Actor, key string, q UserHistoryQuery) (directory.User, Page[UserChange], error) {
	u, err := m.User(ctx, actor, key)
	if err != nil {
		return u, Page[UserChange]{}, err
	}
	sq := store.UserChangeQuery{}
	if sq.Limit, err = checkLimit(q.Limit, DefaultLimit); err != nil {
		return u, Page[UserChange]{}, err
	}
	if sq.After, err = decodeCursor(listUserHist, q.After); err != nil {
		return u, Page[UserChange]{}, err
	}
	page, err := m.d.Store.UserChanges(ctx, actor.AccountID, u.ID, sq)
	if err != nil {
		return u, Page[UserChange]{}, cursorError(err)
	}
	out := make([]UserChange, len(page.Items))
	for i, c := range page.Items {
		out[i] = UserChange{Change: c.Change, SourceID: c.SourceID, Source: c.Source, AppliedAt: c.AppliedAt}
	}
	return u, pageOf(listUserHist, out, page.Next), nil
}
