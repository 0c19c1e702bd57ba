package manage

import (
	"context"
	"fmt"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Events lists the account's change feed in order, after the event
// numbered after (0 for the start of what is kept); limit 0 means 100.
func (m *Manager) Events(ctx context.Context, actor Actor, after int64, limit int) ([]directory.Event, error) {
	if err := actor.require(ActRead); err != nil {
		return nil, err
	}
	if after < 0 {
		return nil, invalid("after", "after must be the seq of an event")
	}
	limit, err := checkLimit(limit, 100)
	if err != nil {
		return nil, err
	}
	es, err := m.d.Store.Events(ctx, actor.AccountID, after, limit)
	if es == nil {
		es = []directory.Event{}
	}
	return es, err
}

// LastEventSeq is the seq of the account's newest event, 0 when none: where
// a reader that wants only what happens from now on starts.
func (m *Manager) LastEventSeq(ctx context.Context, actor Actor) (int64, error) {
	if err := actor.require(ActRead); err != nil {
		return 0, err
	}
	return m.d.Store.LastEventSeq(ctx, actor.AccountID)
}

// Pruned counts what Prune deleted.
type Pruned struct {
	Events, Deliveries, Trash, Mails int
	// Console counts ended console sessions, used or expired sign-in
	// links and stale failed sign-ins.
	Console int
}

// Prune deletes, in every account, the events, webhook delivery logs and
// mail log entries older than the event retention, and purges what
// outstayed the trash retention. The service calls it hourly.
func (m *Manager) Prune(ctx context.Context) (Pruned, error) {
	var p Pruned
	before := m.now().Add(-m.d.EventRetention)
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if p.Events, err = tx.PruneEvents(ctx, before); err != nil {
			return err
		}
		if p.Deliveries, err = tx.PruneDeliveries(ctx, before); err != nil {
			return err
		}
		if p.Mails, err = tx.PruneMail(ctx, before); err != nil {
			return err
		}
		if p.Trash, err = m.purgeAllExpired(ctx, tx); err != nil {
			return err
		}
		p.Console, err = tx.PruneConsole(ctx, m.now().Add(-time.Hour))
		return err
	})
	if err != nil {
		return p, fmt.Errorf("prune: %w", err)
	}
	return p, nil
}
