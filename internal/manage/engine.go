package manage

// This is the one file of the package that calls the sync engine, so that
// the engine's API can change with one file to follow.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/store"
)

// Engine is the sync engine a Manager drives.
type Engine = engine.Engine

// DefaultTrashRetention is how long the trash keeps users and groups
// before they are purged (Duo's 7 days).
const DefaultTrashRetention = engine.DefaultTrashRetention

// syncOptions says how to run one sync.
type syncOptions struct {
	trigger                    string
	dryRun, full, allowDeletes bool
	runID                      string // a queued run to take over
	progress                   func(directory.RunProgress)
	live                       func(runID string, p directory.RunProgress)
}

func (o syncOptions) engine() engine.Options {
	eo := engine.Options{Trigger: o.trigger, DryRun: o.dryRun, Full: o.full, AllowDeletes: o.allowDeletes, RunID: o.runID, Live: o.live}
	if o.progress != nil {
		eo.Live = func(runID string, p directory.RunProgress) {
			if o.live != nil {
				o.live(runID, p)
			}
			o.progress(p)
		}
	}
	return eo
}

// runSync runs one sync of src through the engine and returns the run as
// recorded, with the engine's error mapped to a kind.
func (m *Manager) runSync(ctx context.Context, src directory.Source, conn connector.Connector, o syncOptions) (directory.Run, error) {
	run, err := m.d.Engine.Sync(ctx, src, conn, m.claimed(src, conn, o))
	m.live.drop(run.ID)
	return run, m.runError(src, run, err)
}

// claimed is the engine's options for a run of src that takes the
// source's claim on its directory in its apply transaction.
func (m *Manager) claimed(src directory.Source, conn connector.Connector, o syncOptions) engine.Options {
	o.live = m.live.set
	eo := o.engine()
	c := &runClaim{m: m, src: src, conn: conn}
	eo.Prepare, eo.Claim = c.prepare, c.take
	return eo
}

// runSyncUser synchronizes one user of src at once.
func (m *Manager) runSyncUser(ctx context.Context, src directory.Source, conn connector.Connector, who string, o syncOptions) (directory.Run, error) {
	run, err := m.d.Engine.SyncUser(ctx, src, conn, who, m.claimed(src, conn, o))
	m.live.drop(run.ID)
	return run, m.runError(src, run, err)
}

// notQueued reports whether a sync found its queued run taken by another
// process (executed or cancelled meanwhile).
func notQueued(err error) bool { return errors.Is(err, engine.ErrNotQueued) }

// reap marks the source's dead runs interrupted, as its next run would.
func (m *Manager) reap(ctx context.Context, src directory.Source) error {
	err := m.d.Engine.Reap(ctx, src)
	if errors.Is(err, engine.ErrBusy) {
		return nil // another process runs it: its runs are alive
	}
	return err
}

// restore takes a user or (u nil) a group out of the trash and writes the
// restored event.
func restore(ctx context.Context, tx store.Tx, u *directory.User, g *directory.Group, now time.Time, via Via) error {
	err := engine.Restore(ctx, tx, u, g, now, viaText(via))
	var managed *engine.ManagedError
	if errors.As(err, &managed) {
		return conflict(CodeSyncedAttribute, "%s", managed.Error()).with(err)
	}
	return err
}

func viaText(via Via) string {
	switch via {
	case ViaAPI:
		return "API"
	case ViaConsole:
		return "console"
	case ViaCLI:
		return "command line"
	}
	return string(via)
}

// purgeTrash deletes for good what went to the trash before before.
func purgeTrash(ctx context.Context, tx store.Tx, accountID string, before time.Time) (int, error) {
	return engine.PurgeTrash(ctx, tx, accountID, before)
}

// runError maps an engine error to an *Error whose message says what
// happened in one sentence; the run's reason keeps the details.
func (m *Manager) runError(src directory.Source, run directory.Run, err error) error {
	if err == nil {
		return nil
	}
	if e := AsError(err); e != nil && e.Code == CodeDomainClaimed {
		if run.ID != "" {
			e.RunID, e.Message = run.ID, e.Message+" (run "+run.ID+")"
		}
		return e
	}
	var kind Kind
	var msg string
	switch {
	case errors.Is(err, engine.ErrBusy):
		kind, msg = Busy, fmt.Sprintf("another run of source %s is in progress; try again when it ends", src.Name)
	case errors.Is(err, engine.ErrThreshold):
		kind, msg = Stopped, fmt.Sprintf("the run of %s would disable or delete more than its deletion limit allows; nothing was applied (review its changes, then rerun allowing deletes)", src.Name)
	case errors.Is(err, engine.ErrStopped):
		kind, msg = Stopped, fmt.Sprintf("a safety rule stopped the run of %s; nothing was applied", src.Name)
	case errors.Is(err, engine.ErrUnsupported):
		kind, msg = Unsupported, fmt.Sprintf("source %s (%s) cannot sync one user; run a sync of the whole source instead", src.Name, src.Kind)
	case errors.Is(err, engine.ErrUnknownUser):
		kind, msg = NotFound, err.Error()
	case errors.As(err, new(*engine.RunTimeError)):
		kind, msg = SourceFailed, "source "+src.Name+": "+err.Error()
	case connector.KindOf(err) != "":
		kind, msg = SourceFailed, "source "+src.Name+": "+connectorMessage(err)
	case errors.Is(err, context.Canceled):
		kind, msg = Unavailable, fmt.Sprintf("the run of %s was cancelled; nothing was applied", src.Name)
	default:
		return err
	}
	if run.ID != "" && kind != Busy && kind != Unsupported {
		msg += " (run " + run.ID + ")"
	}
	return &Error{Kind: kind, Message: msg, Err: err, RunID: run.ID}
}

// ShortReason is a run's reason as a person reads it: when the run failed
// because its source did, the reason up to what the source's connector
// says to an administrator, without the chain of causes under it (those
// are in the logs, at debug level).
func ShortReason(run directory.Run, err error) string {
	if KindOf(err) != SourceFailed {
		return run.Reason
	}
	msg := connectorMessage(err)
	if i := strings.Index(run.Reason, msg); i >= 0 && msg != "" {
		return run.Reason[:i+len(msg)]
	}
	return run.Reason
}

// connectorMessage is what a connector error says to an administrator,
// without the chain of causes under it (those go to the logs).
func connectorMessage(err error) string {
	var ce *connector.Error
	if !errors.As(err, &ce) {
		return err.Error()
	}
	msg := ce.Message
	if ce.Code != "" {
		msg = ce.Code + ": " + msg
	}
	return msg
}
