// Package service is the dirsync serve process: the REST API, the
// scheduler, the sync workers and the webhook dispatcher in one process,
// with health and readiness probes, Prometheus metrics and graceful
// shutdown. Every use case is package manage's: the service runs its
// queued runs (Runner, a manage.Executor), ticks its schedules and its
// housekeeping, and serves the API over it. Time is injected
// (Config.Clock), so the whole service runs on a fake clock in tests.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/console"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/mail"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/webhook"
)

// Config says how the service runs; zero fields take the defaults.
type Config struct {
	// Workers bounds the syncs running at once (default 2).
	Workers int
	// AccountWorkers bounds one account's syncs running at once (default
	// half of Workers, at least one): Runner.AccountShare.
	AccountWorkers int
	// WebhookClaim is how long an endpoint's claim lasts unrenewed
	// (default: the lease TTL, as runs).
	WebhookClaim time.Duration
	// Tick is how often the scheduler and the dispatcher look for work
	// (default 15s). Schedules have minute resolution.
	Tick time.Duration
	// Webhook retry policy (defaults: webhook.Default*).
	WebhookFirstBackoff, WebhookMaxBackoff, WebhookRetryFor time.Duration
	// ShutdownGrace is how long a running sync may take to finish after
	// SIGTERM before it is cancelled (default 60s).
	ShutdownGrace time.Duration
	// Clock is the service's time; nil means the real clock. Tests give a
	// clock.Fake to run days of schedules in seconds.
	Clock clock.Clock
	// Mail is the SMTP server that enrollment links and notifications go
	// through; an empty Addr leaves them queued in the outbox (the events
	// are written regardless).
	Mail mail.Config
	// Notify are addresses given every account's notifications, beside
	// each account's own.
	Notify []string
	// ConsoleURL is the console's public address, for the links in
	// notifications (https://dirsync.example.com).
	ConsoleURL string
	// MailRetryFor is how long a mail that keeps failing is retried
	// (default mail.DefaultRetryFor).
	MailRetryFor time.Duration
}

// Service is one dirsync serve process.
type Service struct {
	cfg        Config
	clock      clock.Clock
	store      store.Store
	manager    *manage.Manager
	log        *slog.Logger
	Metrics    *Metrics
	Runner     *Runner
	Dispatcher *webhook.Dispatcher
	API        *api.Server
	Console    *console.Server

	mailWake chan struct{}
	pollWake chan struct{}
	ready    atomic.Bool
}

// New assembles the service on the parts package factory built.
func New(p *factory.Parts, cfg Config, logger *slog.Logger) *Service {
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
	clk := clock.Or(cfg.Clock)
	s := &Service{cfg: cfg, clock: clk, store: p.Store, manager: p.Manager, log: logger, Metrics: NewMetrics(),
		mailWake: make(chan struct{}, 1), pollWake: make(chan struct{}, 1)}
	s.Metrics.WatchStore(p.Store, clk.Now)
	// A dead process holds its queued runs as long as its running ones.
	s.Runner = &Runner{Manager: p.Manager, Clock: clk, Logger: logger, Metrics: s.Metrics, Workers: cfg.Workers, AccountShare: cfg.AccountWorkers, ClaimTTL: p.Engine.LeaseTTL,
		OnFinish: func(directory.Run) { s.Wake() }}
	p.Manager.SetExecutor(s.Runner)
	var sender mail.Sender
	if cfg.Mail.Enabled() {
		smtp, err := mail.NewSMTP(cfg.Mail)
		if err != nil {
			// The command line checks the settings first; a bad one here
			// leaves mail queued, and says why.
			logger.Error("mail: SMTP settings refused; mail stays queued", "err", err)
		} else {
			sender = smtp
		}
	}
	p.Manager.SetMail(manage.MailOptions{Sender: sender, ConsoleURL: cfg.ConsoleURL, Notify: cfg.Notify, RetryFor: cfg.MailRetryFor,
		Logger: logger, Wake: s.WakeMail,
		Observe: func(outcome string) { s.Metrics.Add("dirsync_mail_attempts_total", 1, "outcome", outcome) }})
	// A dead process holds its webhook endpoints as long as its runs,
	// unless told otherwise.
	claimFor := cfg.WebhookClaim
	if claimFor <= 0 {
		claimFor = p.Engine.LeaseTTL
	}
	s.Dispatcher = &webhook.Dispatcher{Store: p.Store, Box: p.Box, Clock: clk, Logger: logger, AllowList: p.WebhookAllow,
		ClaimFor:     claimFor,
		FirstBackoff: cfg.WebhookFirstBackoff, MaxBackoff: cfg.WebhookMaxBackoff, RetryFor: cfg.WebhookRetryFor,
		Observe: func(outcome string, d time.Duration) {
			s.Metrics.ObserveWebhook(outcome, d)
		}}
	p.Manager.SetWebhookChanged(s.Dispatcher.Changed)
	s.API = &api.Server{Manager: p.Manager, Logger: logger}
	s.Console = console.Must(p.Manager, logger)
	s.Console.Secure = strings.HasPrefix(cfg.ConsoleURL, "https://")
	return s
}

// Wake makes the dispatcher look for events now rather than at its next
// tick, and the mail cycle too (a run may have queued enrollment mail).
func (s *Service) Wake() {
	s.Dispatcher.Wake()
	s.WakeMail()
}

func (s *Service) wakePoll() {
	select {
	case s.pollWake <- struct{}{}:
	default:
	}
}

// WakeMail makes the mail cycle run now rather than at its next tick.
func (s *Service) WakeMail() {
	select {
	case s.mailWake <- struct{}{}:
	default:
	}
}

// Handler serves the API, /healthz, /readyz, /metrics, and the admin
// console at every other path.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/", s.API.Handler())
	mux.Handle("/", s.Console.Handler())
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
		// One read answers both: the key check reads the database, so a
		// failure that is not the key's is the database's.
		if err := s.manager.CheckKey(ctx); err != nil {
			if e := manage.AsError(err); e != nil {
				s.log.Warn("readiness: master key", "err", err)
				http.Error(w, "master key: "+e.Message, http.StatusServiceUnavailable)
				return
			}
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
		start := s.clock.Now()
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.Metrics.Add("dirsync_http_requests_total", 1, "code", strconv.Itoa(sw.status/100)+"xx")
		// The path only: queries may hold search terms.
		s.log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", s.clock.Now().Sub(start).Milliseconds())
	})
}

// Run serves on ln and runs the scheduler and dispatcher until ctx ends,
// then shuts down gracefully: the listener closes, requests in flight get
// a few seconds, running syncs get ShutdownGrace to finish and are then
// cancelled, which rolls back their apply.
func (s *Service) Run(ctx context.Context, ln net.Listener) error {
	srv := safehttp.NewServer(s.Handler())
	srv.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	// Runs whose process died are marked interrupted and queued again
	// before anything else runs; then the runs left queued are claimed.
	// Neither stops the service: the poll loop tries again every tick.
	s.recoverOrphans(ctx)
	if err := s.Runner.Start(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("execute the runs left queued", "err", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.ready.Store(true)
	s.log.Info("serving", "addr", ln.Addr().String(), "workers", s.cfg.Workers, "tick", s.cfg.Tick.String())

	loopCtx, stopLoops := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	loops.Add(5)
	go func() { defer loops.Done(); s.scheduleLoop(loopCtx) }()
	go func() { defer loops.Done(); s.pollLoop(loopCtx) }()
	go func() { defer loops.Done(); s.targetLoop(loopCtx) }()
	go func() { defer loops.Done(); s.dispatchLoop(loopCtx) }()
	go func() { defer loops.Done(); s.mailLoop(loopCtx) }()

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
	t := s.clock.NewTicker(s.cfg.Tick)
	defer t.Stop()
	lastHousekeeping := time.Time{}
	for {
		if n, err := s.manager.RunDueSchedules(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler", "err", err)
		} else if n > 0 {
			s.wakePoll()
		}
		if now := s.clock.Now(); now.Sub(lastHousekeeping) >= time.Hour {
			lastHousekeeping = now
			s.housekeeping(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// pollLoop, every tick and when the scheduler queued runs, queues again
// the runs whose process died, renews this process's claims on its queued
// runs and claims queued runs for its idle workers.
func (s *Service) pollLoop(ctx context.Context) {
	t := s.clock.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			s.recoverOrphans(ctx)
		case <-s.pollWake:
		}
		if err := s.Runner.Poll(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("claim queued runs", "err", err)
		}
	}
}

// recoverOrphans marks interrupted the runs whose process died, and queues
// them again.
func (s *Service) recoverOrphans(ctx context.Context) {
	if _, err := s.manager.RecoverOrphans(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("recover the runs of dead processes", "err", err)
	}
}

// targetLoop runs the targets' export cycles as their schedules come due,
// in a loop of its own: an export of a large directory takes minutes.
func (s *Service) targetLoop(ctx context.Context) {
	t := s.clock.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		if _, err := s.manager.RunDueTargets(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("target scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// housekeeping prunes what outstayed its retention (the mail log with the
// events) and warns about client secrets near their expiry; hourly.
func (s *Service) housekeeping(ctx context.Context) {
	p, err := s.manager.Prune(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Error("prune", "err", err)
	}
	if p.Events+p.Runs+p.Deliveries+p.Trash > 0 {
		s.log.Info("pruned", "events", p.Events, "runs", p.Runs, "deliveries", p.Deliveries, "purged_from_trash", p.Trash)
	}
	if err := s.manager.CheckSecrets(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("secret expiry check", "err", err)
	}
}

// mailLoop runs the mail cycle (enrollment reminders and expiry, the
// outbox) on every tick and whenever a mail is queued. Stopping it in the
// middle of a send leaves that mail for the next process, unsent.
func (s *Service) mailLoop(ctx context.Context) {
	t := s.clock.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		r, err := s.manager.MailCycle(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("mail cycle", "err", err)
		}
		if r.Sent+r.Refused+r.Failed+r.Reminders+r.Expired > 0 {
			s.log.Info("mail", "sent", r.Sent, "refused", r.Refused, "failed", r.Failed, "retrying", r.Retried,
				"reminders_queued", r.Reminders, "links_expired", r.Expired)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-s.mailWake:
		}
	}
}

func (s *Service) dispatchLoop(ctx context.Context) {
	if err := s.Dispatcher.Run(ctx, s.cfg.Tick); err != nil && ctx.Err() == nil {
		s.log.Error("webhook dispatcher", "err", err)
	}
}
