package manage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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

// EventQuery pages the change feed, oldest first.
type EventQuery struct {
	After string // the Cursor of the previous page; "" starts at the oldest event kept
	Limit int    // 0 means DefaultLimit
}

// EventPage is a page of the change feed. The feed has no last page: the
// Cursor is where to go on from, at once when More, or by polling later.
type EventPage struct {
	Items  []directory.Event
	Cursor string
	// More says that more events wait now, after Cursor.
	More bool
}

// EventFeed reads a page of the account's change feed. A cursor that is
// older than the event retention (the events after it may have been
// pruned) or that this feed never gave is Gone: the reader must take a
// fresh snapshot (the export) and follow the feed from its cursor.
//
// A cursor holds the seq of the last event read and a time no later than
// that of the first event after it: the last event's time when more
// followed, the time of the read when the reader was caught up (an event
// after that is newer). Pruning deletes events older than the retention,
// so a cursor whose time is within it has lost nothing.
func (m *Manager) EventFeed(ctx context.Context, actor Actor, q EventQuery) (EventPage, error) {
	if err := actor.require(ActRead); err != nil {
		return EventPage{}, err
	}
	limit, err := checkLimit(q.Limit, DefaultLimit)
	if err != nil {
		return EventPage{}, err
	}
	after, err := m.eventCursor(ctx, actor, q.After)
	if err != nil {
		return EventPage{}, err
	}
	es, err := m.d.Store.Events(ctx, actor.AccountID, after, limit+1)
	if err != nil {
		return EventPage{}, err
	}
	p := EventPage{Items: es, More: len(es) > limit}
	at := m.now()
	if p.More {
		p.Items = es[:limit]
		at = p.Items[limit-1].Time
	}
	if p.Items == nil {
		p.Items = []directory.Event{}
	}
	if n := len(p.Items); n > 0 {
		after = p.Items[n-1].Seq
	}
	p.Cursor = EventCursor(after, at)
	return p, nil
}

// EventCursor is the feed's cursor after the event numbered seq, read at
// (or, with events waiting, last written at) the given time.
func EventCursor(seq int64, at time.Time) string {
	return encodeCursor(listEvents, strconv.FormatInt(seq, 10)+"."+strconv.FormatInt(at.Unix(), 10))
}

// eventCursor reads a feed cursor into the seq to read after.
func (m *Manager) eventCursor(ctx context.Context, actor Actor, c string) (int64, error) {
	pos, err := decodeCursor(listEvents, c)
	if err != nil || pos == "" {
		return 0, err
	}
	s, t, _ := strings.Cut(pos, ".")
	seq, err1 := strconv.ParseInt(s, 10, 64)
	unix, err2 := strconv.ParseInt(t, 10, 64)
	if err1 != nil || err2 != nil || seq < 0 {
		return 0, invalid("after", "after is not a cursor this listing returned: pass back the cursor of the previous page")
	}
	_, keep := m.historyRetention(ctx, m.d.Store, actor.AccountID)
	gone := func(why string) error {
		return &Error{Kind: Gone, Code: CodeCursorExpired, Message: fmt.Sprintf("the events cursor %s: events are kept %s; "+
			"resynchronize: read the export and follow the feed from the cursor it ends with", why, retentionText(keep))}
	}
	if time.Unix(unix, 0).Before(m.now().Add(-keep)) {
		return 0, gone("is older than the event retention")
	}
	last, err := m.d.Store.LastEventSeq(ctx, actor.AccountID)
	if err != nil {
		return 0, err
	}
	if last > 0 && seq > last {
		return 0, gone("is not one this feed gave")
	}
	return seq, nil
}

// retentionText says a retention in days when it is whole days.
func retentionText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// pruneHistory deletes each account's events and runs past its retentions.
func (m *Manager) pruneHistory(ctx context.Context, tx store.Tx) (events, runs int, err error) {
	accounts, err := tx.Accounts(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, acc := range accounts {
		keepRuns, keepEvents := m.historyRetention(ctx, tx, acc.ID)
		n, err := tx.PruneAccountEvents(ctx, acc.ID, m.now().Add(-keepEvents))
		if err != nil {
			return events, runs, err
		}
		events += n
		// A membership's event rebuilds its body from the run's change:
		// runs stay at least as long as their events.
		if n, err = tx.PruneRuns(ctx, acc.ID, m.now().Add(-max(keepRuns, keepEvents))); err != nil {
			return events, runs, err
		}
		runs += n
	}
	return events, runs, nil
}

// EventRetention is how long the change feed keeps an event.
func (m *Manager) EventRetention() time.Duration { return m.d.EventRetention }

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
	// Runs counts the runs of the history deleted, with their changes.
	Runs int
	// Console counts ended console sessions, used or expired sign-in
	// links and stale failed sign-ins.
	Console int
}

// Prune deletes, in every account, the events and the run history older
// than the account's retentions, the webhook delivery logs and mail log
// entries older than the deployment's event retention, and purges what
// outstayed the trash retention. The service calls it hourly.
func (m *Manager) Prune(ctx context.Context) (Pruned, error) {
	var p Pruned
	before := m.now().Add(-m.d.EventRetention)
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if p.Events, p.Runs, err = m.pruneHistory(ctx, tx); err != nil {
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
