package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Reap marks the source's dead runs interrupted and drops their staging,
// as the next run of the source would: for a service starting up, so that
// a run killed with its process never stays "running" in the history. It
// does nothing (and returns an error wrapping ErrBusy) while another
// process holds the source.
func (e *Engine) Reap(ctx context.Context, src directory.Source) error {
	release, err := e.lease(ctx, src)
	if err != nil {
		return err
	}
	release(ctx)
	return nil
}

// lease makes this process the only one running src, renewing the lease in
// the background until release is called. A process that crashes stops
// renewing, and its lease runs out after LeaseTTL.
func (e *Engine) lease(ctx context.Context, src directory.Source) (release func(context.Context), err error) {
	ttl := e.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	holder := leaseHolder()
	acquire := func(ctx context.Context) error {
		return e.Store.Update(ctx, func(tx store.Tx) error { return tx.AcquireLease(ctx, src.ID, holder, e.now(), ttl) })
	}
	err = e.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.AcquireLease(ctx, src.ID, holder, e.now(), ttl); err != nil {
			return err
		}
		return e.interruptDead(ctx, tx, src)
	})
	if err != nil {
		if errors.Is(err, store.ErrLeaseHeld) {
			return nil, fmt.Errorf("%w: source %s: %w", ErrBusy, src.Name, err)
		}
		return nil, fmt.Errorf("engine: lease source %s: %w", src.Name, err)
	}
	renewCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	// The ticker starts with the lease, not whenever the goroutine runs.
	tick := clock.Or(e.Clock).NewTicker(ttl / 3)
	go func() {
		defer close(done)
		defer tick.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-tick.C():
				if err := acquire(renewCtx); err != nil && renewCtx.Err() == nil {
					e.logger().Warn("renew run lease", "source", src.Name, "err", err)
				}
			}
		}
	}()
	// release takes the run's end's context: a delta's end writes
	// store.WithoutCheckpoint.
	return func(ctx context.Context) {
		stop()
		<-done
		ctx, cancel := recordContext(ctx)
		defer cancel()
		if err := e.Store.Update(ctx, func(tx store.Tx) error { return tx.ReleaseLease(ctx, src.ID, holder) }); err != nil {
			e.logger().Warn("release run lease", "source", src.Name, "err", err)
		}
	}, nil
}

// leaseHolder names this run for the lease table: readable for a person
// looking at who holds a source, unique across processes and runs.
func leaseHolder() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/pid-%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// interruptDead marks the source's runs still recorded as running as
// interrupted, and drops what they staged, inside tx: the caller has just
// taken the source's lease, so their processes are gone (crashed, killed,
// or their lease ran out).
func (e *Engine) interruptDead(ctx context.Context, tx store.Tx, src directory.Source) error {
	dead, err := tx.UnfinishedRuns(ctx, src.AccountID, src.ID)
	if err != nil {
		return err
	}
	for _, run := range dead {
		run.Outcome, run.FinishedAt = directory.OutcomeInterrupted, e.now()
		run.Reason = "interrupted: the process running it stopped before it finished (found when its lease ran out); nothing was applied"
		if !run.DryRun {
			if err := tx.AppendEvents(ctx, []directory.Event{runEvent(run, directory.EventSyncFailed)}); err != nil {
				return err
			}
		}
		if err := tx.DropStage(ctx, run.ID); err != nil {
			return err
		}
		if err := tx.UpdateRun(ctx, run); err != nil {
			return err
		}
	}
	return nil
}
