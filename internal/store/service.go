package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// This file holds the types of what the running service keeps beside the
// directory: API tokens, webhook subscriptions and their delivery log, each
// source's schedule and health. Reader and Tx read and write them, as they
// do the directory: one backend family implements them all.

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
