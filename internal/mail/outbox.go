package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
)

// Defaults of the outbox's retry policy and claims.
const (
	// DefaultFirstBackoff is the wait after a mail's first failed attempt;
	// each further failure doubles it, up to DefaultMaxBackoff.
	DefaultFirstBackoff = time.Minute
	DefaultMaxBackoff   = time.Hour
	// DefaultRetryFor is how long a mail that keeps failing for reasons
	// that may pass (the server unreachable, 4xx answers) is retried.
	DefaultRetryFor = 24 * time.Hour
	// DefaultLease is how long a claim on a mail lasts: longer than one
	// conversation with the server, so that a live sender never loses it.
	DefaultLease = 5 * time.Minute
	batchSize    = 50
)

// Body is what the outbox keeps of a mail beside its recipient and
// subject, sealed: it may hold an enrollment link.
type Body struct {
	Text    string            `json:"text"`
	HTML    string            `json:"html,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Seal seals a body for the outbox.
func (b Body) Seal(box *secret.Box) ([]byte, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return box.Seal(data)
}

func openBody(box *secret.Box, sealed []byte) (Body, error) {
	var b Body
	data, err := box.Open(sealed)
	if err != nil {
		return b, err
	}
	err = json.Unmarshal(data, &b)
	return b, err
}

// Outbox sends the queued mails of every account: each one once, across
// restarts and replicas (a mail is sent by the process that claims it),
// retrying what may pass with backoff, and recording every outcome on the
// mail itself, which stays as the account's mail log.
type Outbox struct {
	Store store.Store
	Box   *secret.Box
	// Sender sends; nil leaves the mails queued (no server configured).
	Sender Sender
	Clock  clock.Clock
	Logger *slog.Logger
	// Holder names this process in claims; empty means a random name.
	Holder string
	// Lease, FirstBackoff, MaxBackoff, RetryFor: zero means the default.
	Lease, FirstBackoff, MaxBackoff, RetryFor time.Duration
	// Observe, when set, is told each attempt's outcome (a store.Mail*
	// state, or "retry" and "cancelled").
	Observe func(outcome string)
	// Finished, when set, is called with a mail that reached a final
	// state, in the transaction that records it (an enrollment cycle whose
	// address was refused ends there).
	Finished func(ctx context.Context, tx store.Tx, m store.Mail) error

	once sync.Once
	mu   sync.Mutex // one Deliver at a time per process
}

// Delivered counts what one Deliver did.
type Delivered struct {
	Sent, Refused, Failed, Retried int
}

func (o *Outbox) init() {
	o.once.Do(func() {
		if o.Holder == "" {
			var b [8]byte
			rand.Read(b[:])
			o.Holder = "mail-" + hex.EncodeToString(b[:])
		}
		if o.Lease <= 0 {
			o.Lease = DefaultLease
		}
		if o.FirstBackoff <= 0 {
			o.FirstBackoff = DefaultFirstBackoff
		}
		if o.MaxBackoff <= 0 {
			o.MaxBackoff = DefaultMaxBackoff
		}
		if o.RetryFor <= 0 {
			o.RetryFor = DefaultRetryFor
		}
		if o.Logger == nil {
			o.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Deliver sends the mails that are due, in batches, until none is left or
// ctx ends. A mail whose sending ctx cancels is released unsent and
// uncounted: the next Deliver, here or in another process, sends it.
func (o *Outbox) Deliver(ctx context.Context) (Delivered, error) {
	var d Delivered
	if o.Sender == nil {
		return d, nil
	}
	o.init()
	o.mu.Lock()
	defer o.mu.Unlock()
	clk := clock.Or(o.Clock)
	for ctx.Err() == nil {
		now := clk.Now().UTC()
		var batch []store.Mail
		err := o.Store.Update(ctx, func(tx store.Tx) error {
			var err error
			batch, err = tx.ClaimMail(ctx, o.Holder, now, now.Add(o.Lease), batchSize)
			return err
		})
		if err != nil {
			return d, fmt.Errorf("mail: claim: %w", err)
		}
		if len(batch) == 0 {
			return d, nil
		}
		for i, m := range batch {
			if ctx.Err() != nil {
				o.release(batch[i:])
				return d, ctx.Err()
			}
			if err := o.send(ctx, m, &d); err != nil {
				o.release(batch[i+1:])
				return d, err
			}
		}
	}
	return d, ctx.Err()
}

// release gives back claims this process will not use.
func (o *Outbox) release(ms []store.Mail) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range ms {
		err := o.Store.Update(ctx, func(tx store.Tx) error { return tx.ReleaseMail(ctx, m.ID, o.Holder) })
		if err != nil {
			o.Logger.Warn("mail: release claim", "mail", m.ID, "err", err)
		}
	}
}

func (o *Outbox) send(ctx context.Context, m store.Mail, d *Delivered) error {
	clk := clock.Or(o.Clock)
	body, err := openBody(o.Box, m.Body)
	var sendErr error
	if err != nil {
		sendErr = &SendError{Permanent: true, Err: fmt.Errorf("the mail's body cannot be opened with this master key: %w", err)}
	} else {
		headers := map[string]string{"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
		for k, v := range body.Headers {
			headers[k] = v
		}
		sendErr = o.Sender.Send(ctx, Message{ID: m.ID, To: m.To, Subject: m.Subject, Text: body.Text, HTML: body.HTML,
			Date: clk.Now(), Headers: headers})
	}
	if sendErr != nil && ctx.Err() != nil {
		// Stopped mid-send: the server did not take the message; whoever
		// claims it next sends it.
		o.observe("cancelled")
		o.release([]store.Mail{m})
		return ctx.Err()
	}
	now := clk.Now().UTC()
	m.Attempts++
	switch {
	case sendErr == nil:
		m.State, m.LastError, m.FinishedAt, m.NextAttemptAt, m.Body = store.MailSent, "", now, time.Time{}, nil
		d.Sent++
	case IsRefused(sendErr):
		m.State, m.LastError, m.FinishedAt, m.NextAttemptAt, m.Body = store.MailRefused, sendErr.Error(), now, time.Time{}, nil
		d.Refused++
	case IsPermanent(sendErr):
		m.State, m.LastError, m.FinishedAt, m.NextAttemptAt, m.Body = store.MailFailed, sendErr.Error(), now, time.Time{}, nil
		d.Failed++
	case now.Sub(m.CreatedAt) >= o.RetryFor:
		m.State, m.FinishedAt, m.NextAttemptAt, m.Body = store.MailFailed, now, time.Time{}, nil
		m.LastError = fmt.Sprintf("gave up after %d attempts over %s: %v", m.Attempts, o.RetryFor, sendErr)
		d.Failed++
	default:
		m.LastError, m.NextAttemptAt = sendErr.Error(), now.Add(o.backoff(m.Attempts))
		d.Retried++
	}
	outcome := m.State
	if m.State == store.MailQueued {
		outcome = "retry"
	}
	o.observe(outcome)
	// The record must land whatever ctx does now: the server has answered.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var held bool
	err = o.Store.Update(wctx, func(tx store.Tx) error {
		var err error
		if held, err = tx.FinishMail(wctx, m, o.Holder); err != nil || !held || m.State == store.MailQueued || o.Finished == nil {
			return err
		}
		return o.Finished(wctx, tx, m)
	})
	if err != nil {
		return fmt.Errorf("mail: record %s: %w", m.ID, err)
	}
	if !held {
		o.Logger.Warn("mail: the claim ran out while sending; the outcome is not recorded", "mail", m.ID, "outcome", outcome)
	}
	if sendErr != nil {
		o.Logger.Info("mail not sent", "mail", m.ID, "kind", m.Kind, "state", m.State, "attempt", m.Attempts, "err", sendErr)
	}
	return nil
}

func (o *Outbox) backoff(attempts int) time.Duration {
	d := o.FirstBackoff
	for i := 1; i < attempts && d < o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.MaxBackoff)
}

func (o *Outbox) observe(outcome string) {
	if o.Observe != nil {
		o.Observe(outcome)
	}
}

// ErrNoSender is what a use case that needs mail sent now says when no
// server is configured.
var ErrNoSender = errors.New("no SMTP server is configured")
