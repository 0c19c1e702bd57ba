// Package manage is dirsync's application layer: every use case a front end
// offers (the command line, the REST API, the admin console, the
// scheduler), with every rule a front end must not decide for itself.
// Front ends parse their input, call one use case with the Actor who asks,
// and print or render what it returns; they never reach the store, the
// engine or a connector. What one front end can do, another does the same
// way, with the same checks and the same messages.
//
// Every use case takes an Actor and checks its role itself (authz.go), and
// fails with an *Error of a Kind a front end maps to an exit code or an
// HTTP status in one table (errors.go).
//
// The use cases, one file per area:
//
//   - accounts.go: the operator's actor (the command line), list and create
//     accounts.
//   - sources.go: add, change, remove, show, list, test, enable and disable
//     a source; each source's status; search a source for the group and user
//     pickers; one domain, one source (claim.go).
//   - scope.go: a source's scope rules and import options.
//   - schedule.go: a source's schedule (the grammar of package schedule),
//     its next runs, and firing the schedules that are due.
//   - sync.go: sync now (blocking, for the command line), sync requests
//     (recorded as queued runs and executed by an Executor: the service's
//     runner today, a job queue tomorrow), retries of transient failures
//     within a schedule's slot, single-user sync.
//   - runs.go: run history and a run's changes.
//   - users.go, groups.go: the directory's users (and the edit of their
//     local attributes) and groups with their members.
//   - trash.go: list, restore, purge, and the retention purge.
//   - tokens.go: API tokens and authenticating them.
//   - webhooks.go: subscriptions, their delivery log, a test delivery.
//   - events.go: the change feed, and pruning it.
//   - health.go: what a source's runs say about its credentials, and the
//     client secret's expiry warnings.
//   - enrollment.go: the enrollment cycle (Duo's enrollment email): the
//     template, the links, reminders, resend, the application's
//     confirmation, the pending list.
//   - notify.go: notifications to administrators, the mail log, and the
//     mail's periodic work (MailCycle), all through package mail's outbox.
//
// engine.go is the one file that calls the sync engine.
package manage

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/registry"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
)

// Defaults of a Manager's settings.
const (
	// DefaultEventRetention is how long the change feed and the webhook
	// delivery log are kept (WorkOS keeps events 30 days).
	DefaultEventRetention = 30 * 24 * time.Hour
	// DefaultRunRetention is how long an account's run history (each run
	// and the changes it recorded) is kept: a quarter, for audits; a
	// year of hourly syncs of 100,000 users with 1% daily churn would
	// otherwise keep some 9 million changes.
	DefaultRunRetention = 90 * 24 * time.Hour
	// DefaultBusyRetry is how long a queued run waits before trying once
	// more when another process is running its source.
	DefaultBusyRetry = 30 * time.Second
)

// Deps is what a Manager is built from; package factory builds them.
type Deps struct {
	Store  store.Store
	Engine *Engine
	// Box seals and opens secrets; nil when no master key is loaded (a
	// read-only command on a database without secrets), and then every
	// use case that needs one fails with Unavailable.
	Box *secret.Box
	// Connect opens a source's connector with its opened secret; nil means
	// the connector registry.
	Connect func(src directory.Source, secret []byte) (connector.Connector, error)
	Clock   clock.Clock
	Logger  *slog.Logger
	// TrashRetention is how long the trash keeps users and groups.
	TrashRetention time.Duration
	// EventRetention is how long events and delivery logs are kept, for
	// accounts whose settings do not say (events).
	EventRetention time.Duration
	// RunRetention is how long run history is kept, for accounts whose
	// settings do not say.
	RunRetention time.Duration
	// BusyRetry is the wait before a queued run whose source another
	// process holds tries again, once.
	BusyRetry time.Duration
	// WebhookClient sends test deliveries: one that dials only what
	// WebhookAllow allows, and follows no redirect.
	WebhookClient *http.Client
	// WebhookAllow names the private targets (CIDRs, host names) webhooks
	// may have; empty means public targets only.
	WebhookAllow safehttp.AllowList
	// WebhookChanged is told a webhook's id once its change, disabling or
	// deletion is committed, so that a delivery in flight stops at once.
	WebhookChanged func(id string)
}

// Manager runs the use cases. Its methods are safe for concurrent use.
type Manager struct {
	d        Deps
	executor Executor
	// mail is how this process sends mail (SetMail); nil queues it only.
	mail *mailer
	// live is the progress of the runs this process runs (progress.go).
	live liveRuns
}

// New returns a Manager over the given parts.
func New(d Deps) *Manager {
	if d.Connect == nil {
		d.Connect = func(src directory.Source, secret []byte) (connector.Connector, error) {
			return registry.Open(src, secret, registry.Options{Logger: d.Logger, Clock: d.Clock})
		}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	d.Clock = clock.Or(d.Clock)
	if d.TrashRetention <= 0 {
		d.TrashRetention = DefaultTrashRetention
	}
	if d.EventRetention <= 0 {
		d.EventRetention = DefaultEventRetention
	}
	if d.RunRetention <= 0 {
		d.RunRetention = DefaultRunRetention
	}
	if d.BusyRetry <= 0 {
		d.BusyRetry = DefaultBusyRetry
	}
	return &Manager{d: d}
}

// SetExecutor makes x execute the queued runs that RequestSync records.
// Call it before serving requests; without one, RequestSync is Unavailable.
func (m *Manager) SetExecutor(x Executor) { m.executor = x }

// SetWebhookChanged sets who is told that a webhook changed (the
// service's dispatcher).
func (m *Manager) SetWebhookChanged(changed func(id string)) { m.d.WebhookChanged = changed }

// TrashRetention is how long the trash keeps what goes there.
func (m *Manager) TrashRetention() time.Duration { return m.d.TrashRetention }

// Clock is the manager's clock, for front ends that show relative times.
func (m *Manager) Clock() clock.Clock { return m.d.Clock }

func (m *Manager) now() time.Time { return m.d.Clock.Now().UTC() }

func (m *Manager) box() (*secret.Box, error) {
	if m.d.Box == nil {
		return nil, newError(Unavailable, "no master key is loaded: set %s or give the key file beside the database", secret.EnvMasterKey)
	}
	return m.d.Box, nil
}
