package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

// job is one run of one source, from its lease to its record: what the
// three kinds of run (full, delta, single user) share.
type job struct {
	e        *Engine
	src      directory.Source
	conn     connector.Connector
	settings scope.Settings
	opts     Options
	run      directory.Run
	// state is the source's saved state: its cursor, and when it was last
	// reconciled in full.
	state sourceState
	// rejects are the objects the read refused for their size.
	rejects *rejections
	// held counts, beside the read, what the directory holds from the
	// source; nil when the apply counts it.
	held    *heldCount
	log     *slog.Logger
	release func(context.Context)
	// prog is how far the run has got (progress.go).
	prog progressLog
}

// begin leases the source for a run of the kind. The run is recorded by
// record, once the job knows what kind of run it is.
func (e *Engine) begin(ctx context.Context, src directory.Source, conn connector.Connector, kind directory.RunKind, opts Options) (*job, error) {
	j := &job{e: e, src: src, conn: conn, opts: opts, log: e.logger().With("account", src.AccountID, "source", src.Name, "source_id", src.ID),
		run: directory.Run{ID: opts.RunID, AccountID: src.AccountID, SourceID: src.ID, Source: src.Name, Kind: kind,
			Trigger: opts.Trigger, DryRun: opts.DryRun, Outcome: directory.OutcomeRunning}}
	settings, err := scope.Parse(src.Settings)
	if err != nil {
		return j, fmt.Errorf("source %s: settings: %w", src.Name, err)
	}
	j.settings = settings
	if j.release, err = e.lease(ctx, src); err != nil {
		return j, err
	}
	return j, nil
}

// record records the run as started: a new run, or the queued run it
// takes over (Options.RunID).
func (j *job) record(ctx context.Context) error {
	j.run.StartedAt = j.e.now()
	start := func(tx store.Tx) error {
		if j.run.ID != "" {
			// Under the source's lease, so no other process can take the
			// run between this check and the update.
			cur, err := tx.Run(ctx, j.run.AccountID, j.run.ID)
			if err != nil {
				return err
			}
			if cur.Outcome != directory.OutcomeQueued {
				return fmt.Errorf("%w: run %s is %s", ErrNotQueued, cur.ID, cur.Outcome)
			}
			return tx.UpdateRun(ctx, j.run)
		}
		return tx.CreateRun(ctx, &j.run)
	}
	if err := j.e.Store.Update(ctx, start); err != nil {
		if errors.Is(err, ErrNotQueued) {
			j.run.ID = "" // not this job's run: end drops nothing of it
			return err
		}
		return fmt.Errorf("engine: record run: %w", err)
	}
	j.log = j.log.With("run", j.run.ID)
	j.log.Info("sync started", "kind", j.run.Kind, "dry_run", j.opts.DryRun)
	return nil
}

// RunTimeError ends a run that passed its source's max run time
// (scope.Settings.RunTime): the run fails, applying nothing.
type RunTimeError struct {
	Limit time.Duration
}

func (e *RunTimeError) Error() string {
	return fmt.Sprintf("the run passed its max run time of %s (dirsync source set --max-run-time); nothing was applied", e.Limit)
}

// bound limits the run's context to the source's max run time, on the
// engine's clock; stop releases the timer.
func (j *job) bound(ctx context.Context) (bounded context.Context, stop func()) {
	limit := j.settings.RunTime()
	cctx, cancel := context.WithCancelCause(ctx)
	t := clock.Or(j.e.Clock).AfterFunc(limit, func() { cancel(&RunTimeError{Limit: limit}) })
	return cctx, func() { t.Stop(); cancel(nil) }
}

// prepare runs the caller's Prepare, if any.
func (j *job) prepare(ctx context.Context) error {
	if j.opts.Prepare == nil {
		return nil
	}
	return j.opts.Prepare(ctx)
}

// end drops what the run staged, however it ended, and releases the
// source. (The transaction that records a run's end drops its staging
// too; this catches a run whose end could not be recorded. A crash leaves
// a running run with its staging, which the source's next lease drops.)
//
// A delta run's apply and end leave SQLite's write-ahead log to a
// checkpoint after the run, not in their commits (store.WithoutCheckpoint).
func (j *job) end(ctx context.Context) {
	if j.held != nil {
		<-j.held.done // no read of the run outlives it
	}
	ctx = j.checkpointLater(ctx)
	if j.run.ID != "" {
		j.e.dropStage(ctx, j.run.ID)
	}
	if j.release != nil {
		j.release(ctx)
	}
	if j.run.Kind == directory.RunDelta {
		j.e.Store.CheckpointSoon()
	}
}

// checkpointLater marks the writes of a delta run's apply and end to leave
// SQLite's write-ahead log to the one checkpoint after the run (end): in
// their commits it was half a second of a 100,000-user delta.
func (j *job) checkpointLater(ctx context.Context) context.Context {
	if j.run.Kind != directory.RunDelta {
		return ctx
	}
	return store.WithoutCheckpoint(ctx)
}

// fail records the run as ended without applying anything.
func (j *job) fail(ctx context.Context, outcome directory.Outcome, err error) (directory.Run, error) {
	return j.e.finish(ctx, j.run, outcome, err)
}

// countRequests copies the connector's counters into the run.
func (j *job) countRequests() {
	if c, ok := j.conn.(connector.Counter); ok {
		s := c.Stats()
		j.run.Requests, j.run.Throttled = s.Requests, s.Throttled
	}
}

// errPlanOnly ends the apply transaction of a run whose plan is recorded
// without being applied: a dry run, or a run the deletion limit stopped.
var errPlanOnly = errors.New("plan only")

// apply computes the run's plan once, in one transaction, and either
// commits it with the run's record, or (a dry run, or a run the deletion
// limit stopped) rolls it back and records the plan: its counts and its
// changes.
func (j *job) apply(ctx context.Context, sc *scoper, plan func(*applier) []step) (directory.Run, error) {
	var a *applier
	readSkips := slices.Clone(j.run.SkipReasons)
	// One apply at a time across the fleet: concurrent applies abort each
	// other's serializable transactions. (The reads, the long part of a
	// run, still go side by side.)
	err := j.e.Store.UpdateApply(j.checkpointLater(ctx), func(tx store.Tx) error {
		// Update may call this again (a PostgreSQL serialization retry): start clean.
		j.run.Counts, j.run.Skips, j.run.SkipReasons, j.run.Warnings = directory.Counts{}, nil, nil, nil
		countRead(&j.run, readSkips)

		if j.opts.Claim != nil {
			if err := j.opts.Claim(ctx, tx); err != nil {
				return err
			}
		}
		var err error
		if a, err = j.newApplier(ctx, tx, sc); err != nil {
			return err
		}
		if err := runSteps(j.tracked(ctx, plan(a))); err != nil {
			return err
		}
		if a.changes.keep {
			return errPlanOnly
		}
		j.run.Outcome, j.run.FinishedAt = directory.OutcomeSucceeded, j.e.now()
		if err := tx.AppendEvents(ctx, []directory.Event{runEvent(j.run, directory.EventSyncCompleted)}); err != nil {
			return err
		}
		if err := tx.DropStage(ctx, j.run.ID); err != nil {
			return err
		}
		return tx.UpdateRun(ctx, j.run)
	})
	switch {
	case errors.Is(err, errPlanOnly):
		return j.recordPlan(ctx, a)
	case err != nil:
		j.run.Counts = directory.Counts{}
		outcome := directory.OutcomeFailed
		if errors.Is(err, ErrStopped) {
			outcome = directory.OutcomeStopped
		}
		return j.fail(ctx, outcome, err)
	}
	j.log.Info("sync finished", "outcome", j.run.Outcome, "counts", j.run.Counts)
	return j.run, nil
}

// recordPlan records a run that computed its plan and applied none of it:
// a dry run (succeeded, or stopped where the real run would stop) or a run
// the deletion limit stopped. Its counts and changes are the plan.
func (j *job) recordPlan(ctx context.Context, a *applier) (directory.Run, error) {
	stop := a.stop
	j.run.Outcome, j.run.FinishedAt = directory.OutcomeSucceeded, j.e.now()
	if stop != nil {
		j.run.Outcome, j.run.Reason = directory.OutcomeStopped, joinReason(stop.Error(), j.run.Reason)
	}
	rctx, cancel := recordContext(ctx)
	defer cancel()
	err := j.e.Store.Update(rctx, func(tx store.Tx) error {
		if err := tx.AddChanges(rctx, j.run.ID, a.changes.kept); err != nil {
			return err
		}
		if stop != nil && !j.run.DryRun {
			if err := tx.AppendEvents(rctx, []directory.Event{runEvent(j.run, directory.EventSyncFailed)}); err != nil {
				return err
			}
		}
		if err := tx.DropStage(rctx, j.run.ID); err != nil {
			return err
		}
		return tx.UpdateRun(rctx, j.run)
	})
	if err != nil {
		return j.run, errors.Join(stop, fmt.Errorf("engine: record the plan of run %s: %w", j.run.ID, err))
	}
	j.log.Info("plan recorded, nothing applied", "outcome", j.run.Outcome, "counts", j.run.Counts, "reason", j.run.Reason)
	return j.run, stop
}

// joinReason puts why a run ended before what it already said (why it
// went full, say).
func joinReason(why, earlier string) string {
	if earlier == "" {
		return why
	}
	return why + " (" + earlier + ")"
}
