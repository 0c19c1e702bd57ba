package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
)

// Sync reads src through conn and applies it to the directory. It returns the
// run as recorded; err is non-nil when the run failed or stopped, and the
// directory is then exactly as it was before.
//
// A source whose connector reads incrementally, and that has a saved cursor,
// gets a delta run unless opts.Full; a cursor the source refuses turns the
// run into a full reconciliation, and the run says so.
func (e *Engine) Sync(ctx context.Context, src directory.Source, conn connector.Connector, opts Options) (directory.Run, error) {
	j, err := e.begin(ctx, src, conn, directory.RunFull, opts)
	defer j.end(ctx)
	if err != nil {
		return j.run, err
	}
	ctx, stop := j.bound(ctx)
	defer stop()
	inc, incremental := conn.(connector.Incremental)
	saved, err := e.Store.SourceState(ctx, src.ID)
	if err != nil {
		return j.run, fmt.Errorf("engine: read source state: %w", err)
	}
	j.state = parseState(saved)
	// A group filter's reach can change with any membership anywhere below
	// the selected groups, which a delta does not show: such sources
	// reconcile in full every time.
	if incremental && j.state.Cursor != "" && !opts.Full && j.settings.Groups.All() {
		if why := j.fullDue(inc); why != "" {
			j.run.Reason = "went full: " + why
		} else {
			j.run.Kind = directory.RunDelta
		}
	}
	if err := j.record(ctx); err != nil {
		return j.run, err
	}
	j.countHeld(ctx)
	if err := j.prepare(ctx); err != nil {
		return j.fail(ctx, directory.OutcomeFailed, err)
	}
	if j.run.Kind == directory.RunDelta {
		if run, err := j.delta(ctx, inc); !errors.Is(err, errWentFull) {
			return run, err
		}
	}
	return j.full(ctx, inc)
}

// errWentFull is delta's answer when the source refused the cursor: the
// run goes on as a full reconciliation (an invalid cursor means a full
// reconcile, never "start empty").
var errWentFull = errors.New("went full")

// delta runs an incremental read and applies it, or answers errWentFull.
func (j *job) delta(ctx context.Context, inc connector.Incremental) (directory.Run, error) {
	sink := newDeltaSink()
	j.rejects = sink.rejects
	next, err := inc.Changes(ctx, j.state.Cursor, sink)
	j.countRequests()
	switch {
	case connector.KindOf(err) == connector.KindCursor && ctx.Err() == nil:
		j.log.Warn("incremental state refused; running a full reconciliation", "err", err)
		j.run.Kind, j.run.Reason = directory.RunFull, fmt.Sprintf("went full: %v", err)
		return j.run, errWentFull
	case err != nil:
		return j.fail(ctx, directory.OutcomeFailed, fmt.Errorf("read changes from source %s: %w", j.src.Name, err))
	}
	j.run.SourceUsers, j.run.SourceGroups = len(sink.users), len(sink.groups)
	countRead(&j.run, sink.skips.reasons)
	// Read: what was read and the requests it took, before the apply
	// holds the writer (as a full run's read records its last counts).
	j.recordProgress(ctx, true, func(p *directory.RunProgress) {
		p.Phase, p.Users, p.Groups, p.Members, p.Requests = "apply", len(sink.users), len(sink.groups), len(sink.members), j.run.Requests
	})
	if err := sink.stageMembers(ctx, j.e.Store, j.run.ID); err != nil {
		return j.fail(ctx, directory.OutcomeFailed, err)
	}
	sc, err := j.e.scopeFor(ctx, j.run.ID, j.settings)
	if err != nil {
		return j.fail(ctx, directory.OutcomeFailed, err)
	}
	// The next cursor builds on the same full reconciliation.
	state := sourceState{Engine: stateVersion, Cursor: next, FullAt: j.state.FullAt}
	return j.apply(ctx, sc, func(a *applier) []step { return a.deltaPlan(sink, state) })
}

// full reads the whole source into staging and reconciles the directory
// with it.
func (j *job) full(ctx context.Context, inc connector.Incremental) (directory.Run, error) {
	// Mark "now" first, so what changes while the snapshot is read comes
	// in the next delta.
	next := ""
	if inc != nil {
		var err error
		if next, err = inc.Cursor(ctx); err != nil {
			j.countRequests()
			return j.fail(ctx, directory.OutcomeFailed, fmt.Errorf("read source %s: start change tracking: %w", j.src.Name, err))
		}
	}
	j.rejects = newRejections()
	sink := &stagingSink{ctx: ctx, st: j.e.Store, runID: j.run.ID, batch: j.e.batch(),
		rejects: j.rejects, prepare: j.preparer()}
	defer sink.close()
	read := j.watchRead(ctx, sink)
	readErr := j.conn.Snapshot(ctx, sink)
	if readErr == nil {
		readErr = sink.flush()
	} else {
		sink.close() // what the writer still writes is dropped with the run
	}
	read.stop()
	j.run.SourceUsers, j.run.SourceGroups = sink.users, sink.groups
	countRead(&j.run, sink.skips.reasons)
	j.countRequests()
	if readErr != nil {
		return j.fail(ctx, directory.OutcomeFailed, fmt.Errorf("read source %s: %w", j.src.Name, readErr))
	}
	sc, err := j.e.scopeFor(ctx, j.run.ID, j.settings)
	if err != nil {
		return j.fail(ctx, directory.OutcomeFailed, err)
	}
	state := sourceState{Engine: stateVersion, Cursor: next, FullAt: j.run.StartedAt}
	return j.apply(ctx, sc, func(a *applier) []step { return a.fullPlan(state) })
}

// fullDue says why the source is due a full reconciliation although its
// cursor allows an incremental run: its last one is older than the
// source's MaxCursorAge (shorter by default for a connector whose
// incremental reads do not report deletions). "" when it is not due.
func (j *job) fullDue(inc connector.Incremental) string {
	reports := true
	if dr, ok := inc.(connector.DeletionReporter); ok {
		reports = dr.ReportsDeletions(j.state.Cursor)
	}
	maxAge := j.settings.CursorAge(reports)
	if maxAge == 0 {
		return ""
	}
	why := fmt.Sprintf("max_cursor_age %s", maxAge)
	if !reports {
		why += "; this source's incremental reads do not report deletions"
	}
	if j.state.FullAt.IsZero() {
		return "periodic full reconciliation: none recorded yet (" + why + ")"
	}
	age := j.e.now().Sub(j.state.FullAt)
	if age < maxAge {
		return ""
	}
	return fmt.Sprintf("periodic full reconciliation: the last was %s ago (%s)", age.Round(time.Minute), why)
}
