package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/registry"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
)

// ErrShuttingDown is returned for sync requests made during shutdown.
var ErrShuttingDown = errors.New("service: shutting down")

// errServerShutDown cancels the runs still in progress when a shutdown's
// grace ends; each records "cancelled: the server shut down".
var errServerShutDown = errors.New("the server shut down")

// Runner runs syncs on a bounded pool of workers, one run per source at a
// time: a request for a source that is running is queued, once, and runs
// when the current run ends.
type Runner struct {
	Store   store.Store
	Box     *secret.Box
	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
	// Connect opens a source's connector with its opened secret; nil
	// means registry.Open.
	Connect func(src directory.Source, secret []byte) (connector.Connector, error)
	// Workers bounds the runs in progress at once.
	Workers int
	// BusyRetry is how long to wait before trying again, once, a run
	// refused because another process is running the source.
	BusyRetry time.Duration
	// Sleep waits; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnFinish, when set, is called after every run (to wake the webhook
	// dispatcher).
	OnFinish func(directory.Run)
	// Notifier tells owners when a source's credentials are refused.
	Notifier *Notifier

	initOnce sync.Once
	sem      chan struct{}
	runCtx   context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu     sync.Mutex
	slots  map[string]*slot
	closed bool
}

var _ api.Syncer = (*Runner)(nil)

type slot struct {
	queued        bool
	mode, trigger string
}

func (r *Runner) init() {
	r.initOnce.Do(func() {
		r.sem = make(chan struct{}, max(r.Workers, 1))
		var cancel context.CancelCauseFunc
		r.runCtx, cancel = context.WithCancelCause(context.Background())
		// The cause is what a cancelled run records as its reason.
		r.cancel = func() { cancel(errServerShutDown) }
		r.slots = map[string]*slot{}
	})
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) count(trigger, what string) {
	if r.Metrics != nil {
		r.Metrics.Add("dirsync_sync_requests_total", 1, "trigger", trigger, "result", what)
	}
}

// Request starts a run of the source, or queues one behind the run in
// progress. Asking again while one is queued changes nothing but the mode,
// which becomes full if either asked for full.
func (r *Runner) Request(src directory.Source, mode, trigger string) (string, error) {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return "", &api.Error{Status: 503, Code: api.CodeUnavailable, Message: "the server is shutting down", Err: ErrShuttingDown}
	}
	if s, ok := r.slots[src.ID]; ok {
		if s.queued {
			if mode == api.ModeFull {
				s.mode = api.ModeFull
			}
			r.count(trigger, "coalesced")
			return "queued", nil
		}
		s.queued, s.mode, s.trigger = true, mode, trigger
		r.count(trigger, "queued")
		return "queued", nil
	}
	r.slots[src.ID] = &slot{}
	r.wg.Add(1)
	go r.loop(src, mode, trigger)
	r.count(trigger, "started")
	return "started", nil
}

// Running reports whether a run of the source is in progress or queued.
func (r *Runner) Running(sourceID string) bool {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.slots[sourceID]
	return ok
}

// loop runs the source, then whatever was queued for it meanwhile.
func (r *Runner) loop(src directory.Source, mode, trigger string) {
	defer r.wg.Done()
	for {
		r.runOnce(src, mode, trigger)
		r.mu.Lock()
		s := r.slots[src.ID]
		if !s.queued || r.closed {
			delete(r.slots, src.ID)
			r.mu.Unlock()
			return
		}
		mode, trigger = s.mode, s.trigger
		s.queued = false
		r.mu.Unlock()
	}
}

func (r *Runner) runOnce(src directory.Source, mode, trigger string) {
	ctx := r.runCtx
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-r.sem }()
	if r.Metrics != nil {
		r.Metrics.Add("dirsync_syncs_running", 1)
		defer r.Metrics.Add("dirsync_syncs_running", -1)
	}
	log := r.logger().With("source", src.ID, "trigger", trigger, "mode", mode)
	for attempt := 1; ; attempt++ {
		// Read the source afresh: it may have changed or gone while queued.
		cur, err := r.Store.Source(ctx, src.AccountID, src.ID)
		if err != nil {
			log.Warn("sync skipped: source unreadable", "err", err)
			return
		}
		if !cur.Enabled {
			log.Info("sync skipped: source turned off")
			return
		}
		start := r.now()
		run, err := r.sync(ctx, cur, mode, trigger)
		if errors.Is(err, engine.ErrBusy) && attempt == 1 {
			wait := r.BusyRetry
			if wait <= 0 {
				wait = 30 * time.Second
			}
			log.Info("source busy in another process; retrying once", "after", wait)
			if err := r.sleep(ctx, wait); err != nil {
				return
			}
			continue
		}
		if run.ID != "" && !run.DryRun {
			// Recorded even when shutting down: the run has ended.
			if herr := noteAuth(context.WithoutCancel(ctx), r.Store, r.Notifier, cur, run, err, r.now()); herr != nil {
				log.Error("source health", "err", herr)
			}
		}
		if run.ID != "" {
			if r.Metrics != nil {
				r.Metrics.ObserveRun(run, r.now().Sub(start))
			}
			if r.OnFinish != nil {
				r.OnFinish(run)
			}
		}
		if err != nil {
			log.Warn("sync failed", "run", run.ID, "err", err)
		} else {
			log.Info("sync finished", "run", run.ID, "outcome", run.Outcome, "created", run.Counts.Created, "updated", run.Counts.Updated)
		}
		return
	}
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Runner) connect(src directory.Source) (connector.Connector, error) {
	plain, err := r.Box.Open(src.Secret)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	if r.Connect != nil {
		return r.Connect(src, plain)
	}
	return registry.Open(src, plain, registry.Options{Logger: r.logger()})
}

func (r *Runner) sync(ctx context.Context, src directory.Source, mode, trigger string) (directory.Run, error) {
	conn, err := r.connect(src)
	if err != nil {
		return directory.Run{}, err
	}
	eng := &engine.Engine{Store: r.Store, Logger: r.logger()}
	return eng.Sync(ctx, src, conn, engine.Options{Trigger: trigger, Full: mode == api.ModeFull, DryRun: mode == api.ModeDryRun})
}

// SyncUser synchronizes one user of the source now, on the caller's
// context: it is small, so it takes no worker. The engine's lease keeps it
// from running beside a run of the same source.
func (r *Runner) SyncUser(ctx context.Context, src directory.Source, who string, dryRun bool) (directory.Run, error) {
	conn, err := r.connect(src)
	if err != nil {
		return directory.Run{}, err
	}
	start := r.now()
	eng := &engine.Engine{Store: r.Store, Logger: r.logger()}
	run, err := eng.SyncUser(ctx, src, conn, who, engine.Options{Trigger: "api", DryRun: dryRun})
	if run.ID != "" {
		if r.Metrics != nil {
			r.Metrics.ObserveRun(run, r.now().Sub(start))
		}
		if r.OnFinish != nil {
			r.OnFinish(run)
		}
	}
	return run, err
}

// Check tests a source's connection.
func (r *Runner) Check(ctx context.Context, src directory.Source) ([]connector.CheckResult, error) {
	conn, err := r.connect(src)
	if err != nil {
		return nil, err
	}
	return conn.Check(ctx)
}

// Shutdown refuses new requests, drops queued ones, and waits for the runs
// in progress until ctx ends; then it cancels them, which rolls back their
// apply transaction (a run lands whole or not at all), and waits for them
// to return.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.init()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		r.cancel()
		return nil
	case <-ctx.Done():
		r.logger().Warn("shutdown: cancelling runs in progress; they apply nothing")
		r.cancel()
		<-done
		return ctx.Err()
	}
}
