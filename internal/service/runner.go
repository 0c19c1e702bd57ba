package service

import (
	"context"
	"errors"
	"log/slog"
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

// shutdownReason is what a queued run that never started says.
const shutdownReason = "the server shut down before the run started"

// Runner executes queued runs (manage.Executor) in this process, on a
// bounded pool of workers, one run per source at a time, in the order they
// were queued. A job that must wait (a retry) waits on the clock without
// holding a worker.
type Runner struct {
	Manager *manage.Manager
	Clock   clock.Clock
	Logger  *slog.Logger
	Metrics *Metrics
	// Workers bounds the runs in progress at once.
	Workers int
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
	})
}

// Start executes the runs left queued by a process that stopped before
// running them.
func (r *Runner) Start(ctx context.Context) error {
	r.init()
	jobs, err := r.Manager.QueuedJobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := r.Enqueue(j); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue takes a job: it runs after the source's jobs queued before it,
// once its NotBefore has passed. A run already held here is not taken
// twice (Start may meet a run a request has just handed over).
func (r *Runner) Enqueue(job manage.Job) error {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrShuttingDown
	}
	if r.known[job.Run.ID] {
		return nil
	}
	r.known[job.Run.ID] = true
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
			delete(r.queues, src)
			delete(r.active, src)
			r.mu.Unlock()
			for _, j := range q {
				r.abandon(j)
			}
			return
		}
		job := q[0]
		r.queues[src] = q[1:]
		r.mu.Unlock()
		r.execute(job)
	}
}

func (r *Runner) execute(job manage.Job) {
	w, ok := r.acquire(job.Run.AccountID)
	if !ok {
		r.abandon(job)
		return
	}
	defer r.release(w)
	if r.Metrics != nil {
		r.Metrics.Add("dirsync_syncs_running", 1)
		defer r.Metrics.Add("dirsync_syncs_running", -1)
	}
	log := r.Logger.With("source", job.Run.SourceID, "run", job.Run.ID, "trigger", job.Run.Trigger)
	run, next, err := r.Manager.ExecuteRun(r.runCtx, job)
	r.mu.Lock()
	delete(r.known, job.Run.ID)
	r.mu.Unlock()
	if run.Outcome != directory.OutcomeQueued {
		if r.Metrics != nil && !run.FinishedAt.IsZero() {
			r.Metrics.ObserveRun(run, run.FinishedAt.Sub(run.StartedAt))
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
			r.abandon(*next)
		}
	}
}

// abandon records a job that will not run as cancelled.
func (r *Runner) abandon(job manage.Job) {
	if err := r.Manager.Abandon(context.Background(), job, shutdownReason); err != nil {
		r.Logger.Error("record abandoned run", "run", job.Run.ID, "err", err)
	}
}

// Shutdown refuses new jobs, records the queued and waiting ones as
// cancelled, and waits for the runs in progress until ctx ends; then it
// cancels them, which rolls back their apply (a run lands whole or not at
// all), and waits for them to return.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.init()
	r.mu.Lock()
	r.closed = true
	var waiting []manage.Job
	for t, j := range r.waiting {
		t.Stop()
		waiting = append(waiting, j)
	}
	r.waiting = map[clock.Timer]manage.Job{}
	r.mu.Unlock()
	for _, j := range waiting {
		r.abandon(j)
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		r.cancel()
		return nil
	case <-ctx.Done():
		r.Logger.Warn("shutdown: cancelling runs in progress; they apply nothing")
		r.cancel()
		<-done
		return ctx.Err()
	}
}
