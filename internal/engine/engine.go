// Package engine synchronizes one source into an account's directory.
//
// A run is level-based, in the controller-runtime sense: it reads what the
// source holds, compares it with what the directory holds, and applies the
// difference, so running it twice changes nothing the second time. It goes
// in two phases:
//
//  1. read: the connector streams the source into the store's staging area,
//     batch by batch, so memory stays flat however large the source is and
//     the database is not locked while a slow source is read;
//  2. apply: one transaction plans and applies every change (creates,
//     updates, disables, trash, memberships) and records the run. Either the
//     whole run lands or none of it does.
//
// A dry run executes the same apply and rolls it back, so its preview is
// exactly what a real run would do.
//
// The engine knows connectors and the store only through their interfaces.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Engine runs syncs against one store.
type Engine struct {
	Store store.Store
	// Clock tells the time and paces the lease renewal; nil means the
	// real clock.
	Clock  clock.Clock
	Logger *slog.Logger
	// BatchSize is how many objects are staged or applied at a time.
	BatchSize int
	// LeaseTTL is how long a run's lease on its source lasts unless renewed:
	// the longest another process waits after this one crashed mid-run.
	LeaseTTL time.Duration
}

// DefaultLeaseTTL is the lease a run holds on its source, renewed while it runs.
const DefaultLeaseTTL = time.Minute

// Options says how to run one sync.
type Options struct {
	Trigger string // cli, schedule, api
	DryRun  bool
	// Full forces a full reconciliation even where a cursor would allow a delta.
	Full bool
	// AllowDeletes lifts the source's deletion limit for this run: the
	// confirmation an administrator gives after reading what a stopped run
	// would have done.
	AllowDeletes bool
	// Progress, when set, is told how the run advances.
	Progress func(Progress)
	// RunID, when set, is a run recorded beforehand (queued, by the
	// application layer) that this sync takes over and records itself in,
	// instead of creating a new run.
	RunID string
}

// Progress is a snapshot of a running sync, for a progress display.
type Progress struct {
	Phase  string // "read", "apply"
	Users  int
	Groups int
	// Members counts direct memberships read.
	Members int
}

// ErrBusy is wrapped by the error of a sync refused because another run of
// the same source is in progress.
var ErrBusy = errors.New("another run of this source is in progress")

// ErrStopped is wrapped by the error of a run that stopped on purpose
// (a safety rule) rather than failed.
var ErrStopped = errors.New("sync stopped")

func (e *Engine) now() time.Time { return clock.Or(e.Clock).Now().UTC() }

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (e *Engine) batch() int {
	if e.BatchSize > 0 {
		return e.BatchSize
	}
	return 1000
}

// Sync reads src through conn and applies it to the directory. It returns the
// run as recorded; err is non-nil when the run failed or stopped, and the
// directory is then exactly as it was before.
//
// A source whose connector reads incrementally, and that has a saved cursor,
// gets a delta run unless opts.Full; a cursor the source refuses turns the
// run into a full reconciliation, and the run says so.
func (e *Engine) Sync(ctx context.Context, src directory.Source, conn connector.Connector, opts Options) (directory.Run, error) {
	run := directory.Run{
		AccountID: src.AccountID,
		SourceID:  src.ID,
		Source:    src.Name,
		Kind:      directory.RunFull,
		Trigger:   opts.Trigger,
		DryRun:    opts.DryRun,
		StartedAt: e.now(),
		Outcome:   directory.OutcomeRunning,
		ID:        opts.RunID,
	}
	release, err := e.lease(ctx, src)
	if err != nil {
		return run, err
	}
	defer release()

	settings, err := parseSettings(src)
	if err != nil {
		return run, err
	}
	inc, incremental := conn.(connector.Incremental)
	cursor, err := e.Store.SourceState(ctx, src.ID)
	if err != nil {
		return run, fmt.Errorf("engine: read source state: %w", err)
	}
	// A group filter's reach can change with any membership anywhere below
	// the selected groups, which a delta does not show: such sources
	// reconcile in full every time.
	if incremental && cursor != "" && !opts.Full && settings.Groups.All() {
		run.Kind = directory.RunDelta
	}
	if err := e.Store.Update(ctx, func(tx store.Tx) error { return recordStart(ctx, tx, &run) }); err != nil {
		return run, fmt.Errorf("engine: record run: %w", err)
	}
	log := e.logger().With("run", run.ID, "source", src.Name)
	log.Info("sync started", "kind", run.Kind, "dry_run", opts.DryRun)

	if run.Kind == directory.RunDelta {
		sink := newDeltaSink()
		next, err := inc.Changes(ctx, cursor, sink)
		e.countRequests(&run, conn)
		switch {
		case err == nil:
			run.SourceUsers, run.SourceGroups, run.Skips = len(sink.users), len(sink.groups), sink.skips
			sc := &scoper{settings: settings, memberRun: run.ID}
			return e.apply(ctx, src, &run, opts, sc, func(a *applier) error { return a.applyDelta(sink, next) })
		case connector.KindOf(err) == connector.KindCursor:
			// An invalid cursor means a full reconcile, never "start empty".
			log.Warn("incremental state refused; running a full reconciliation", "err", err)
			run.Kind = directory.RunFull
			run.Reason = fmt.Sprintf("went full: %v", err)
		default:
			return e.finish(ctx, run, directory.OutcomeFailed, fmt.Errorf("read changes from source %s: %w", src.Name, err))
		}
	}

	// Full: mark "now" first, so what changes while the snapshot is read
	// comes in the next delta.
	next := ""
	if incremental {
		if next, err = inc.Cursor(ctx); err != nil {
			e.countRequests(&run, conn)
			return e.finish(ctx, run, directory.OutcomeFailed, fmt.Errorf("read source %s: start change tracking: %w", src.Name, err))
		}
	}
	// Staging is dropped however the run ends; a crash leaves rows that
	// no later run's id ever sees.
	defer e.dropStage(ctx, run.ID)
	sink := &stagingSink{ctx: ctx, st: e.Store, runID: run.ID, batch: e.batch(), progress: opts.Progress, skips: map[string]int{}}
	readErr := conn.Snapshot(ctx, sink)
	if readErr == nil {
		readErr = sink.flush()
	}
	run.SourceUsers, run.SourceGroups = sink.users, sink.groups
	run.Skips = sink.skips
	e.countRequests(&run, conn)
	if readErr != nil {
		return e.finish(ctx, run, directory.OutcomeFailed, fmt.Errorf("read source %s: %w", src.Name, readErr))
	}
	sc, err := e.prepareScope(ctx, run.ID, settings)
	if err != nil {
		return e.finish(ctx, run, directory.OutcomeFailed, err)
	}
	if opts.Progress != nil {
		opts.Progress(Progress{Phase: "apply", Users: sink.users, Groups: sink.groups, Members: sink.members})
	}
	return e.apply(ctx, src, &run, opts, sc, func(a *applier) error { return a.applyFull(next) })
}

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
	release()
	return nil
}

// recordStart records a starting run: a new one, or the queued run it
// takes over (Options.RunID).
func recordStart(ctx context.Context, tx store.Tx, run *directory.Run) error {
	if run.ID != "" {
		return tx.UpdateRun(ctx, *run)
	}
	return tx.CreateRun(ctx, run)
}

// lease makes this process the only one running src, renewing the lease in
// the background until release is called. A process that crashes stops
// renewing, and its lease runs out after LeaseTTL.
func (e *Engine) lease(ctx context.Context, src directory.Source) (release func(), err error) {
	ttl := e.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	holder := leaseHolder()
	acquire := func(ctx context.Context) error {
		return e.Store.Update(ctx, func(tx store.Tx) error { return tx.AcquireLease(ctx, src.ID, holder, e.now(), ttl) })
	}
	var dead []string
	err = e.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.AcquireLease(ctx, src.ID, holder, e.now(), ttl); err != nil {
			return err
		}
		ids, err := e.interruptDead(ctx, tx, src)
		dead = ids
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrLeaseHeld) {
			return nil, fmt.Errorf("%w: source %s: %w", ErrBusy, src.Name, err)
		}
		return nil, fmt.Errorf("engine: lease source %s: %w", src.Name, err)
	}
	e.dropStage(ctx, dead...)
	renewCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := clock.Or(e.Clock).NewTicker(ttl / 3)
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
	return func() {
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

func (e *Engine) countRequests(run *directory.Run, conn connector.Connector) {
	if c, ok := conn.(connector.Counter); ok {
		s := c.Stats()
		run.Requests, run.Throttled = s.Requests, s.Throttled
	}
}

// apply runs plan in one transaction and records the run with it. A dry run
// executes the same plan, rolls it back, and records what it would have done.
func (e *Engine) apply(ctx context.Context, src directory.Source, run *directory.Run, opts Options, sc *scoper, plan func(*applier) error) (directory.Run, error) {
	var a *applier
	errDryRun := errors.New("dry run")
	readSkips := run.Skips
	err := e.Store.Update(ctx, func(tx store.Tx) error {
		// Update may call this again (a PostgreSQL serialization retry): start clean.
		run.Counts = directory.Counts{}
		run.Skips = maps.Clone(readSkips)
		a = &applier{ctx: ctx, tx: tx, src: src, run: run, now: e.now(), batch: e.batch(), keep: opts.DryRun,
			scope: sc, allowDeletes: opts.AllowDeletes}
		if err := plan(a); err != nil {
			return err
		}
		if opts.DryRun {
			return errDryRun
		}
		run.Outcome, run.FinishedAt = directory.OutcomeSucceeded, e.now()
		if err := tx.AppendEvents(ctx, []directory.Event{runEvent(*run, directory.EventSyncCompleted)}); err != nil {
			return err
		}
		return tx.UpdateRun(ctx, *run)
	})
	switch {
	case errors.Is(err, errDryRun):
		run.Outcome, run.FinishedAt = directory.OutcomeSucceeded, e.now()
		rctx, cancel := recordContext(ctx)
		defer cancel()
		err = e.Store.Update(rctx, func(tx store.Tx) error {
			if err := tx.AddChanges(rctx, run.ID, a.kept); err != nil {
				return err
			}
			return tx.UpdateRun(rctx, *run)
		})
		if err != nil {
			return *run, fmt.Errorf("engine: record dry run: %w", err)
		}
	case errors.Is(err, ErrThreshold) && !opts.DryRun:
		// Stopped by the deletion limit: plan again without the limit and
		// roll back, so the run lists what it would have done.
		planned := *run
		opts.DryRun, opts.AllowDeletes = true, true
		if _, perr := e.apply(ctx, src, &planned, opts, sc, plan); perr != nil {
			e.logger().Warn("plan of a stopped run", "run", run.ID, "err", perr)
		}
		run.Counts = planned.Counts
		return e.finish(ctx, *run, directory.OutcomeStopped, err)
	case err != nil:
		run.Counts = directory.Counts{}
		outcome := directory.OutcomeFailed
		if errors.Is(err, ErrStopped) {
			outcome = directory.OutcomeStopped
		}
		return e.finish(ctx, *run, outcome, err)
	}
	e.logger().Info("sync finished", "run", run.ID, "outcome", run.Outcome, "counts", run.Counts)
	return *run, nil
}

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
	if ctx.Err() != nil {
		outcome, cause = directory.OutcomeCancelled, cancelled(ctx, cause)
	}
	if run.Reason != "" {
		run.Reason = cause.Error() + " (" + run.Reason + ")"
	} else {
		run.Reason = cause.Error()
	}
	run.Outcome, run.FinishedAt = outcome, e.now()
	rctx, cancel := recordContext(ctx)
	defer cancel()
	err := e.Store.Update(rctx, func(tx store.Tx) error {
		if !run.DryRun {
			if err := tx.AppendEvents(rctx, []directory.Event{runEvent(run, directory.EventSyncFailed)}); err != nil {
				return err
			}
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

// interruptDead marks the source's runs still recorded as running as
// interrupted, inside tx: the caller has just taken the source's lease,
// so their processes are gone (crashed, killed, or their lease ran out). It
// returns their ids, whose staging the caller drops.
func (e *Engine) interruptDead(ctx context.Context, tx store.Tx, src directory.Source) ([]string, error) {
	dead, err := tx.UnfinishedRuns(ctx, src.AccountID, src.ID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, run := range dead {
		run.Outcome, run.FinishedAt = directory.OutcomeInterrupted, e.now()
		run.Reason = "interrupted: the process running it stopped before it finished (found when its lease ran out); nothing was applied"
		if !run.DryRun {
			if err := tx.AppendEvents(ctx, []directory.Event{runEvent(run, directory.EventSyncFailed)}); err != nil {
				return nil, err
			}
		}
		if err := tx.UpdateRun(ctx, run); err != nil {
			return nil, err
		}
		ids = append(ids, run.ID)
	}
	return ids, nil
}

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

// stagingSink batches what a connector reads into the store's staging area.
type stagingSink struct {
	ctx      context.Context
	st       store.Stager
	runID    string
	batch    int
	progress func(Progress)

	mu                     sync.Mutex
	users, groups, members int
	skips                  map[string]int
	bu                     []directory.SourceUser
	bg                     []directory.SourceGroup
	bm                     []directory.SourceMembership
}

var _ connector.Sink = (*stagingSink)(nil)

func (s *stagingSink) User(u directory.SourceUser) error { return stage(s, &s.users, &s.bu, u) }

func (s *stagingSink) Group(g directory.SourceGroup) error { return stage(s, &s.groups, &s.bg, g) }

func (s *stagingSink) Membership(m directory.SourceMembership) error {
	return stage(s, &s.members, &s.bm, m)
}

// stage counts v, adds it to its batch, and writes the batches out when
// this one is full.
func stage[T any](s *stagingSink, count *int, batch *[]T, v T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	*count++
	*batch = append(*batch, v)
	if len(*batch) >= s.batch {
		return s.flushLocked()
	}
	return nil
}

func (s *stagingSink) Skip(sk connector.Skipped) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skips[sk.Reason]++
	return nil
}

func (s *stagingSink) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *stagingSink) flushLocked() error {
	if len(s.bu) > 0 {
		if err := s.st.StageUsers(s.ctx, s.runID, s.bu); err != nil {
			return fmt.Errorf("stage users: %w", err)
		}
		s.bu = s.bu[:0]
	}
	if len(s.bg) > 0 {
		if err := s.st.StageGroups(s.ctx, s.runID, s.bg); err != nil {
			return fmt.Errorf("stage groups: %w", err)
		}
		s.bg = s.bg[:0]
	}
	if len(s.bm) > 0 {
		if err := s.st.StageMemberships(s.ctx, s.runID, s.bm); err != nil {
			return fmt.Errorf("stage memberships: %w", err)
		}
		s.bm = s.bm[:0]
	}
	if s.progress != nil {
		s.progress(Progress{Phase: "read", Users: s.users, Groups: s.groups, Members: s.members})
	}
	return nil
}
