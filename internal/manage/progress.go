package manage

import (
	"context"
	"errors"
	"sync"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// liveRuns is the progress of the runs this process runs, as the engine
// records it: fresher than the store's copy, and with the apply's steps,
// which a store with one writer (SQLite) cannot record while the apply
// holds it.
type liveRuns struct {
	mu   sync.Mutex
	runs map[string]directory.RunProgress
}

func (l *liveRuns) set(runID string, p directory.RunProgress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.runs == nil {
		l.runs = map[string]directory.RunProgress{}
	}
	l.runs[runID] = p
}

func (l *liveRuns) get(runID string) (directory.RunProgress, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.runs[runID]
	return p, ok
}

func (l *liveRuns) drop(runID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.runs, runID)
}

// RunProgress is how far a run in progress has got: as this process's
// engine last told it, for a run this process runs, else as the store
// last recorded it. ok is false for a run that recorded none (queued, or
// just started) and for a run that ended (its counts say what it did).
func (m *Manager) RunProgress(ctx context.Context, actor Actor, runID string) (p directory.RunProgress, ok bool, err error) {
	run, err := m.Run(ctx, actor, runID)
	if err != nil {
		return p, false, err
	}
	if run.Outcome != directory.OutcomeRunning {
		m.live.drop(runID)
		return p, false, nil
	}
	if p, ok := m.live.get(runID); ok {
		return p, true, nil
	}
	p, err = m.d.Store.RunProgress(ctx, actor.AccountID, runID)
	if errors.Is(err, store.ErrNotFound) {
		return p, false, nil
	}
	return p, err == nil, err
}
