package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// ErrShuttingDown is returned for jobs handed to a runner that is shutting
// down.
var ErrShuttingDown = errors.New("service: shutting down")

// errServerShutDown cancels the runs still in progress when a shutdown's
// grace ends; each records "cancelled: the server shut down".
var errServerShutDown = errors.New("the server shut down")

// DefaultClaimTTL is how long a queued run stays claimed by a process
// that stopped renewing its claim (it died) before another may take it.
const DefaultClaimTTL = time.Minute

// Runner executes queued runs (manage.Executor) in this process, on a
// bounded pool of workers, one run per source at a time, in the order they
// were queued. A job that must wait (a retry) waits on the clock without
// holding a worker.
//
// Queued runs are shared with the other processes on the database: the
// runner claims the runs it will execute (Enqueue, Poll), as many as it
// has idle workers, and leaves the rest to whichever process has idle
// workers first. A request confirmed with AllowDeletes stays here, as its
// confirmation is not stored. Shutdown hands the runs not started back.
type Runner struct {
	Manager *manage.Manager
	Clock   clock.Clock
	Logger  *slog.Logger
	Metrics *Metrics
	// Workers bounds the runs in progress at once.
	Workers int
	// Holder names this process in the runs it claims; empty means one
	// made of the host name, the process id and a random part.
	Holder string
	// ClaimTTL is how long a claim lasts unless renewed (default
	// DefaultClaimTTL); Poll renews them.
	ClaimTTL time.Duration
	// AccountShare bounds the runs of one account in progress at once,
	// so that one account's sources, hanging ones included, always leave
	// workers to the others; 0 means half the workers, at least one.
	AccountShare int
	// Overtime is how long a run holds a worker: a run still going after
	// it gives its worker back to the pool (it still counts in its
	// account's share), so that runs hanging until their max run time in
	// as many accounts as there are workers cannot starve a third
	// account. 0 means DefaultOvertime.
	Overtime time.Duration
	// OnFinish, when set, is called after every run (to wake the webhook
	// dispatcher).
	OnFinish func(directory.Run)

	initOnce sync.Once
	runCtx   context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex
	queues  map[string][]manage.Job // per source, in order
	active  map[string]bool         // a goroutine drains the source's queue
	waiting map[clock.Timer]manage.Job
	known   map[string]bool // the runs held here: queued, waiting or running
	closed  bool
	// Workers in use: the runs holding one (not in overtime), the runs in
	// progress per account, and the runs waiting for one, in order.
	pool    int
	byAcc   map[string]int
	waiters []*waiter
}

// DefaultOvertime is how long a run holds a worker before it gives it back
// to the pool by default: longer than most runs, short beside a max run
// time.
const DefaultOvertime = 10 * time.Minute

var _ manage.Executor = (*Runner)(nil)

func (r *Runner) init() {
	r.initOnce.Do(func() {
		r.Workers = max(r.Workers, 1)
		if r.AccountShare <= 0 {
			r.AccountShare = max(r.Workers/2, 1)
		}
		if r.Overtime <= 0 {
			r.Overtime = DefaultOvertime
		}
		r.byAcc = map[string]int{}
		var cancel context.CancelCauseFunc
		r.runCtx, cancel = context.WithCancelCause(context.Background())
		// The cause is what a cancelled run records as its reason.
		r.cancel = func() { cancel(errServerShutDown) }
		r.queues, r.active = map[string][]manage.Job{}, map[string]bool{}
		r.waiting = map[clock.Timer]manage.Job{}
		r.known = map[string]bool{}
		if r.Logger == nil {
			r.Logger = slog.New(slog.DiscardHandler)
		}
		r.Clock = clock.Or(r.Clock)
		if r.Holder == "" {
			r.Holder = processName()
		}
		if r.ClaimTTL <= 0 {
			r.ClaimTTL = DefaultClaimTTL
		}
	})
}

// processName names this process for the runs it claims: readable for a
// person looking at who holds a run, unique across processes.
func processName() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/pid-%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Start executes the runs left queued (by this process before a restart,
// or by others), as many as it has workers for.
func (r *Runner) Start(ctx context.Context) error {
	return r.Poll(ctx)
}

// idleLocked is how many more runs this process can start now: its
// workers less those in use (runs past their overtime gave theirs back)
// and the runs it holds that wait for one.
func (r *Runner) idleLocked() int {
	running := 0
	for _, n := range r.byAcc {
		running += n
	}
	pending := len(r.known) - len(r.waiting) - running
	return r.Workers - r.pool - max(pending, 0)
}

// Poll renews this process's claims on the queued runs it holds, and
// claims due queued runs for its idle workers.
func (r *Runner) Poll(ctx context.Context) error {
	r.init()
	if err := r.Manager.RenewClaims(ctx, r.Holder, r.ClaimTTL); err != nil {
		return err
	}
	r.mu.Lock()
	idle, closed := r.idleLocked(), r.closed
	r.mu.Unlock()
	if closed || idle <= 0 {
		return nil
	}
	jobs, err := r.Manager.ClaimQueued(ctx, r.Holder, idle, r.ClaimTTL)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range jobs {
		if r.closed {
			break // Shutdown hands them back
		}
		if !r.known[j.Run.ID] {
			r.known[j.Run.ID] = true
			r.enqueueLocked(j)
		}
	}
	return nil
}

// Enqueue takes a job: it runs after the source's jobs queued before it,
// once its NotBefore has passed. A scheduled slot's run that finds every
// worker busy is left queued in the database, for whichever process has a
// worker first (this one's next Poll included); a request is held here,
// as its confirmation (AllowDeletes) is not stored. A run already held
// here is not taken twice.
func (r *Runner) Enqueue(job manage.Job) error {
	r.init()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrShuttingDown
	}
	pooled := !job.Run.Slot.IsZero() && !job.NotBefore.After(r.Clock.Now())
	if r.known[job.Run.ID] || pooled && r.idleLocked() <= 0 {
		r.mu.Unlock()
		return nil
	}
	r.known[job.Run.ID] = true
	r.mu.Unlock()
	ok, err := r.Manager.ClaimJob(context.Background(), job, r.Holder, r.ClaimTTL)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || !ok {
		// Another process has it; or the database failed, and the run
		// stays queued for the next Poll anywhere.
		delete(r.known, job.Run.ID)
		if err != nil {
			r.Logger.Warn("claim queued run", "run", job.Run.ID, "err", err)
		}
		return nil
	}
	if r.closed {
		delete(r.known, job.Run.ID)
		return ErrShuttingDown
	}
	return r.enqueueLocked(job)
}

func (r *Runner) enqueueLocked(job manage.Job) error {
	if wait := job.NotBefore.Sub(r.Clock.Now()); wait > 0 {
		var t clock.Timer
		t = r.Clock.AfterFunc(wait, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			delete(r.waiting, t)
			if r.closed {
				return // Shutdown abandons what waits
			}
			job.NotBefore = time.Time{} // due now
			r.enqueueLocked(job)
		})
		r.waiting[t] = job
		return nil
	}
	src := job.Run.SourceID
	r.queues[src] = append(r.queues[src], job)
	if !r.active[src] {
		r.active[src] = true
		r.wg.Add(1)
		go r.drain(src)
	}
	r.count(job.Run.Trigger, "queued")
	return nil
}

func (r *Runner) count(trigger, what string) {
	if r.Metrics != nil {
		r.Metrics.Add("dirsync_sync_requests_total", 1, "trigger", trigger, "result", what)
	}
}

// Busy reports whether a run of the source is queued here or in progress.
func (r *Runner) Busy(sourceID string) bool {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active[sourceID]
}

// drain executes the source's jobs one after the other.
func (r *Runner) drain(src string) {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		q := r.queues[src]
		if len(q) == 0 || r.closed {
			// At shutdown, the jobs left are handed back (Shutdown
			// releases their claims).
			delete(r.queues, src)
			delete(r.active, src)
			r.mu.Unlock()
			return
		}
		job := q[0]
		r.queues[src] = q[1:]
		r.mu.Unlock()
		r.execute(job)
		// A worker is idle again: take a queued run, if one waits.
		if err := r.Poll(r.runCtx); err != nil && r.runCtx.Err() == nil {
			r.Logger.Warn("claim queued runs", "err", err)
		}
	}
}

func (r *Runner) execute(job manage.Job) {
	w, ok := r.acquire(job.Run.AccountID)
	if !ok {
		return // handed back with the rest at shutdown
	}
	defer r.release(w)
	if r.Metrics != nil {
		r.Metrics.Add("dirsync_syncs_running", 1)
		defer r.Metrics.Add("dirsync_syncs_running", -1)
	}
	log := r.Logger.With("account", job.Run.AccountID, "source", job.Run.SourceID, "run", job.Run.ID, "trigger", job.Run.Trigger)
	run, next, err := r.Manager.ExecuteRun(r.runCtx, job)
	r.mu.Lock()
	delete(r.known, job.Run.ID)
	r.mu.Unlock()
	if run.Outcome != directory.OutcomeQueued {
		if r.Metrics != nil && !run.FinishedAt.IsZero() {
			r.Metrics.ObserveRun(run, run.FinishedAt.Sub(run.StartedAt), string(manage.KindOf(err)))
		}
		if r.OnFinish != nil {
			r.OnFinish(run)
		}
	}
	switch {
	case err != nil:
		log.Warn("sync failed", "outcome", run.Outcome, "err", err, "cause", errors.Unwrap(err))
	default:
		log.Info("sync finished", "outcome", run.Outcome, "created", run.Counts.Created, "updated", run.Counts.Updated)
	}
	if next != nil {
		log.Info("sync to run again", "next_run", next.Run.ID, "at", next.NotBefore)
		if err := r.Enqueue(*next); err != nil {
			log.Info("shutting down: the run to run again stays queued for another process", "next_run", next.Run.ID)
		}
	}
}

// Shutdown refuses new jobs and hands the queued and waiting ones back to
// the database, for the other processes (or this one's next start) to
// execute; then it waits for the runs in progress until ctx ends, cancels
// them, which rolls back their apply (a run lands whole or not at all), and
// waits for them to return.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.init()
	r.mu.Lock()
	r.closed = true
	for t := range r.waiting {
		t.Stop()
	}
	r.waiting = map[clock.Timer]manage.Job{}
	r.mu.Unlock()
	r.handBack()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		r.Logger.Warn("shutdown: cancelling runs in progress; they apply nothing")
		err = ctx.Err()
	}
	r.cancel()
	<-done
	// Jobs a worker had taken but not started are queued still.
	r.handBack()
	return err
}

// handBack releases this process's claims on the runs it has not started.
func (r *Runner) handBack() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := r.Manager.ReleaseClaims(ctx, r.Holder)
	if err != nil {
		r.Logger.Error("shutdown: hand queued runs on", "err", err)
		return
	}
	if n > 0 {
		r.Logger.Info("shutdown: queued runs handed on to the other processes", "runs", n)
	}
}
