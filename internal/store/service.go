package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// This file holds what the running service (dirsync serve) keeps beside the
// directory: API tokens, webhook subscriptions and their delivery log, and
// each source's schedule. Backends offer it by implementing ServiceReader
// on their Store and ServiceTx on their Tx; callers reach it with
// ServiceOf and ServiceTxOf, so store.go and backends that do not serve
// stay as they are.

// APIToken is an account's bearer token for the REST API. Only the SHA-256
// of the token is kept; the token itself is shown once, at creation.
type APIToken struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Name      string `json:"name"`
	// Role is one of the API's roles (owner, administrator, user_manager,
	// help_desk, read_only); the store does not interpret it.
	Role string `json:"role"`
	// Hash is the hex SHA-256 of the token; never shown.
	Hash string `json:"-"`
	// Prefix is the token's first characters, to tell tokens apart.
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is when the token was revoked; zero while it is valid.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Webhook is a subscription: an account's events of the listed types are
// posted to URL, in order, signed with Secret.
type Webhook struct {
	ID         string   `json:"id"`
	AccountID  string   `json:"account_id"`
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"` // empty means every type
	// Secret is the signing secret (whsec_...), sealed: never returned.
	Secret    []byte    `json:"-"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	// Cursor is the Seq of the last event delivered or given up.
	Cursor int64 `json:"cursor"`
	// Attempts counts failed attempts at the event after Cursor.
	Attempts int `json:"attempts"`
	// FirstFailedAt is when the first failed attempt at that event was
	// made; zero when it has not failed.
	FirstFailedAt time.Time `json:"first_failed_at,omitzero"`
	// NextAttemptAt is when to try again; zero means now.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
}

// Delivery outcomes.
const (
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"  // will be retried
	DeliveryGaveUp    = "gave_up" // retried for the whole retry window
	// DeliveryCancelled: the webhook was changed, disabled or deleted
	// while the attempt was on the wire; it is tried again, if still
	// enabled, without counting against the receiver.
	DeliveryCancelled = "cancelled"
)

// Delivery is one attempt to deliver one event to one webhook.
type Delivery struct {
	ID         string `json:"id"`
	WebhookID  string `json:"webhook_id"`
	AccountID  string `json:"account_id"`
	EventID    string `json:"event_id"`
	EventSeq   int64  `json:"event_seq"`
	EventType  string `json:"event_type"`
	Attempt    int    `json:"attempt"`
	Outcome    string `json:"outcome"`
	HTTPStatus int    `json:"http_status,omitempty"`
	// Error is the full cause of a failed attempt, for administrators:
	// the address refused, the TLS or DNS failure, the status answered.
	Error string `json:"error,omitempty"`
	// ErrorSummary is the same without internal detail ("receiver refused
	// the connection", "timed out", "answered 502"), for the other roles.
	ErrorSummary string    `json:"error_summary,omitempty"`
	Time         time.Time `json:"time"`
	DurationMS   int64     `json:"duration_ms"`
}

// Redacted returns the attempt as roles below administrator see it: its
// Error is the summary, so that the delivery log cannot map the inside of
// a network (which addresses refuse connections, which answer).
func (d Delivery) Redacted() Delivery {
	if d.ErrorSummary == "" && d.Error != "" {
		d.ErrorSummary = "delivery failed"
		if d.HTTPStatus != 0 {
			d.ErrorSummary = fmt.Sprintf("answered %d", d.HTTPStatus)
		}
	}
	d.Error = d.ErrorSummary
	return d
}

// SourceSchedule is when a source syncs, and when its schedule last fired.
type SourceSchedule struct {
	SourceID  string `json:"source_id"`
	AccountID string `json:"account_id"`
	// Spec is the schedule as JSON (a schedule.Schedule); the store does
	// not interpret it.
	Spec json.RawMessage `json:"spec"`
	// LastRun is when the schedule last fired; zero when never.
	LastRun time.Time `json:"last_run,omitzero"`
}

// SourceHealth is what the service knows of a source beyond its runs.
type SourceHealth struct {
	SourceID  string `json:"source_id"`
	AccountID string `json:"account_id"`
	// AuthFailing is set while the source's credentials are refused:
	// reauthorization is required.
	AuthFailing bool   `json:"auth_failing"`
	AuthMessage string `json:"auth_message,omitempty"`
	// Since is when AuthFailing last changed.
	Since time.Time `json:"since,omitzero"`
	// ExpiryNotifiedDays is the last secret expiry warning given (30, 7
	// or 1 days); 0 when none is due.
	ExpiryNotifiedDays int `json:"expiry_notified_days"`
}

// ServiceReader reads what the service keeps. Like Reader, every
// account-scoped method treats another account's id as ErrNotFound.
type ServiceReader interface {
	// TokenByHash finds a token, revoked or not, by its hash.
	TokenByHash(ctx context.Context, hash string) (APIToken, error)
	Tokens(ctx context.Context, accountID string) ([]APIToken, error)

	Webhook(ctx context.Context, accountID, id string) (Webhook, error)
	Webhooks(ctx context.Context, accountID string) ([]Webhook, error)
	// AllWebhooks lists every account's enabled webhooks, for the dispatcher.
	AllWebhooks(ctx context.Context) ([]Webhook, error)
	// Deliveries lists a webhook's delivery log, newest first.
	Deliveries(ctx context.Context, accountID, webhookID string, limit int) ([]Delivery, error)

	// SourceSchedule returns ErrNotFound when the source has none stored.
	SourceSchedule(ctx context.Context, sourceID string) (SourceSchedule, error)
	// SourceSchedules lists every stored schedule, for the scheduler.
	SourceSchedules(ctx context.Context) ([]SourceSchedule, error)

	// LastEventSeq is the Seq of the account's newest event, 0 when none.
	LastEventSeq(ctx context.Context, accountID string) (int64, error)

	// SourceHealth returns ErrNotFound when nothing is known.
	SourceHealth(ctx context.Context, sourceID string) (SourceHealth, error)
}

// ServiceTx writes what the service keeps, in a transaction.
type ServiceTx interface {
	ServiceReader

	CreateToken(ctx context.Context, t *APIToken) error // sets ID and CreatedAt
	// RevokeToken marks the token revoked at now; revoking twice is fine.
	RevokeToken(ctx context.Context, accountID, id string, now time.Time) error

	CreateWebhook(ctx context.Context, w *Webhook) error // sets ID and CreatedAt
	// UpdateWebhook writes what an administrator sets: URL, EventTypes,
	// Secret and Enabled. The delivery state is the dispatcher's, written
	// with SaveWebhookState, so that neither overwrites the other.
	UpdateWebhook(ctx context.Context, w Webhook) error
	// SaveWebhookState writes w's delivery state (Cursor, Attempts,
	// FirstFailedAt, NextAttemptAt). With a holder, only while holder's
	// claim on the webhook stands: it reports false, writing nothing, when
	// the claim was lost (or the webhook deleted), so a process that lost
	// its claim cannot move the cursor under the one that took it. An
	// empty holder writes regardless (an administrator's reset).
	SaveWebhookState(ctx context.Context, w Webhook, holder string) (bool, error)
	// ClaimWebhook makes holder the one process delivering to an enabled
	// webhook until until, or renews holder's claim. It reports false when
	// the webhook is disabled or gone, or another holder's claim runs past
	// now: claims are how replicas sharing a database deliver each
	// endpoint's events once and in order.
	ClaimWebhook(ctx context.Context, id, holder string, now, until time.Time) (bool, error)
	// ReleaseWebhook ends holder's claim, if it still has it.
	ReleaseWebhook(ctx context.Context, id, holder string) error
	DeleteWebhook(ctx context.Context, accountID, id string) error
	AddDelivery(ctx context.Context, d *Delivery) error // sets ID
	// PruneDeliveries deletes log entries older than before.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)

	// SetSourceSchedule creates or replaces the source's schedule.
	SetSourceSchedule(ctx context.Context, s SourceSchedule) error
	// SetSourceHealth creates or replaces the source's health record.
	SetSourceHealth(ctx context.Context, h SourceHealth) error
}

// ServiceOf returns the store's ServiceReader, or false when the backend
// does not keep what the service needs.
func ServiceOf(s Reader) (ServiceReader, bool) {
	r, ok := s.(ServiceReader)
	return r, ok
}

// ServiceTxOf returns the transaction's ServiceTx, or false when the
// backend does not keep what the service needs.
func ServiceTxOf(tx Tx) (ServiceTx, bool) {
	t, ok := tx.(ServiceTx)
	return t, ok
}
