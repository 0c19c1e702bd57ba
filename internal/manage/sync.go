package manage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// SyncRequest says how to sync a source.
type SyncRequest struct {
	// Full forces a full reconciliation where a cursor would allow an
	// incremental run.
	Full bool
	// DryRun computes the whole plan and applies nothing.
	DryRun bool
	// AllowDeletes lifts the deletion limit for this run: the confirmation
	// an administrator gives after reading what a stopped run would do.
	AllowDeletes bool
	// Trigger names what asked for the run in its history (cli, api,
	// import...); empty means the actor's front end.
	Trigger string
	// Progress, for SyncNow, is told how the run advances.
	Progress func(directory.RunProgress)
}

func (r SyncRequest) trigger(actor Actor) string {
	if r.Trigger != "" {
		return r.Trigger
	}
	return string(actor.Via)
}

// SyncNow synchronizes a source and returns when the run has ended, with
// the run as recorded: the command line's sync. A run that failed or
// stopped is returned with an error of its kind.
func (m *Manager) SyncNow(ctx context.Context, actor Actor, key string, req SyncRequest) (directory.Run, error) {
	if err := actor.require(ActSync); err != nil {
		return directory.Run{}, err
	}
	src, conn, err := m.syncable(ctx, actor, key)
	if err != nil {
		return directory.Run{}, err
	}
	run, err := m.runSync(ctx, src, conn, syncOptions{trigger: req.trigger(actor), dryRun: req.DryRun, full: req.Full,
		allowDeletes: req.AllowDeletes, progress: req.Progress})
	m.noteRun(ctx, src, run, err, "")
	return run, err
}

// syncable finds a source that may sync (turned on, its domain not synced
// by another source) and opens its connector.
func (m *Manager) syncable(ctx context.Context, actor Actor, key string) (directory.Source, connector.Connector, error) {
	src, err := m.findSource(ctx, m.d.Store, actor, key)
	if err != nil {
		return src, nil, err
	}
	if !src.Enabled {
		return src, nil, turnedOff(src)
	}
	if err := m.checkClaim(ctx, m.d.Store, src); err != nil {
		return src, nil, err
	}
	conn, err := m.connect(src)
	return src, conn, err
}

func turnedOff(src directory.Source) *Error {
	return conflict(CodeTurnedOff, "source %s is turned off: turn it on first (dirsync source enable %s)", src.Name, src.Name)
}

// SyncUser synchronizes one user of a source at once (Duo's "Sync Single
// User"): who is the user's id in the source, its username
// (userPrincipalName) or email.
func (m *Manager) SyncUser(ctx context.Context, actor Actor, key, who string, dryRun bool) (directory.Run, error) {
	if err := actor.require(ActSyncUser); err != nil {
		return directory.Run{}, err
	}
	who = strings.TrimSpace(who)
	if who == "" {
		return directory.Run{}, invalid("user", "the user is required: its id in the source, its username (userPrincipalName) or email")
	}
	src, conn, err := m.syncable(ctx, actor, key)
	if err != nil {
		return directory.Run{}, err
	}
	run, err := m.runSyncUser(ctx, src, conn, who, syncOptions{trigger: string(actor.Via), dryRun: dryRun})
	m.noteRun(ctx, src, run, err, who)
	return run, err
}

// Job is a queued run handed to an Executor. It carries all an executor
// needs to keep (a job queue stores it as the job's arguments).
type Job struct {
	// Run is the queued run; its AccountID and ID identify it.
	Run directory.Run
	// Attempt counts the runs of this request: 1, then 2 for the first
	// retry of a transient failure, and so on.
	Attempt int
	// BusyRetried says the run already waited once for another process's
	// run of the source.
	BusyRetried bool
	// NotBefore is when the run may execute; zero means now.
	NotBefore time.Time
	// AllowDeletes lifts the deletion limit for this run: the request's
	// confirmation. It is not kept with the queued run, so a run queued
	// again after a restart asks for the confirmation again.
	AllowDeletes bool
}

// Executor executes queued runs, calling ExecuteRun for each job. The
// service's in-process runner is one; a job queue could be another.
type Executor interface {
	// Enqueue takes a job and returns at once; the job runs once its
	// NotBefore has passed.
	Enqueue(job Job) error
}

// RequestSync asks for a run of a source and returns at once with the run,
// recorded as queued; the run then goes queued -> running -> its outcome,
// executed by the Executor. A request while a run of the source is queued
// returns that run (a request for a full run makes it full). A request
// refused (the source turned off, the server shutting down) is recorded as
// a cancelled run with its reason, returned with the error.
func (m *Manager) RequestSync(ctx context.Context, actor Actor, key string, req SyncRequest) (directory.Run, error) {
	if err := actor.require(ActSync); err != nil {
		return directory.Run{}, err
	}
	src, err := m.findSource(ctx, m.d.Store, actor, key)
	if err != nil {
		return directory.Run{}, err
	}
	return m.request(ctx, actor, src, req)
}

func (m *Manager) request(ctx context.Context, actor Actor, src directory.Source, req SyncRequest) (directory.Run, error) {
	if m.executor == nil {
		return directory.Run{}, newError(Unavailable, "no sync workers run in this process: use dirsync sync, or ask dirsync serve")
	}
	if !src.Enabled {
		e := turnedOff(src)
		run, err := m.recordRefused(ctx, src, req, actor, e.Message)
		e.RunID = run.ID
		return run, errors.Join(e, err)
	}
	if e := m.openable(src); e != nil {
		// A run would only fail: say so now, not 202 then a failure.
		run, err := m.recordRefused(ctx, src, req, actor, e.Message)
		e.RunID = run.ID
		return run, errors.Join(e, err)
	}
	var run directory.Run
	created := false
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		created = false
		queued, err := queuedRun(ctx, tx, src, req.DryRun)
		if err != nil {
			return err
		}
		if queued != nil {
			run = *queued
			if req.Full && run.Kind != directory.RunFull {
				run.Kind = directory.RunFull
				return tx.UpdateRun(ctx, run)
			}
			return nil
		}
		run = newRun(src, req, actor, directory.OutcomeQueued, m.now())
		created = true
		return tx.CreateRun(ctx, &run)
	})
	if err != nil || !created {
		return run, err
	}
	return m.enqueue(ctx, run, req.AllowDeletes)
}

// enqueue hands a run just queued to the executor; a refusal (the server
// shutting down) ends it as cancelled, with the reason.
func (m *Manager) enqueue(ctx context.Context, run directory.Run, allowDeletes bool) (directory.Run, error) {
	if err := m.executor.Enqueue(Job{Run: run, Attempt: 1, AllowDeletes: allowDeletes}); err != nil {
		reason := "the server is shutting down; the run did not start"
		if cerr := m.finishQueued(ctx, run, directory.OutcomeCancelled, reason); cerr != nil {
			err = errors.Join(err, cerr)
		}
		run.Outcome, run.Reason = directory.OutcomeCancelled, reason
		return run, &Error{Kind: Unavailable, Message: reason + " (run " + run.ID + ")", RunID: run.ID, Err: err}
	}
	return run, nil
}

// newRun is a run record before it starts.
func newRun(src directory.Source, req SyncRequest, actor Actor, outcome directory.Outcome, now time.Time) directory.Run {
	kind := directory.RunDelta // incremental where the source allows: the engine decides
	if req.Full {
		kind = directory.RunFull
	}
	return directory.Run{AccountID: src.AccountID, SourceID: src.ID, Source: src.Name, Kind: kind,
		Trigger: req.trigger(actor), DryRun: req.DryRun, StartedAt: now, Outcome: outcome}
}

// queuedRun finds a run of the source that is queued and not started.
func queuedRun(ctx context.Context, rd store.Reader, src directory.Source, dryRun bool) (*directory.Run, error) {
	runs, err := rd.Runs(ctx, src.AccountID, src.ID, 10)
	if err != nil {
		return nil, err
	}
	for i := range runs {
		if r := &runs[i]; r.Outcome == directory.OutcomeQueued && r.DryRun == dryRun {
			return r, nil
		}
	}
	return nil, nil
}

// recordRefused records a request that was refused as a cancelled run.
func (m *Manager) recordRefused(ctx context.Context, src directory.Source, req SyncRequest, actor Actor, reason string) (directory.Run, error) {
	now := m.now()
	run := newRun(src, req, actor, directory.OutcomeCancelled, now)
	run.Reason, run.FinishedAt = reason, now
	err := m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.CreateRun(ctx, &run) })
	return run, err
}

// finishQueued ends a run that never started.
func (m *Manager) finishQueued(ctx context.Context, run directory.Run, outcome directory.Outcome, reason string) error {
	ctx = context.WithoutCancel(ctx) // the record must land, whatever was cancelled
	return m.d.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Run(ctx, run.AccountID, run.ID)
		if err != nil {
			return err
		}
		if cur.Outcome != directory.OutcomeQueued {
			return nil
		}
		cur.Outcome, cur.Reason, cur.FinishedAt = outcome, reason, m.now()
		return tx.UpdateRun(ctx, cur)
	})
}

// Abandon ends a queued run that will not execute (the executor is
// shutting down) as cancelled, with the reason.
func (m *Manager) Abandon(ctx context.Context, job Job, reason string) error {
	return m.finishQueued(ctx, job.Run, directory.OutcomeCancelled, reason)
}

// ReapDeadRuns marks interrupted the runs still recorded as running whose
// process died (its lease on the source ran out), in every account: for a
// service starting up, so that no run killed with its process stays
// "running" in the history.
func (m *Manager) ReapDeadRuns(ctx context.Context) error {
	accs, err := m.d.Store.Accounts(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, acc := range accs {
		srcs, err := m.d.Store.Sources(ctx, acc.ID)
		if err != nil {
			return err
		}
		for _, src := range srcs {
			if runs, err := m.d.Store.UnfinishedRuns(ctx, acc.ID, src.ID); err != nil || len(runs) == 0 {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, m.reap(ctx, src))
		}
	}
	return errors.Join(errs...)
}

// QueuedJobs lists the runs left queued (by a process that stopped before
// running them), oldest first, for an executor starting up.
func (m *Manager) QueuedJobs(ctx context.Context) ([]Job, error) {
	runs, err := m.d.Store.RunsByOutcome(ctx, directory.OutcomeQueued)
	if err != nil {
		return nil, err
	}
	jobs := make([]Job, len(runs))
	for i, r := range runs {
		jobs[i] = Job{Run: r, Attempt: 1}
	}
	return jobs, nil
}

// Retry policy of scheduled runs that failed in a way that may mend
// itself: retried within their slot, after 1, 4 and 16 minutes.
const (
	maxAttempts  = 4
	firstBackoff = time.Minute
)

func retryWait(attempt int) time.Duration {
	return firstBackoff << (2 * (attempt - 1))
}

// transient reports whether a run's failure may go away by waiting: the
// source throttled, answered 5xx, timed out or could not be reached.
func transient(err error) bool {
	switch connector.KindOf(err) {
	case connector.KindThrottled, connector.KindUnavailable, connector.KindNetwork:
		return true
	}
	return false
}

// ExecuteRun executes a queued run and returns it as it ended. When the run
// should run again later (another process held the source; a scheduled run
// failed transiently and its slot leaves time for a retry), next is the job
// to execute at its NotBefore: the same queued run for a busy source, a new
// queued run for a retry, whose reason the failed run names. A run that is
// no longer queued (executed or cancelled meanwhile) is returned as it is.
func (m *Manager) ExecuteRun(ctx context.Context, job Job) (directory.Run, *Job, error) {
	cur, err := m.d.Store.Run(ctx, job.Run.AccountID, job.Run.ID)
	if err != nil || cur.Outcome != directory.OutcomeQueued {
		return cur, nil, err
	}
	src, err := m.d.Store.Source(ctx, cur.AccountID, cur.SourceID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return m.endQueued(ctx, cur, directory.OutcomeCancelled, "the source was removed before the run started", nil)
	case err != nil:
		return cur, nil, err
	case !src.Enabled:
		e := turnedOff(src)
		return m.endQueued(ctx, cur, directory.OutcomeCancelled, e.Message, e)
	}
	if err := m.checkClaim(ctx, m.d.Store, src); err != nil {
		return m.endQueued(ctx, cur, directory.OutcomeFailed, err.Error(), err)
	}
	conn, err := m.connect(src)
	if err != nil {
		return m.endQueued(ctx, cur, directory.OutcomeFailed, err.Error(), err)
	}
	run, err := m.runSync(ctx, src, conn, syncOptions{trigger: cur.Trigger, dryRun: cur.DryRun, full: cur.Kind == directory.RunFull,
		allowDeletes: job.AllowDeletes, runID: cur.ID})
	if notQueued(err) {
		stored, serr := m.d.Store.Run(ctx, cur.AccountID, cur.ID)
		return stored, nil, serr
	}
	if KindOf(err) == Busy {
		if !job.BusyRetried {
			job.BusyRetried, job.NotBefore = true, m.now().Add(m.d.BusyRetry)
			return cur, &job, nil
		}
		reason := "another run of this source was in progress, still after waiting " + m.d.BusyRetry.String()
		return m.endQueued(ctx, cur, directory.OutcomeCancelled, reason, err)
	}
	if stored, serr := m.d.Store.Run(ctx, cur.AccountID, cur.ID); serr == nil && stored.Outcome == directory.OutcomeQueued {
		// The engine refused before it took the run over: record why.
		return m.endQueued(ctx, cur, directory.OutcomeFailed, errorText(err), err)
	}
	m.noteRun(ctx, src, run, err, "")
	// A scheduled run that failed in a way that may mend itself is retried
	// within its slot; any queued run is retried when it lost the database
	// (this process's problem, not the request's), soon.
	dbLost := errors.Is(err, store.ErrUnavailable)
	if err == nil || job.Attempt >= maxAttempts || !dbLost && (!transient(err) || cur.Trigger != string(ViaSchedule)) {
		return run, nil, err
	}
	return m.scheduleRetry(ctx, src, run, job, err, dbLost)
}

// scheduleRetry queues the next attempt of a scheduled run that failed
// transiently, if it starts before the schedule's next slot, and says so
// in the failed run's reason.
func (m *Manager) scheduleRetry(ctx context.Context, src directory.Source, failed directory.Run, job Job, runErr error, dbLost bool) (directory.Run, *Job, error) {
	wait := retryWait(job.Attempt)
	if dbLost {
		wait /= 4 // another connection is likely there at once
	}
	at := m.now().Add(wait)
	if end := m.slotEnd(ctx, src); failed.Trigger == string(ViaSchedule) && !end.IsZero() && !at.Before(end) {
		return failed, nil, runErr
	}
	next := Job{Attempt: job.Attempt + 1, NotBefore: at}
	err := m.d.Store.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		next.Run = newRun(src, SyncRequest{Trigger: failed.Trigger}, Actor{}, directory.OutcomeQueued, at)
		if err := tx.CreateRun(ctx, &next.Run); err != nil {
			return err
		}
		f, err := tx.Run(ctx, failed.AccountID, failed.ID)
		if err != nil {
			return err
		}
		f.Reason += fmt.Sprintf("; retry %d of %d in %s (run %s)", job.Attempt, maxAttempts-1, wait, next.Run.ID)
		failed = f
		return tx.UpdateRun(ctx, f)
	})
	if err != nil {
		return failed, nil, errors.Join(runErr, err)
	}
	return failed, &next, runErr
}

// endQueued ends a queued run that could not start and returns it.
func (m *Manager) endQueued(ctx context.Context, run directory.Run, outcome directory.Outcome, reason string, cause error) (directory.Run, *Job, error) {
	if err := m.finishQueued(ctx, run, outcome, reason); err != nil {
		return run, nil, errors.Join(cause, err)
	}
	run.Outcome, run.Reason, run.FinishedAt = outcome, reason, m.now()
	return run, nil, cause
}

func errorText(err error) string {
	if e := AsError(err); e != nil {
		return e.Message
	}
	if err == nil {
		return "the run did not start"
	}
	return err.Error()
}
