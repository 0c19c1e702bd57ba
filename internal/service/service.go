// Package service is the dirsync serve process: the REST API, the
// scheduler, the sync workers and the webhook dispatcher in one process,
// with health and readiness probes, Prometheus metrics and graceful
// shutdown. Time is injected (Config.Now), so the scheduler and the
// dispatcher are tested without waiting.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/registry"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/webhook"
)

// Config says how the service runs; zero fields take the defaults.
type Config struct {
	// Workers bounds the syncs running at once (default 2).
	Workers int
	// Tick is how often the scheduler and the dispatcher look for work
	// (default 15s). Schedules have minute resolution.
	Tick time.Duration
	// Webhook retry policy (defaults: webhook.Default*).
	WebhookFirstBackoff, WebhookMaxBackoff, WebhookRetryFor time.Duration
	// WebhookAllowList names the private targets (CIDRs, host names)
	// webhooks may be delivered to; empty means public addresses only.
	WebhookAllowList safehttp.AllowList
	// ShutdownGrace is how long a running sync may take to finish after
	// SIGTERM before it is cancelled (default 60s).
	ShutdownGrace time.Duration
	// EventRetention is how long events and delivery logs are kept
	// (default 30 days).
	EventRetention time.Duration
	// TrashRetention is how long users and groups stay in the trash before
	// they are purged (default engine.DefaultTrashRetention, 7 days).
	TrashRetention time.Duration
	// BusyRetry is the wait before retrying a run another process holds.
	BusyRetry time.Duration
	Now       func() time.Time
	// SMTP is where owners are mailed about sources that need them; empty
	// Addr sends no mail (the events are written regardless).
	SMTP SMTPConfig
	// Connect overrides how connectors are opened, for tests.
	Connect func(src directory.Source, secret []byte) (connector.Connector, error)
}

// Service is one dirsync serve process.
type Service struct {
	cfg        Config
	store      store.Store
	log        *slog.Logger
	Metrics    *Metrics
	Runner     *Runner
	Scheduler  *Scheduler
	Dispatcher *webhook.Dispatcher
	API        *api.Server
	Notifier   *Notifier

	ready atomic.Bool
}

// New assembles the service on an open store.
func New(st store.Store, box *secret.Box, cfg Config, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 15 * time.Second
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = time.Minute
	}
	if cfg.TrashRetention <= 0 {
		cfg.TrashRetention = engine.DefaultTrashRetention
	}
	if cfg.EventRetention <= 0 {
		cfg.EventRetention = 30 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, store: st, log: logger, Metrics: NewMetrics(),
		Notifier: &Notifier{SMTP: cfg.SMTP, Logger: logger}}
	s.Runner = &Runner{Store: st, Box: box, Logger: logger, Metrics: s.Metrics, Now: cfg.Now, Connect: cfg.Connect,
		Workers: cfg.Workers, BusyRetry: cfg.BusyRetry, OnFinish: func(directory.Run) { s.Wake() }, Notifier: s.Notifier}
	s.Scheduler = &Scheduler{Store: st, Runner: s.Runner, Now: cfg.Now, Logger: logger}
	s.Dispatcher = &webhook.Dispatcher{Store: st, Box: box, Now: cfg.Now, Logger: logger, AllowList: cfg.WebhookAllowList,
		FirstBackoff: cfg.WebhookFirstBackoff, MaxBackoff: cfg.WebhookMaxBackoff, RetryFor: cfg.WebhookRetryFor,
		Observe: func(outcome string, d time.Duration) {
			s.Metrics.Add("dirsync_webhook_deliveries_total", 1, "outcome", outcome)
			s.Metrics.Add("dirsync_webhook_delivery_seconds_sum", d.Seconds())
			s.Metrics.Add("dirsync_webhook_delivery_seconds_count", 1)
		}}
	s.API = &api.Server{Store: st, Box: box, Syncer: s.Runner, Now: cfg.Now, Logger: logger, WebhookAllowList: cfg.WebhookAllowList,
		WebhookChanged: s.Dispatcher.Changed,
		CheckSettings: func(src directory.Source, secret []byte) error {
			_, err := registry.Open(src, secret, registry.Options{Logger: logger})
			return err
		}}
	return s
}

// Wake makes the dispatcher look for events now rather than at its next tick.
func (s *Service) Wake() { s.Dispatcher.Wake() }

// Handler serves the API, /healthz, /readyz and /metrics.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/", s.API.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := s.store.Accounts(ctx); err != nil {
			s.log.Warn("readiness: database unreachable", "err", err)
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", s.Metrics)
	return s.countRequests(mux)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Service) countRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.Metrics.Add("dirsync_http_requests_total", 1, "code", strconv.Itoa(sw.status/100)+"xx")
		// The path only: queries may hold search terms.
		s.log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds())
	})
}

// Run serves on ln and runs the scheduler and dispatcher until ctx ends,
// then shuts down gracefully: the listener closes, requests in flight get
// a few seconds, running syncs get ShutdownGrace to finish and are then
// cancelled, which rolls back their apply.
func (s *Service) Run(ctx context.Context, ln net.Listener) error {
	srv := safehttp.NewServer(s.Handler())
	srv.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.ready.Store(true)
	s.log.Info("serving", "addr", ln.Addr().String(), "workers", s.cfg.Workers, "tick", s.cfg.Tick.String())

	loopCtx, stopLoops := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	loops.Add(2)
	go func() { defer loops.Done(); s.scheduleLoop(loopCtx) }()
	go func() { defer loops.Done(); s.dispatchLoop(loopCtx) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	}
	s.log.Info("shutting down")
	s.ready.Store(false)
	shCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if herr := srv.Shutdown(shCtx); herr != nil && !errors.Is(herr, http.ErrServerClosed) {
		s.log.Warn("http shutdown", "err", herr)
	}
	cancel()
	stopLoops()
	loops.Wait()
	grace, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if rerr := s.Runner.Shutdown(grace); rerr != nil {
		s.log.Warn("runs cancelled at shutdown", "err", rerr)
	}
	s.log.Info("stopped")
	return err
}

func (s *Service) scheduleLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		if _, err := s.Scheduler.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler", "err", err)
		}
		if now := s.cfg.Now(); now.Sub(lastPrune) > time.Hour {
			lastPrune = now
			s.prune(ctx, now)
			if err := s.Scheduler.CheckSecrets(ctx, s.Notifier); err != nil && ctx.Err() == nil {
				s.log.Error("secret expiry check", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) dispatchLoop(ctx context.Context) {
	if err := s.Dispatcher.Run(ctx, s.cfg.Tick); err != nil && ctx.Err() == nil {
		s.log.Error("webhook dispatcher", "err", err)
	}
}

// prune drops events and delivery logs past their retention, and purges
// the trash past its own.
func (s *Service) prune(ctx context.Context, now time.Time) {
	before := now.Add(-s.cfg.EventRetention)
	err := s.store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.PruneEvents(ctx, before)
		if err != nil {
			return err
		}
		m := 0
		if stx, ok := store.ServiceTxOf(tx); ok {
			if m, err = stx.PruneDeliveries(ctx, before); err != nil {
				return err
			}
		}
		accounts, err := tx.Accounts(ctx)
		if err != nil {
			return err
		}
		purged := 0
		for _, acc := range accounts {
			p, err := engine.PurgeTrash(ctx, tx, acc.ID, now.Add(-s.cfg.TrashRetention))
			if err != nil {
				return err
			}
			purged += p
		}
		if n+m+purged > 0 {
			s.log.Info("pruned", "events", n, "deliveries", m, "purged_from_trash", purged)
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("prune", "err", err)
	}
}
