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
// The three kinds of run share that path (job.go, apply.go): a full run
// reads the whole source; an incremental run reads what changed since its
// cursor; a single-user run reads one user and the groups around it. All
// three decide scope with one computation (scopeFor), reconcile
// memberships by one rule (members.go), and count what the directory holds
// from the source once, as the base of the deletion limit.
//
// The plan is computed once. A dry run, or a run past the deletion limit,
// computes the same plan, rolls it back, and records it (its counts and
// changes), so its preview is exactly what a real run would do.
//
// A run's lease (lease.go) keeps one run per source across processes; the
// next lease on a source marks the runs of a dead process interrupted and
// drops what they staged. A run whose context is cancelled is recorded as
// cancelled, with the cause.
//
// The engine knows connectors and the store only through their interfaces.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
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
	// Live, when set, is told each progress the run records
	// (directory.RunProgress, progress.go), at once: at every batch the
	// read stages and every second while it reads, then after each step
	// of the apply, which a store with one writer cannot record while it
	// applies. It is the one progress of a run: the console's, the API's
	// and the command line's progress line.
	Live func(runID string, p directory.RunProgress)
	// Prepare, when set, is called once the run is recorded, before the
	// source is read: what the run must ask first (which directory the
	// source reads) is asked there, and an error fails the run, recorded
	// with the error as its reason.
	Prepare func(ctx context.Context) error
	// Claim, when set, is called first in the apply transaction: what
	// must hold for the run to land (its source's claim on its domain)
	// is taken or checked there, atomically with the run's changes. An
	// error fails the run, with the error as its reason.
	Claim func(ctx context.Context, tx store.Tx) error
	// RunID, when set, is a run recorded beforehand (queued, by the
	// application layer) that this sync takes over and records itself in,
	// instead of creating a new run.
	RunID string
}

// ErrBusy is wrapped by the error of a sync refused because another run of
// the same source is in progress.
var ErrBusy = errors.New("another run of this source is in progress")

// ErrNotQueued is returned for a queued run (Options.RunID) that is no
// longer queued when its sync takes the source: another process executed
// or cancelled it meanwhile. Nothing is recorded.
var ErrNotQueued = errors.New("the run is no longer queued")

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
