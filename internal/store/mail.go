package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
)

// This file holds what dirsync keeps to send mail: each user's enrollment
// cycle and its tokens, the outbox every mail goes through (which stays as
// the record of what was sent), and each account's mail settings. Reader
// and Tx embed MailReader and MailTx.

// Enrollment statuses.
const (
	// EnrollmentPending: links were mailed and the user has not enrolled;
	// the cycle runs until ExpiresAt.
	EnrollmentPending = "pending"
	// EnrollmentEnrolled: the application said the user enrolled. Final.
	EnrollmentEnrolled = "enrolled"
	// EnrollmentExpired: the links expired unused; the next sync starts a
	// new cycle.
	EnrollmentExpired = "expired"
	// EnrollmentCancelled: the user stopped qualifying (disabled, in the
	// trash) before enrolling.
	EnrollmentCancelled = "cancelled"
	// EnrollmentRefused: the mail server refused the address for good; a
	// new cycle starts when the user's address changes.
	EnrollmentRefused = "refused"
)

// Enrollment is one enrollment cycle of one user: the links mailed to it
// from its first mail until it enrolls or the links expire.
type Enrollment struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	UserID    string `json:"user_id"`
	// SourceID is the source whose import started the cycle.
	SourceID string `json:"source_id"`
	// Email is the address the cycle mails.
	Email     string    `json:"email"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// RemindersSent counts the reminders mailed; NextReminderAt is when
	// the next is due, zero when none is.
	RemindersSent  int       `json:"reminders_sent"`
	NextReminderAt time.Time `json:"next_reminder_at,omitzero"`
	// EndedAt is when the cycle left pending; EndedVia says how: for an
	// enrolment "token" or "user_id", for a cancellation the reason.
	EndedAt  time.Time `json:"ended_at,omitzero"`
	EndedVia string    `json:"ended_via,omitempty"`
	// LastMailID is the outbox id of the cycle's newest mail.
	LastMailID string `json:"last_mail_id,omitempty"`
}

// EnrollmentQuery pages an account's enrollment cycles, oldest first.
type EnrollmentQuery struct {
	// Statuses to list; empty means every status.
	Statuses []string
	// UserID lists one user's cycles; SourceID those a source started.
	UserID   string
	SourceID string
	// Latest lists only each user's newest cycle.
	Latest bool
	After  string // the Next of the previous page
	Limit  int    // 0 means all
}

// Mail states in the outbox.
const (
	MailQueued = "queued" // waiting for its first or next attempt
	MailSent   = "sent"   // the server took it
	// MailRefused: the server refused the recipient's address for good;
	// never retried.
	MailRefused = "refused"
	// MailFailed: the server refused the message for good (5xx), or it
	// was retried for the whole retry window.
	MailFailed = "failed"
	// MailWithdrawn: no longer to be sent (the user enrolled before its
	// reminder went out).
	MailWithdrawn = "withdrawn"
)

// Mail is one mail to one recipient: queued in the outbox, then the
// record of what became of it.
type Mail struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	// Kind names the template: enrollment, enrollment_reminder,
	// reauthorization_required, ...
	Kind    string `json:"kind"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	// Body is the message's text and HTML, sealed: it may hold an
	// enrollment link. It is dropped once the mail reaches a final state.
	Body []byte `json:"-"`
	// Ref is what the mail is about: a user's, source's or run's id.
	Ref          string `json:"ref,omitempty"`
	EnrollmentID string `json:"enrollment_id,omitempty"`
	// DedupeKey, when set, makes a second mail with the same key in the
	// account a no-op: a notification is sent once per occurrence.
	DedupeKey     string    `json:"-"`
	State         string    `json:"state"`
	Attempts      int       `json:"attempts"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	FinishedAt    time.Time `json:"finished_at,omitzero"`
}

// MailQuery pages an account's mail log, newest first.
type MailQuery struct {
	Kind  string
	State string
	// Ref lists the mails about one user, source or run.
	Ref   string
	After string
	Limit int
}

// MailSettings are an account's settings for mail, as JSON the store does
// not interpret: the enrollment template and the notification recipients.
type MailSettings struct {
	AccountID     string          `json:"account_id"`
	Enrollment    json.RawMessage `json:"enrollment,omitempty"`
	Notifications json.RawMessage `json:"notifications,omitempty"`
}

// MailReader reads what MailTx writes.
type MailReader interface {
	Enrollment(ctx context.Context, accountID, id string) (Enrollment, error)
	// EnrollmentByToken finds the cycle a token (by its hash) belongs to.
	EnrollmentByToken(ctx context.Context, hash string) (Enrollment, error)
	Enrollments(ctx context.Context, accountID string, q EnrollmentQuery) (Page[Enrollment], error)
	// DueReminders lists, in every account, pending cycles whose next
	// reminder is due at now and whose links are still valid.
	DueReminders(ctx context.Context, now time.Time, limit int) ([]Enrollment, error)
	// EnrollmentCandidates pages through the active users linked to the
	// source that have an email address, have not enrolled, and have no
	// pending cycle whose links are valid at now, and whose address was
	// not refused, ordered by id after the given id.
	EnrollmentCandidates(ctx context.Context, sourceID string, now time.Time, after string, limit int) ([]directory.User, error)

	Mail(ctx context.Context, accountID, id string) (Mail, error)
	Mails(ctx context.Context, accountID string, q MailQuery) (Page[Mail], error)
	// MailSettings returns empty settings when none are stored.
	MailSettings(ctx context.Context, accountID string) (MailSettings, error)
}

// MailTx writes enrollments, the outbox and mail settings.
type MailTx interface {
	CreateEnrollment(ctx context.Context, e *Enrollment) error // sets ID
	UpdateEnrollment(ctx context.Context, e Enrollment) error
	// AddEnrollmentToken records a token's hash for the cycle.
	AddEnrollmentToken(ctx context.Context, enrollmentID, hash string, at time.Time) error
	// ExpireEnrollments marks expired the pending cycles whose links
	// expired before now, in every account, and returns how many.
	ExpireEnrollments(ctx context.Context, now time.Time) (int, error)

	// EnqueueMail adds a queued mail (setting ID and CreatedAt); it
	// reports false, adding nothing, when the account has a mail with the
	// same DedupeKey.
	EnqueueMail(ctx context.Context, m *Mail) (bool, error)
	// ClaimMail makes holder the one sender, until until, of up to limit
	// queued mails that are due at now and that no live claim holds,
	// oldest first, and returns them. Replicas sharing a database claim
	// different mails (SKIP LOCKED on PostgreSQL).
	ClaimMail(ctx context.Context, holder string, now, until time.Time, limit int) ([]Mail, error)
	// FinishMail writes m's State, Attempts, LastError, NextAttemptAt,
	// FinishedAt and Body, and ends holder's claim; it reports false,
	// writing nothing, when holder's claim was lost.
	FinishMail(ctx context.Context, m Mail, holder string) (bool, error)
	// WithdrawMail withdraws the queued mails of an enrollment cycle that
	// no process is sending, and returns how many.
	WithdrawMail(ctx context.Context, accountID, enrollmentID string, now time.Time) (int, error)
	// ReleaseMail ends holder's claim without counting an attempt.
	ReleaseMail(ctx context.Context, id, holder string) error
	// PruneMail deletes mails that ended before before.
	PruneMail(ctx context.Context, before time.Time) (int, error)

	SetMailSettings(ctx context.Context, s MailSettings) error
}
