package engine

import (
	"context"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// changeLog records a run's changes and their events in the apply's
// transaction, a batch at a time, so no change is ever without its event
// nor an event without its change. A run whose plan will not be applied (a
// dry run, a run past the deletion limit) keeps its changes in memory
// instead: the transaction is rolled back, and the plan recorded after it.
type changeLog struct {
	ctx      context.Context
	tx       store.Tx
	runID    string
	batch    int
	eventFor func(directory.Change) (directory.Event, bool)

	// keep holds every change in kept rather than writing it.
	keep    bool
	kept    []directory.Change
	pending []directory.Change
}

// add records one change.
func (l *changeLog) add(c directory.Change) error {
	c.RunID = l.runID
	if l.keep {
		c.Object = nil // a plan: nothing was applied, no state after it
		l.kept = append(l.kept, c)
		return nil
	}
	l.pending = append(l.pending, c)
	if len(l.pending) >= l.batch {
		return l.flush()
	}
	return nil
}

// flush writes the pending changes and then their events, which refer to
// the changes by the numbers AddChanges gave them.
func (l *changeLog) flush() error {
	if len(l.pending) == 0 {
		return nil
	}
	if err := l.tx.AddChanges(l.ctx, l.runID, l.pending); err != nil {
		return err
	}
	events := make([]directory.Event, 0, len(l.pending))
	for _, c := range l.pending {
		if e, ok := l.eventFor(c); ok {
			events = append(events, e)
		}
	}
	l.pending = l.pending[:0]
	if len(events) == 0 {
		return nil
	}
	return l.tx.AppendEvents(l.ctx, events)
}

// keepFromNow turns a log that was writing into one that keeps: the plan
// will not be applied, and what the transaction already holds of it is
// read back, to be recorded after the rollback with the rest.
func (l *changeLog) keepFromNow() error {
	if l.keep {
		return nil
	}
	written, err := l.tx.Changes(l.ctx, l.runID, 0, 0)
	if err != nil {
		return err
	}
	l.keep = true
	l.kept = append(written, l.pending...)
	for i := range l.kept {
		l.kept[i].Object = nil
	}
	l.pending = nil
	return nil
}
