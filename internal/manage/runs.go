package manage

import (
	"context"
	"errors"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Limits of listings.
const (
	DefaultRunLimit = 50
	MaxLimit        = 1000
)

func checkLimit(limit, def int) (int, error) {
	switch {
	case limit == 0:
		return def, nil
	case limit < 0 || limit > MaxLimit:
		return 0, invalid("limit", "limit must be a whole number from 1 to %d", MaxLimit)
	}
	return limit, nil
}

// Runs lists runs newest first: the source's (by name or id), or the
// account's when source is empty; limit 0 means DefaultRunLimit.
func (m *Manager) Runs(ctx context.Context, actor Actor, source string, limit int) ([]directory.Run, error) {
	if err := actor.require(ActRead); err != nil {
		return nil, err
	}
	limit, err := checkLimit(limit, DefaultRunLimit)
	if err != nil {
		return nil, err
	}
	sourceID := ""
	if source != "" {
		src, err := m.findSource(ctx, m.d.Store, actor, source)
		if err != nil {
			return nil, err
		}
		sourceID = src.ID
	}
	runs, err := m.d.Store.Runs(ctx, actor.AccountID, sourceID, limit)
	if runs == nil {
		runs = []directory.Run{}
	}
	return runs, err
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

// Changes lists a run's changes in order, after the change numbered after;
// limit 0 means all.
func (m *Manager) Changes(ctx context.Context, actor Actor, runID string, after, limit int) ([]directory.Change, error) {
	run, err := m.Run(ctx, actor, runID)
	if err != nil {
		return nil, err
	}
	if after < 0 {
		return nil, invalid("after", "after must be a change's number")
	}
	if limit < 0 || limit > MaxLimit && limit != 0 {
		return nil, invalid("limit", "limit must be a whole number from 1 to %d", MaxLimit)
	}
	cs, err := m.d.Store.Changes(ctx, run.ID, after, limit)
	if cs == nil {
		cs = []directory.Change{}
	}
	return cs, err
}
