package service

import (
	"slices"

	"github.com/dirsync/dirsync/internal/clock"
)

// A run needs a worker from the pool (Runner.Workers) and a place in its
// account's share (Runner.AccountShare). Waiting runs are granted in the
// order they asked, skipping those whose account's share is full, so that
// one account's queue never holds up another's. A run that passes its
// Runner.Overtime gives its worker back to the pool, keeping its place in
// its account's share: a hanging run ties up its own account, not the
// deployment, until its max run time ends it.

// waiter is a run waiting for a worker, then holding it.
type waiter struct {
	account string
	ready   chan struct{}
	timer   clock.Timer
	// overtime says the run gave its worker back; done that it ended.
	overtime, done bool
}

// acquire waits for a worker and a place in the account's share; false
// when the runner shut down first.
func (r *Runner) acquire(account string) (*waiter, bool) {
	w := &waiter{account: account, ready: make(chan struct{})}
	r.mu.Lock()
	r.waiters = append(r.waiters, w)
	r.grantLocked()
	r.mu.Unlock()
	select {
	case <-w.ready:
	case <-r.runCtx.Done():
		r.mu.Lock()
		defer r.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			r.giveBackLocked(account, true)
		default:
			r.waiters = slices.DeleteFunc(r.waiters, func(x *waiter) bool { return x == w })
		}
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		// Granted while the runner shuts down: the job is handed back
		// with the others not started, not run.
		r.giveBackLocked(account, true)
		return nil, false
	}
	w.timer = r.Clock.AfterFunc(r.Overtime, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if w.done || w.overtime {
			return
		}
		w.overtime = true
		r.pool--
		r.Logger.Warn("a run has held its worker past the overtime; the worker goes back to the pool", "account", account, "overtime", r.Overtime.String())
		r.grantLocked()
	})
	return w, true
}

// release ends a run's hold on its worker and its account's share.
func (r *Runner) release(w *waiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
	r.giveBackLocked(w.account, !w.overtime)
}

// giveBackLocked returns a place in the account's share and, unless the
// run gave it back already (overtime), its worker, and grants them on.
func (r *Runner) giveBackLocked(account string, worker bool) {
	if worker {
		r.pool--
	}
	r.byAcc[account]--
	if r.byAcc[account] == 0 {
		delete(r.byAcc, account)
	}
	r.grantLocked()
}

// grantLocked hands free workers to the waiting runs, in order, skipping
// the runs whose account's share is full.
func (r *Runner) grantLocked() {
	r.waiters = slices.DeleteFunc(r.waiters, func(w *waiter) bool {
		if r.pool >= r.Workers || r.byAcc[w.account] >= r.AccountShare {
			return false
		}
		r.pool++
		r.byAcc[w.account]++
		close(w.ready)
		return true
	})
}
