package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/provision"
	"github.com/dirsync/dirsync/internal/schedule"
)

// TargetSyncRequest says how to run an export cycle.
type TargetSyncRequest struct {
	// Full reads the tenant from scratch (Azure AD Connect's Initial
	// cycle) instead of by delta.
	Full bool
	// AllowDeletes confirms a plan that deletes more than the target's
	// deletion threshold.
	AllowDeletes bool
	// Progress is told how many steps are written, of how many.
	Progress func(done, total int)
}

// TargetCycle is a finished export cycle: its run, plan and summary.
type TargetCycle struct {
	Target  string
	Run     ExportRun
	Steps   []provision.Step
	Summary provision.Summary
}

// targetLocks keeps one cycle per target in this process.
var targetLocks sync.Map // target id -> *sync.Mutex

// SyncTarget runs one export cycle of a target now and returns when it
// has ended. A cycle the deletion threshold stopped is a Stopped error, a
// cycle that could not reach the tenant a SourceFailed one; either way the
// run records it. A staging target plans and writes nothing.
func (m *Manager) SyncTarget(ctx context.Context, actor Actor, key string, req TargetSyncRequest) (TargetCycle, error) {
	if err := actor.require(ActSync); err != nil {
		return TargetCycle{}, err
	}
	t, err := m.findTarget(ctx, m.d.Store, actor, key)
	if err != nil {
		return TargetCycle{}, err
	}
	return m.cycleTarget(ctx, t, req)
}

// cycleTarget runs one cycle of a target, for a person or the scheduler.
func (m *Manager) cycleTarget(ctx context.Context, t directory.Target, req TargetSyncRequest) (TargetCycle, error) {
	if !t.Enabled {
		return TargetCycle{}, &Error{Kind: Conflict, Code: CodeTurnedOff, Message: fmt.Sprintf("target %s is turned off", t.Name)}
	}
	s, err := provision.ParseSettings(t.Settings)
	if err != nil {
		return TargetCycle{}, err
	}
	if len(s.Sources) == 0 {
		return TargetCycle{}, invalid("sources", "target %s has no source: give it the Active Directory sources that feed it (dirsync target set %s --source NAME)", t.Name, t.Name)
	}
	tenant, err := m.openTenant(t)
	if err != nil {
		return TargetCycle{}, err
	}
	mu, _ := targetLocks.LoadOrStore(t.ID, &sync.Mutex{})
	if !mu.(*sync.Mutex).TryLock() {
		return TargetCycle{}, newError(Busy, "another cycle of target %s is running", t.Name)
	}
	defer mu.(*sync.Mutex).Unlock()
	x := &provision.Exporter{Store: m.d.Store, Clock: m.d.Clock, Logger: m.d.Logger}
	res, cerr := x.Cycle(ctx, t, tenant, provision.CycleOptions{Full: req.Full, AllowDeletes: req.AllowDeletes, Progress: req.Progress})
	out := TargetCycle{Target: t.Name, Run: res.Run, Steps: res.Steps, Summary: res.Summary}
	switch {
	case errors.Is(cerr, provision.ErrBusy):
		return out, newError(Busy, "target %s: %v", t.Name, cerr).with(cerr)
	case cerr != nil && res.Run.ID != "":
		return out, &Error{Kind: SourceFailed, Message: fmt.Sprintf("target %s: %s", t.Name, connectorMessage(cerr)), RunID: res.Run.ID, Err: cerr}
	case cerr != nil:
		return out, cerr
	case res.Run.Outcome == provision.RunStopped:
		return out, &Error{Kind: Stopped, Message: fmt.Sprintf("target %s: %s", t.Name, res.Run.Reason), RunID: res.Run.ID}
	}
	return out, nil
}

// TargetErrors lists a target's sync errors from its last cycle.
func (m *Manager) TargetErrors(ctx context.Context, actor Actor, key string) ([]TargetError, error) {
	if err := actor.require(ActRead); err != nil {
		return nil, err
	}
	t, err := m.findTarget(ctx, m.d.Store, actor, key)
	if err != nil {
		return nil, err
	}
	return m.d.Store.TargetErrors(ctx, t.ID)
}

// TargetRuns lists a target's export runs, newest first.
func (m *Manager) TargetRuns(ctx context.Context, actor Actor, key string, limit int) ([]ExportRun, error) {
	if err := actor.require(ActRead); err != nil {
		return nil, err
	}
	t, err := m.findTarget(ctx, m.d.Store, actor, key)
	if err != nil {
		return nil, err
	}
	return m.d.Store.ExportRuns(ctx, t.ID, limit)
}

// TargetRun returns one export run of the account with its plan.
func (m *Manager) TargetRun(ctx context.Context, actor Actor, id string) (ExportRun, []provision.Step, error) {
	if err := actor.require(ActRead); err != nil {
		return ExportRun{}, nil, err
	}
	r, err := m.d.Store.ExportRun(ctx, actor.AccountID, id)
	if err != nil {
		return r, nil, notFound("account %s has no export run %q", actor.AccountName, id).with(err)
	}
	var steps []provision.Step
	if len(r.Plan) > 0 {
		if err := json.Unmarshal(r.Plan, &steps); err != nil {
			return r, nil, fmt.Errorf("export run %s: stored plan: %w", r.ID, err)
		}
	}
	return r, steps, nil
}

// IsTarget reports whether key names a target of the account and no
// source, so that a front end's "sync NAME" can take either.
func (m *Manager) IsTarget(ctx context.Context, actor Actor, key string) bool {
	if _, err := m.findSource(ctx, m.d.Store, actor, key); err == nil {
		return false
	}
	_, err := m.findTarget(ctx, m.d.Store, actor, key)
	return err == nil
}

// RunDueTargets runs a cycle of every target whose schedule (every 30
// minutes unless set) is due, one after the other, and returns how many
// ran. A target turned off, in no source, or whose cycle is running in
// this process lets its slot pass. The service calls it on every tick, in
// a loop of its own so that a long export never holds the sources'
// schedules back.
func (m *Manager) RunDueTargets(ctx context.Context) (int, error) {
	accounts, err := m.d.Store.Accounts(ctx)
	if err != nil {
		return 0, fmt.Errorf("target scheduler: %w", err)
	}
	ran := 0
	for _, acc := range accounts {
		targets, err := m.d.Store.Targets(ctx, acc.ID)
		if err != nil {
			return ran, fmt.Errorf("target scheduler: %w", err)
		}
		for _, t := range targets {
			if !t.Enabled || !m.targetDue(ctx, t) {
				continue
			}
			c, err := m.cycleTarget(ctx, t, TargetSyncRequest{})
			if err != nil && c.Run.ID == "" {
				m.d.Logger.Warn("scheduled export not started", "target", t.Name, "err", err)
				continue
			}
			ran++
			m.d.Logger.Info("scheduled export", "account", t.AccountID, "target", t.Name, "run", c.Run.ID, "outcome", c.Run.Outcome)
		}
	}
	return ran, nil
}

// targetDue reports whether a slot of the target's schedule has come since
// its last cycle started (since it was added, when it never ran).
func (m *Manager) targetDue(ctx context.Context, t directory.Target) bool {
	s, err := provision.ParseSettings(t.Settings)
	if err != nil || len(s.Sources) == 0 {
		return false
	}
	sc, err := schedule.Parse(s.ScheduleText())
	if err != nil {
		return false
	}
	last := t.CreatedAt
	if runs, err := m.d.Store.ExportRuns(ctx, t.ID, 1); err == nil && len(runs) > 0 {
		last = runs[0].StartedAt
	}
	due, _ := schedule.Due(sc, last, m.now())
	return due
}

// NextTargetRun is when the target's schedule next runs it, zero when it
// does not (turned off, no schedule).
func (m *Manager) NextTargetRun(ctx context.Context, t directory.Target) time.Time {
	s, err := provision.ParseSettings(t.Settings)
	if err != nil || !t.Enabled {
		return time.Time{}
	}
	sc, err := schedule.Parse(s.ScheduleText())
	if err != nil {
		return time.Time{}
	}
	last := t.CreatedAt
	if runs, err := m.d.Store.ExportRuns(ctx, t.ID, 1); err == nil && len(runs) > 0 {
		last = runs[0].StartedAt
	}
	n, _ := sc.Next(last)
	if now := m.now(); n.Before(now) {
		n, _ = sc.Next(now)
	}
	return n
}
