package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/graph"
	"github.com/dirsync/dirsync/internal/store"
)

// Run outcomes, as store.ExportRun.Outcome says them.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunPartial   = "partial" // some objects failed: see the sync errors
	RunStaged    = "staged"  // staging mode: planned, nothing written
	RunStopped   = "stopped" // a safety limit: nothing written
	RunFailed    = "failed"
)

// Modes of a cycle (Azure AD Connect's -PolicyType Delta and Initial).
const (
	ModeDelta = "delta"
	ModeFull  = "full"
)

// ErrBusy is returned when another cycle of the target is running.
var ErrBusy = errors.New("another cycle of the target is running")

// StaleRun is how long a cycle recorded as running keeps others from
// starting after its last sign of life (its start, or the heartbeat it
// records while it works, every HeartbeatEvery); past it, its process is
// taken for dead.
const (
	StaleRun       = 10 * time.Minute
	HeartbeatEvery = 30 * time.Second
)

// Exporter runs export cycles.
type Exporter struct {
	Store  store.Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Budget and BudgetWindow pace writes; WriteBudget per
	// WriteBudgetWindow when zero.
	Budget       int
	BudgetWindow time.Duration
}

// CycleOptions say how to run one cycle.
type CycleOptions struct {
	// Full reads the tenant from scratch instead of by delta.
	Full bool
	// AllowDeletes confirms a plan that deletes more than the threshold.
	AllowDeletes bool
	// Progress is told how many steps are written, of how many.
	Progress func(done, total int)
}

// Summary counts what a cycle planned and did.
type Summary struct {
	Planned  map[string]int `json:"planned"`
	Done     int            `json:"done"`
	Failed   int            `json:"failed"`
	Errors   int            `json:"sync_errors"`
	Requests int64          `json:"requests"`
	// Throttled counts 429 answers, Retries requests sent again.
	Throttled int64 `json:"throttled"`
	Retries   int64 `json:"retries"`
	// CloudUsers and CloudGroups are what the tenant holds, as read.
	CloudUsers  int  `json:"cloud_users"`
	CloudGroups int  `json:"cloud_groups"`
	ReadFull    bool `json:"read_full"`
	// Heartbeat is when a running cycle last said it was alive.
	Heartbeat time.Time `json:"heartbeat,omitzero"`
}

// lastSign is when a running cycle last showed it was alive.
func lastSign(r store.ExportRun) time.Time {
	var s Summary
	_ = json.Unmarshal(r.Summary, &s)
	if s.Heartbeat.After(r.StartedAt) {
		return s.Heartbeat
	}
	return r.StartedAt
}

// beat records that the cycle is alive, with its progress, at most every
// HeartbeatEvery.
func (e *Exporter) beat(ctx context.Context, res *Result, force bool) {
	now := clock.Or(e.Clock).Now()
	if !force && now.Sub(res.Summary.Heartbeat) < HeartbeatEvery {
		return
	}
	res.Summary.Heartbeat = now
	run := res.Run
	run.Summary, _ = json.Marshal(res.Summary)
	if err := e.Store.Update(ctx, func(tx store.Tx) error { return tx.UpdateExportRun(ctx, run) }); err != nil && e.Logger != nil {
		e.Logger.Warn("export: heartbeat", "run", run.ID, "err", err)
	}
}

// Result is a finished cycle: its run record, its plan and summary.
type Result struct {
	Run     store.ExportRun
	Steps   []Step
	Summary Summary
}

// Cycle runs one export cycle of the target into tenant: read the tenant
// (by delta unless Full), plan, and unless the target is in staging mode
// or the plan deletes more than the threshold, apply. The run is recorded
// with its plan and every step's outcome; the sync errors are replaced by
// this cycle's. An error is returned only when the cycle could not run to
// its end (the tenant unreachable, the credentials refused); the run
// records it.
func (e *Exporter) Cycle(ctx context.Context, t directory.Target, tenant *Tenant, o CycleOptions) (Result, error) {
	clk := clock.Or(e.Clock)
	log := e.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := ParseSettings(t.Settings)
	if err != nil {
		return Result{}, err
	}
	mode := ModeDelta
	if o.Full {
		mode = ModeFull
	}
	run := store.ExportRun{AccountID: t.AccountID, TargetID: t.ID, Mode: mode, Staging: s.Staging, Outcome: RunRunning, StartedAt: clk.Now()}
	// One cycle of a target at a time, across every process sharing the
	// database: the check and the new run are one transaction, so of two
	// processes starting a cycle at once, one sees the other's run.
	err = e.Store.Update(ctx, func(tx store.Tx) error {
		last, err := tx.ExportRuns(ctx, t.ID, 1)
		if err != nil {
			return err
		}
		if len(last) > 0 && last[0].Outcome == RunRunning && clk.Now().Sub(lastSign(last[0])) < StaleRun {
			return fmt.Errorf("%w (run %s, started %s)", ErrBusy, last[0].ID, last[0].StartedAt.Format(time.RFC3339))
		}
		if len(last) > 0 && last[0].Outcome == RunRunning {
			// Its process died: the run is recorded as what it was.
			dead := last[0]
			dead.Outcome, dead.Reason, dead.FinishedAt = RunFailed, "interrupted: the process running it stopped", clk.Now()
			if err := tx.UpdateExportRun(ctx, dead); err != nil {
				return err
			}
		}
		return tx.CreateExportRun(ctx, &run)
	})
	if err != nil {
		return Result{}, err
	}
	res := Result{Run: run}
	stats0 := tenant.Stats()
	err = e.cycle(ctx, t, s, tenant, o, &res)
	st := tenant.Stats()
	res.Summary.Requests, res.Summary.Throttled, res.Summary.Retries = st.Requests-stats0.Requests, st.Throttled-stats0.Throttled, st.Retries-stats0.Retries
	if err != nil {
		res.Run.Outcome, res.Run.Reason = RunFailed, err.Error()
		log.Warn("export cycle failed", "target", t.Name, "err", err)
	}
	res.Run.FinishedAt = clk.Now()
	res.Run.Summary, _ = json.Marshal(res.Summary)
	steps := res.Steps
	if steps == nil {
		steps = []Step{}
	}
	res.Run.Plan, _ = json.Marshal(steps)
	// The record of the run is written whatever ctx says: a cancelled
	// cycle is still a cycle that happened.
	keep := context.WithoutCancel(ctx)
	uerr := e.Store.Update(keep, func(tx store.Tx) error { return tx.UpdateExportRun(keep, res.Run) })
	return res, errors.Join(err, uerr)
}

func (e *Exporter) cycle(ctx context.Context, t directory.Target, s Settings, tenant *Tenant, o CycleOptions, res *Result) error {
	p, links, err := e.plan(ctx, t, s, tenant, o, res)
	if err != nil {
		return err
	}
	res.Summary.Planned = p.Counts()
	e.beat(ctx, res, true)
	res.Steps = p.Steps
	switch {
	case s.Staging:
		res.Run.Outcome, res.Run.Reason = RunStaged, "staging mode: the plan is recorded and nothing was written"
		markPlanned(p)
		return e.saveErrors(ctx, t, p, res)
	case p.Deletions() > s.Threshold() && !o.AllowDeletes:
		res.Run.Outcome = RunStopped
		res.Run.Reason = fmt.Sprintf("the plan deletes %d objects, more than the deletion threshold (%d): nothing was written; read the plan, then confirm with --allow-deletes", p.Deletions(), s.Threshold())
		markPlanned(p)
		return nil
	}
	if err := e.write(ctx, t, tenant, o, p, links, res); err != nil {
		return err
	}
	res.Run.Outcome = RunSucceeded
	if res.Summary.Failed > 0 || res.Summary.Planned[OpError] > 0 {
		res.Run.Outcome = RunPartial
		res.Run.Reason = "some objects were not exported: see dirsync target errors"
	}
	return e.saveErrors(ctx, t, p, res)
}

// plan reads the tenant (by delta, into the cache) and the target's
// sources, and plans what to write; it returns the plan with the links
// known before it.
func (e *Exporter) plan(ctx context.Context, t directory.Target, s Settings, tenant *Tenant, o CycleOptions, res *Result) (*Plan, []store.TargetLink, error) {
	c, cur, err := loadCloud(ctx, e.Store, t.ID)
	if err != nil {
		return nil, nil, err
	}
	if res.Summary.ReadFull, err = tenant.refresh(ctx, c, &cur, o.Full); err != nil {
		return nil, nil, tenant.explain(err, "read the tenant", PermUsers+" and "+PermGroups)
	}
	if err := c.save(ctx, e.Store, t.ID, cur); err != nil {
		return nil, nil, err
	}
	res.Summary.CloudUsers, res.Summary.CloudGroups = len(c.users), len(c.groups)
	rt, err := tenant.routing(ctx)
	if err != nil {
		return nil, nil, err
	}
	d, err := loadDesired(ctx, e.Store, t.AccountID, s, rt)
	if err != nil {
		return nil, nil, err
	}
	links, err := e.Store.TargetLinks(ctx, t.ID)
	if err != nil {
		return nil, nil, err
	}
	return makePlan(d, c, links), links, nil
}

// write applies the plan to the tenant within the write budget, and
// counts the steps done and failed.
func (e *Exporter) write(ctx context.Context, t directory.Target, tenant *Tenant, o CycleOptions, p *Plan, links []store.TargetLink, res *Result) error {
	// Matches found by the plan are links from now on: the tenant already
	// has those objects.
	if err := e.Store.Update(ctx, func(tx store.Tx) error {
		for _, l := range p.links {
			if err := tx.SetTargetLink(ctx, t.ID, l); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	progress := func(done, total int) {
		res.Summary.Done = done
		e.beat(ctx, res, false)
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	a := &applier{t: tenant, st: e.Store, target: t.ID, progress: progress, total: len(p.Steps),
		budget: &budget{clk: clock.Or(e.Clock), limit: orInt(e.Budget, WriteBudget), win: orDur(e.BudgetWindow, WriteBudgetWindow)},
		ids:    map[string]map[string]string{kindUser: {}, kindGroup: {}}}
	for _, l := range links {
		a.ids[l.Kind][l.Anchor] = l.CloudID
	}
	for _, l := range p.links {
		a.ids[l.Kind][l.Anchor] = l.CloudID
	}
	if err := a.apply(ctx, p); err != nil {
		res.Steps = p.Steps
		_ = e.saveErrors(context.WithoutCancel(ctx), t, p, res)
		return err
	}
	res.Steps = p.Steps
	res.Summary.Done = 0
	for _, s := range p.Steps {
		switch s.Outcome {
		case OutcomeDone:
			res.Summary.Done++
		case OutcomeFailed:
			res.Summary.Failed++
		}
	}
	return nil
}

func markPlanned(p *Plan) {
	for i := range p.Steps {
		if p.Steps[i].Op != OpError && p.Steps[i].Op != OpSkip {
			p.Steps[i].Outcome = OutcomePlanned
		}
	}
}

// saveErrors makes the target's sync errors this cycle's: the plan's
// error steps and the failed writes. An error seen before keeps when it
// was first seen; one that did not recur is cleared.
func (e *Exporter) saveErrors(ctx context.Context, t directory.Target, p *Plan, res *Result) error {
	now := clock.Or(e.Clock).Now()
	old, err := e.Store.TargetErrors(ctx, t.ID)
	if err != nil {
		return err
	}
	first := map[string]time.Time{}
	for _, o := range old {
		first[o.Kind+"\x00"+o.Anchor+"\x00"+o.Code] = o.FirstSeen
	}
	var errs []store.TargetError
	for _, s := range p.Steps {
		if s.Op != OpError && s.Outcome != OutcomeFailed {
			continue
		}
		te := store.TargetError{Kind: s.Kind, Anchor: s.Anchor, Object: s.Object, Attribute: s.Attribute, Value: s.Value,
			Code: s.Code, Message: s.Error, FirstSeen: now, LastSeen: now}
		if s.Op == OpAddMember || s.Op == OpRemoveMember {
			te.Attribute, te.Value = "members", s.Member
		}
		if f, ok := first[te.Kind+"\x00"+te.Anchor+"\x00"+te.Code]; ok {
			te.FirstSeen = f
		}
		errs = append(errs, te)
	}
	res.Summary.Errors = len(errs)
	return e.Store.Update(ctx, func(tx store.Tx) error { return tx.ReplaceTargetErrors(ctx, t.ID, errs) })
}

// routing reads the verified domains; without Domain.Read.All there are
// none, and UPNs go as they are.
func (t *Tenant) routing(ctx context.Context) (routing, error) {
	ds, err := t.domains(ctx, t.client)
	var ge *graph.Error
	if errors.As(err, &ge) && ge.Status == http.StatusForbidden {
		return routing{}, nil
	}
	if err != nil {
		return routing{}, t.explain(err, "read the domains", PermDomains)
	}
	return routing{verified: ds.verified, initial: ds.initial}, nil
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orDur(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}
