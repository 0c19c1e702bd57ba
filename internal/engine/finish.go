package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// recordTimeout bounds how long recording a run's end may take once its
// own context is gone: long enough for a busy database, short enough that
// a shutdown is not held up.
const recordTimeout = 30 * time.Second

// recordContext outlives ctx's cancellation, so that a run cancelled by an
// interrupt or a shutdown is still recorded as such, within recordTimeout.
func recordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// finish records a run that ended without applying anything. A run whose
// context ended is cancelled, with what cancelled it as its reason.
func (e *Engine) finish(ctx context.Context, run directory.Run, outcome directory.Outcome, cause error) (directory.Run, error) {
	var limit *RunTimeError
	switch {
	case ctx.Err() != nil && errors.As(context.Cause(ctx), &limit):
		outcome, cause = directory.OutcomeFailed, limit
	case ctx.Err() != nil:
		outcome, cause = directory.OutcomeCancelled, cancelled(ctx, cause)
	}
	run.Reason = joinReason(cause.Error(), run.Reason)
	run.Outcome, run.FinishedAt = outcome, e.now()
	rctx, cancel := recordContext(ctx)
	defer cancel()
	err := e.Store.Update(rctx, func(tx store.Tx) error {
		if !run.DryRun {
			if err := tx.AppendEvents(rctx, []directory.Event{runEvent(run, directory.EventSyncFailed)}); err != nil {
				return err
			}
		}
		if err := tx.DropStage(rctx, run.ID); err != nil {
			return err
		}
		return tx.UpdateRun(rctx, run)
	})
	if err != nil {
		return run, errors.Join(cause, fmt.Errorf("engine: record run: %w", err))
	}
	e.logger().Warn("sync did not apply", "run", run.ID, "outcome", outcome, "reason", run.Reason)
	return run, cause
}

// cancelled is the error of a run whose context ended: "cancelled: " and
// what ended it ("interrupt", "the server shut down"). It wraps err, so the
// run's error still says where it stopped.
func cancelled(ctx context.Context, err error) error {
	why := "cancelled"
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, context.DeadlineExceeded):
		why += ": the run's time limit passed"
	case cause != nil && cause != context.Canceled:
		// signal.NotifyContext's cause reads "interrupt signal received".
		why += ": " + strings.TrimSuffix(cause.Error(), " signal received")
	}
	return &cancelError{why: why, err: err}
}

type cancelError struct {
	why string
	err error
}

func (e *cancelError) Error() string { return e.why }
func (e *cancelError) Unwrap() error { return e.err }

// dropStage drops what the runs staged, logging what it cannot: leftover
// rows are never read again (no later run has their ids), and the next
// lease on the source retries.
func (e *Engine) dropStage(ctx context.Context, ids ...string) {
	rctx, cancel := recordContext(ctx)
	defer cancel()
	for _, id := range ids {
		if err := e.Store.DropStage(rctx, id); err != nil {
			e.logger().Warn("drop staging", "run", id, "err", err)
		}
	}
}
