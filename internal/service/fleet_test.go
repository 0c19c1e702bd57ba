package service

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
)

// fleet is several services on one PostgreSQL database, as replicas on
// several machines would be, sharing one fake clock.
type fleet struct {
	t     *testing.T
	clock *clock.Fake
	dsn   string
	parts []*factory.Parts
	svcs  []*Service
	stops []context.CancelFunc
	dones []chan error
	grace time.Duration
}

// newFleet opens n services on a fresh PostgreSQL schema and runs them.
func newFleet(t *testing.T, n int, cfg Config) *fleet {
	t.Helper()
	t.Setenv("DIRSYNC_MASTER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	f := &fleet{t: t, clock: clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)), dsn: sqltest.PostgresDSN(t)}
	for i := range n {
		f.start(i, cfg)
	}
	return f
}

func (f *fleet) start(i int, cfg Config) {
	t := f.t
	logger := slog.New(slog.NewTextHandler(&testLog{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("replica", i)
	p, err := factory.Open(t.Context(), factory.Options{DB: f.dsn, Clock: f.clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cfg.Clock = f.clock
	if cfg.ShutdownGrace == 0 {
		// A run left retrying a tenant the test has closed (cleanups
		// close the tenants first) holds its replica this long.
		cfg.ShutdownGrace = 10 * time.Second
	}
	f.grace = cfg.ShutdownGrace
	svc := New(p, cfg, logger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, ln) }()
	t.Cleanup(func() { f.stop(i) })
	for len(f.svcs) <= i {
		f.parts, f.svcs = append(f.parts, nil), append(f.svcs, nil)
		f.stops, f.dones = append(f.stops, nil), append(f.dones, nil)
	}
	f.parts[i], f.svcs[i], f.stops[i], f.dones[i] = p, svc, stop, done
}

// stop shuts replica i down and waits for it.
func (f *fleet) stop(i int) {
	if f.stops[i] == nil {
		return
	}
	f.stops[i]()
	f.stops[i] = nil
	select {
	case <-f.dones[i]:
	case <-time.After(f.grace + 30*time.Second):
		f.t.Errorf("replica %d did not stop", i)
	}
}

// tenants starts n emulated tenants of a few users each: one per source,
// as a deployment never has two sources on one directory.
func (f *fleet) tenants(n int) []*entraemu.Server {
	var out []*entraemu.Server
	for i := range n {
		tenant, err := entraemu.New(entraemu.Options{Users: 3, Groups: 1, Seed: int64(100 + i)})
		if err != nil {
			f.t.Fatal(err)
		}
		srv, err := tenant.Start("127.0.0.1:0")
		if err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(func() { srv.Close() })
		out = append(out, srv)
	}
	return out
}

// addSources creates accounts × perAccount sources over the tenants, each
// on the schedule, through replica 0.
func (f *fleet) addSources(accounts, perAccount int, sched string) []manage.SourceView {
	t := f.t
	m := f.parts[0].Manager
	sc, err := manage.ParseSchedule(sched)
	if err != nil {
		t.Fatal(err)
	}
	emus := f.tenants(accounts * perAccount)
	var out []manage.SourceView
	for a := range accounts {
		acc, err := m.CreateAccount(t.Context(), manage.DeploymentOperator(), fmt.Sprintf("acct%02d", a))
		if err != nil {
			t.Fatal(err)
		}
		owner, err := m.Operator(t.Context(), acc.Name)
		if err != nil {
			t.Fatal(err)
		}
		for s := range perAccount {
			w := &world{emu: emus[a*perAccount+s]}
			name := fmt.Sprintf("src%d", s)
			v, err := m.AddSource(t.Context(), owner, manage.SourceInput{Name: &name, Kind: directory.KindEntra,
				Config: w.config(nil), Secret: []byte(w.emu.Credentials().ClientSecret), Schedule: &sc})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
	}
	return out
}

// slotRuns lists every account's scheduled runs by source, then slot.
func (f *fleet) slotRuns(srcs []manage.SourceView) map[string]map[time.Time][]directory.Run {
	out := map[string]map[time.Time][]directory.Run{}
	st := f.parts[0].Store
	for _, src := range srcs {
		runs, err := st.Runs(f.t.Context(), src.AccountID, src.ID, 0)
		if err != nil {
			f.t.Fatal(err)
		}
		out[src.ID] = map[time.Time][]directory.Run{}
		for _, r := range runs {
			if !r.Slot.IsZero() {
				out[src.ID][r.Slot] = append(out[src.ID][r.Slot], r)
			}
		}
	}
	return out
}

// settle waits until every source has a run of the slot and no run is
// queued or running anywhere.
func (f *fleet) settle(srcs []manage.SourceView, slot time.Time, timeout time.Duration) {
	f.t.Helper()
	st := f.parts[0].Store
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		fired := 0
		for _, slots := range f.slotRuns(srcs) {
			fired += len(slots[slot])
		}
		q, err := st.RunsByOutcome(f.t.Context(), directory.OutcomeQueued)
		if err != nil {
			f.t.Fatal(err)
		}
		r, err := st.RunsByOutcome(f.t.Context(), directory.OutcomeRunning)
		if err != nil {
			f.t.Fatal(err)
		}
		if len(q)+len(r) == 0 && fired >= len(srcs) {
			return
		}
		if time.Now().After(deadline) {
			all, _ := st.Runs(f.t.Context(), srcs[0].AccountID, srcs[0].ID, 0)
			for _, run := range all {
				f.t.Logf("source 0: %s %s slot %v started %s", run.ID, run.Outcome, run.Slot, run.StartedAt)
			}
			for _, run := range append(q, r...) {
				f.t.Logf("left: %s %s %s slot %s started %s %q", run.ID, run.SourceID, run.Outcome, run.Slot, run.StartedAt, run.Reason)
			}
			f.t.Fatalf("after %s, %d of %d sources ran slot %s; %d runs queued and %d running", timeout, fired, len(srcs),
				slot.Format("15:04"), len(q), len(r))
		}
	}
}

// TestFleetRunsEverySlotOnce: three replicas on one database, 20 sources
// every minute for 5 minutes: each slot of each source ran exactly once,
// and succeeded.
func TestFleetRunsEverySlotOnce(t *testing.T) {
	f := newFleet(t, 3, Config{Workers: 2, Tick: 15 * time.Second})
	srcs := f.addSources(10, 2, "every 1m")
	start := f.clock.Now()
	const minutes = 5
	for k := 1; k <= minutes; k++ {
		// Every replica's scheduler wakes on its tick, at the same moment.
		for range 4 {
			f.clock.Advance(15 * time.Second)
			time.Sleep(20 * time.Millisecond)
		}
		f.settle(srcs, start.Add(time.Duration(k)*time.Minute), 60*time.Second)
	}
	var problems []string
	for id, slots := range f.slotRuns(srcs) {
		for k := 1; k <= minutes; k++ {
			slot := start.Add(time.Duration(k) * time.Minute)
			runs := slots[slot]
			switch {
			case len(runs) != 1:
				problems = append(problems, fmt.Sprintf("source %s slot %s: %d runs", id, slot.Format("15:04"), len(runs)))
			case runs[0].Outcome != directory.OutcomeSucceeded:
				problems = append(problems, fmt.Sprintf("source %s slot %s: %s %s", id, slot.Format("15:04"), runs[0].Outcome, runs[0].Reason))
			}
		}
		if len(slots) != minutes {
			problems = append(problems, fmt.Sprintf("source %s: %d slots, want %d", id, len(slots), minutes))
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// ownerOf is the operator of the source's account, through replica i.
func (f *fleet) ownerOf(i int, src manage.SourceView) manage.Actor {
	f.t.Helper()
	m := f.parts[i].Manager
	accs, err := m.Accounts(f.t.Context(), manage.DeploymentOperator())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, a := range accs {
		if a.ID == src.AccountID {
			owner, err := m.Operator(f.t.Context(), a.Name)
			if err != nil {
				f.t.Fatal(err)
			}
			return owner
		}
	}
	f.t.Fatalf("no account %s", src.AccountID)
	return manage.Actor{}
}

// waitOutcome waits until the run has an outcome other than queued or
// running, and returns it.
func (f *fleet) waitOutcome(src manage.SourceView, id string) directory.Run {
	f.t.Helper()
	st := f.parts[len(f.parts)-1].Store
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		run, err := st.Run(f.t.Context(), src.AccountID, id)
		if err != nil {
			f.t.Fatal(err)
		}
		if run.Outcome != directory.OutcomeQueued && run.Outcome != directory.OutcomeRunning {
			return run
		}
	}
	f.t.Fatalf("run %s did not end", id)
	return directory.Run{}
}

// TestFleetRecoversARunWhoseProcessDied: a run recorded as running whose
// process died (its lease ran out) is marked interrupted by another
// replica, which queues it again and runs it: the directory ends up equal
// to the tenant, and the history says what happened.
func TestFleetRecoversARunWhoseProcessDied(t *testing.T) {
	f := newFleet(t, 2, Config{Workers: 1, Tick: 15 * time.Second})
	src := f.addSources(1, 1, "none")[0]
	st := f.parts[0].Store
	dead := directory.Run{AccountID: src.AccountID, SourceID: src.ID, Source: src.Name, Kind: directory.RunFull,
		Trigger: "schedule", StartedAt: f.clock.Now(), Outcome: directory.OutcomeRunning}
	err := st.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.CreateRun(t.Context(), &dead); err != nil {
			return err
		}
		return tx.AcquireLease(t.Context(), src.ID, "killed-host/pid-1/x", f.clock.Now(), time.Minute)
	})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Second) // the lease still runs: nothing happens
	time.Sleep(100 * time.Millisecond)
	if run, _ := st.Run(t.Context(), src.AccountID, dead.ID); run.Outcome != directory.OutcomeRunning {
		t.Fatalf("a run whose lease still runs was %s", run.Outcome)
	}
	// Ticks until the lease has run out and the run is taken over, and no
	// further: the clock is also the clock of the retry's requests to the
	// tenant, and a jump while one is in flight times it out.
	running := func() bool {
		run, _ := st.Run(t.Context(), src.AccountID, dead.ID)
		return run.Outcome == directory.OutcomeRunning
	}
	for step := 0; step < 6 && running(); step++ {
		f.clock.Advance(15 * time.Second)
		for wait := time.Now().Add(500 * time.Millisecond); running() && time.Now().Before(wait); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	interrupted := f.waitOutcome(src, dead.ID)
	// Marked interrupted, then queued again: a moment apart.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(interrupted.Reason, "queued again") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		interrupted, _ = st.Run(t.Context(), src.AccountID, dead.ID)
	}
	if interrupted.Outcome != directory.OutcomeInterrupted || !strings.Contains(interrupted.Reason, "queued again as run ") {
		t.Fatalf("the dead run: %s %q", interrupted.Outcome, interrupted.Reason)
	}
	retryID := interrupted.Reason[strings.LastIndex(interrupted.Reason, " ")+1:]
	retry := f.waitOutcome(src, retryID)
	if retry.Outcome != directory.OutcomeSucceeded || retry.Kind != directory.RunFull || retry.Trigger != "schedule" {
		t.Fatalf("the retry: %+v", retry)
	}
	users, err := f.parts[1].Manager.Users(t.Context(), f.ownerOf(1, src), manage.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Items) != 3 {
		t.Fatalf("the directory holds %d users, the tenant 3", len(users.Items))
	}
}

// TestFleetShutdownHandsQueuedRunsOn: a replica shutting down with a run
// queued hands it to another, which runs it.
func TestFleetShutdownHandsQueuedRunsOn(t *testing.T) {
	f := newFleet(t, 2, Config{Workers: 1, Tick: 15 * time.Second})
	src := f.addSources(1, 1, "none")[0]
	// Replica 0 holds a run it would execute in an hour (a retry's wait).
	m0 := f.parts[0].Manager
	var c captured
	m0.SetExecutor(&c)
	run, err := m0.RequestSync(t.Context(), f.ownerOf(0, src), src.ID, manage.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m0.SetExecutor(f.svcs[0].Runner)
	c.job.NotBefore = f.clock.Now().Add(time.Hour)
	if err := f.svcs[0].Runner.Enqueue(c.job); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(15 * time.Second) // replica 1 polls: the run is claimed by replica 0
	time.Sleep(100 * time.Millisecond)
	if cur, _ := f.parts[1].Store.Run(t.Context(), src.AccountID, run.ID); cur.Outcome != directory.OutcomeQueued {
		t.Fatalf("replica 1 took a run replica 0 holds: %s", cur.Outcome)
	}
	f.stop(0)
	f.clock.Advance(15 * time.Second) // replica 1's next poll
	if done := f.waitOutcome(src, run.ID); done.Outcome != directory.OutcomeSucceeded {
		t.Fatalf("the run handed on: %+v", done)
	}
}

// TestFleetRunLosingItsDatabaseConnection: the database connection of a
// running sync is cut (pg_terminate_backend, as a failover or an
// administrator would): the run fails cleanly, its reason names the
// database, nothing of it is applied, and it is retried, which succeeds.
func TestFleetRunLosingItsDatabaseConnection(t *testing.T) {
	f := &fleet{t: t, clock: clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)), dsn: sqltest.PostgresDSN(t)}
	t.Setenv("DIRSYNC_MASTER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	app := fmt.Sprintf("dirsync_cut_%d", time.Now().UnixNano())
	f.dsn += "&application_name=" + app
	f.start(0, Config{Workers: 1, Tick: 15 * time.Second})
	tenant, err := entraemu.New(entraemu.Options{Users: 400, Groups: 20, Seed: 7, Latency: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	emu, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	m := f.parts[0].Manager
	owner, err := m.Operator(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	name, none := "cut", schedule.Schedule{Kind: schedule.None}
	w := &world{emu: emu}
	src, err := m.AddSource(t.Context(), owner, manage.SourceInput{Name: &name, Kind: directory.KindEntra,
		Config: w.config(nil), Secret: []byte(emu.Credentials().ClientSecret), Schedule: &none})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", os.Getenv(sqltest.PostgresEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	run, err := m.RequestSync(t.Context(), owner, src.ID, manage.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// Cut every connection of the service that is inside a transaction,
	// once, while the run runs.
	st := f.parts[0].Store
	cut := 0
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		cur, err := st.Run(t.Context(), src.AccountID, run.ID)
		if err == nil && cur.Outcome != directory.OutcomeQueued && cur.Outcome != directory.OutcomeRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not end: %+v", cur)
		}
		if cur.Outcome != directory.OutcomeRunning || cut > 0 {
			continue // one cut: the connections opened after it work
		}
		var n int
		// Not the run's progress note: it is written apart from the run's
		// work, on purpose, and losing it changes nothing of the run.
		admin.QueryRowContext(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND xact_start IS NOT NULL AND query NOT LIKE '%run_progress%'`, app).Scan(&n)
		cut += n
	}
	failed, _ := st.Run(t.Context(), src.AccountID, run.ID)
	// Recorded failed, then its retry queued: a moment apart.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(failed.Reason, "retry 1 of") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		failed, _ = st.Run(t.Context(), src.AccountID, run.ID)
	}
	if cut == 0 || failed.Outcome != directory.OutcomeFailed || !strings.Contains(failed.Reason, "database") ||
		!strings.Contains(failed.Reason, "retry 1 of") {
		t.Fatalf("after cutting %d connections, the run: %s %q", cut, failed.Outcome, failed.Reason)
	}
	users, err := m.Users(t.Context(), owner, manage.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Items) != 0 {
		t.Fatalf("the failed run left %d users", len(users.Items))
	}
	retryID := failed.Reason[strings.LastIndex(failed.Reason, "(run ")+5 : strings.LastIndex(failed.Reason, ")")]
	f.clock.Advance(time.Minute)
	if retry := f.waitOutcome(src, retryID); retry.Outcome != directory.OutcomeSucceeded || retry.SourceUsers != 400 {
		t.Fatalf("the retry: %s %q, %d users read", retry.Outcome, retry.Reason, retry.SourceUsers)
	}
}
