package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
)

// Defaults of the Dispatcher.
const (
	DefaultFirstBackoff = 5 * time.Second
	DefaultMaxBackoff   = time.Hour
	// DefaultRetryFor is how long an event is retried before it is given
	// up: more than the day the issue asks for, so a receiver down for a
	// whole day still gets everything.
	DefaultRetryFor = 25 * time.Hour
	DefaultTimeout  = 10 * time.Second
)

// Payload is the JSON body of a delivery: the Standard Webhooks envelope
// (type, timestamp, data) and the event's place in the feed.
type Payload struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	ID        string          `json:"id"`
	Seq       int64           `json:"seq"`
	AccountID string          `json:"account_id"`
	SourceID  string          `json:"source_id,omitempty"`
	RunID     string          `json:"run_id,omitempty"`
	Data      json.RawMessage `json:"data"`
}

// Dispatcher delivers events to webhooks. Call Tick periodically; it does
// what is due and returns.
type Dispatcher struct {
	Store store.Store
	Box   *secret.Box
	// Client sends the deliveries; nil means a client that dials only what
	// AllowList allows, follows no redirect, and bounds each delivery to
	// DefaultTimeout.
	Client *http.Client
	// AllowList names the private targets (address ranges, host names) a
	// deployment lets webhooks reach; empty means public addresses only.
	// It is dirsync serve's webhook allow list.
	AllowList safehttp.AllowList
	Now       func() time.Time
	Logger    *slog.Logger
	// FirstBackoff is the wait after the first failure; each further
	// failure doubles it, up to MaxBackoff.
	FirstBackoff, MaxBackoff time.Duration
	// RetryFor is how long after an event's first failed attempt it is
	// given up and the subscription moves on.
	RetryFor time.Duration
	// Parallel bounds how many subscriptions are served at once.
	Parallel int
	// Observe, when set, is told every attempt's outcome, for metrics.
	Observe func(outcome string, d time.Duration)

	clientOnce    sync.Once
	defaultClient *http.Client
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Backoff is the wait after the attempt-th failure.
func (d *Dispatcher) Backoff(attempt int) time.Duration {
	first, maxB := d.FirstBackoff, d.MaxBackoff
	if first <= 0 {
		first = DefaultFirstBackoff
	}
	if maxB <= 0 {
		maxB = DefaultMaxBackoff
	}
	b := first
	for i := 1; i < attempt && b < maxB; i++ {
		b *= 2
	}
	return min(b, maxB)
}

func (d *Dispatcher) retryFor() time.Duration {
	if d.RetryFor > 0 {
		return d.RetryFor
	}
	return DefaultRetryFor
}

// Tick serves every enabled subscription once: it delivers, in order, the
// events due, stopping at a subscription's first failure. It returns how
// many delivery attempts it made.
func (d *Dispatcher) Tick(ctx context.Context) (int, error) {
	svc, ok := store.ServiceOf(d.Store)
	if !ok {
		return 0, errors.New("webhook: the store does not keep webhooks")
	}
	hooks, err := svc.AllWebhooks(ctx)
	if err != nil {
		return 0, fmt.Errorf("webhook: list subscriptions: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(d.Parallel, 4))
	counts := make([]int, len(hooks))
	for i, h := range hooks {
		g.Go(func() error {
			n, err := d.serve(gctx, h)
			counts[i] = n
			if err != nil && ctx.Err() == nil {
				d.logger().Error("webhook dispatch failed", "webhook", h.ID, "err", err)
			}
			return nil
		})
	}
	g.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	return total, ctx.Err()
}

// serve delivers what is due to one subscription.
func (d *Dispatcher) serve(ctx context.Context, h store.Webhook) (int, error) {
	if !h.NextAttemptAt.IsZero() && h.NextAttemptAt.After(d.now()) {
		return 0, nil
	}
	secretText, err := d.Box.Open(h.Secret)
	if err != nil {
		return 0, fmt.Errorf("webhook %s: open secret: %w", h.ID, err)
	}
	attempts := 0
	for ctx.Err() == nil {
		events, err := d.Store.Events(ctx, h.AccountID, h.Cursor, 100)
		if err != nil {
			return attempts, fmt.Errorf("webhook %s: read events: %w", h.ID, err)
		}
		if len(events) == 0 {
			return attempts, nil
		}
		for _, e := range events {
			if len(h.EventTypes) > 0 && !slices.Contains(h.EventTypes, e.Type) {
				// Not subscribed: step over it; saved with the next
				// delivery or at the end of the page.
				h.Cursor = e.Seq
				continue
			}
			attempts++
			ok, err := d.attempt(ctx, &h, string(secretText), e)
			if err != nil {
				return attempts, err
			}
			if !ok {
				return attempts, nil
			}
		}
		if err := d.save(ctx, h, nil); err != nil {
			return attempts, err
		}
	}
	return attempts, ctx.Err()
}

// attempt makes one delivery and records it; it reports whether the
// subscription may go on to the next event.
func (d *Dispatcher) attempt(ctx context.Context, h *store.Webhook, secretText string, e directory.Event) (bool, error) {
	start := d.now()
	status, derr := d.post(ctx, h.URL, secretText, e, start)
	if ctx.Err() != nil {
		// Shutting down: the attempt says nothing about the receiver.
		return false, ctx.Err()
	}
	took := d.now().Sub(start)
	del := store.Delivery{
		WebhookID: h.ID, AccountID: h.AccountID, EventID: e.ID, EventSeq: e.Seq, EventType: e.Type,
		Attempt: h.Attempts + 1, HTTPStatus: status, Time: start, DurationMS: took.Milliseconds(),
	}
	next := true
	switch {
	case derr == nil:
		del.Outcome = store.DeliverySucceeded
		h.Cursor, h.Attempts, h.FirstFailedAt, h.NextAttemptAt = e.Seq, 0, time.Time{}, time.Time{}
	default:
		del.Error = derr.Error()
		h.Attempts++
		if h.FirstFailedAt.IsZero() {
			h.FirstFailedAt = start
		}
		if start.Sub(h.FirstFailedAt) >= d.retryFor() {
			del.Outcome = store.DeliveryGaveUp
			h.Cursor, h.Attempts, h.FirstFailedAt, h.NextAttemptAt = e.Seq, 0, time.Time{}, time.Time{}
		} else {
			del.Outcome = store.DeliveryFailed
			h.NextAttemptAt = start.Add(d.Backoff(h.Attempts))
			next = false
		}
	}
	if d.Observe != nil {
		d.Observe(del.Outcome, took)
	}
	d.logger().Info("webhook delivery", "webhook", h.ID, "event", e.ID, "type", e.Type,
		"attempt", del.Attempt, "outcome", del.Outcome, "status", status, "error", del.Error)
	return next, d.save(ctx, *h, &del)
}

// save writes the subscription's delivery state and the log entry in one
// transaction, so the log never disagrees with the cursor.
func (d *Dispatcher) save(ctx context.Context, h store.Webhook, del *store.Delivery) error {
	err := d.Store.Update(ctx, func(tx store.Tx) error {
		stx, ok := store.ServiceTxOf(tx)
		if !ok {
			return errors.New("the store does not keep webhooks")
		}
		cur, err := stx.Webhook(ctx, h.AccountID, h.ID)
		if err != nil {
			return err
		}
		// An administrator may have changed or turned off the
		// subscription meanwhile: keep their fields, take only the
		// delivery state.
		cur.Cursor, cur.Attempts, cur.FirstFailedAt, cur.NextAttemptAt = h.Cursor, h.Attempts, h.FirstFailedAt, h.NextAttemptAt
		if err := stx.UpdateWebhook(ctx, cur); err != nil {
			return err
		}
		if del != nil {
			return stx.AddDelivery(ctx, del)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("webhook %s: save delivery state: %w", h.ID, err)
	}
	return nil
}

// post sends one signed request; a non-2xx answer is an error.
func (d *Dispatcher) post(ctx context.Context, target, secretText string, e directory.Event, now time.Time) (int, error) {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	body, err := json.Marshal(Payload{Type: e.Type, Timestamp: e.Time, ID: e.ID, Seq: e.Seq, AccountID: e.AccountID,
		SourceID: e.SourceID, RunID: e.RunID, Data: data})
	if err != nil {
		return 0, fmt.Errorf("encode payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("bad url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "dirsync-webhooks/1")
	if err := SetHeaders(req.Header, secretText, e.ID, now, body); err != nil {
		return 0, err
	}
	resp, err := d.client().Do(req)
	if err != nil {
		// The URL may carry a token of the receiver's: report the cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// Never followed: it would re-post the signed body elsewhere.
		return resp.StatusCode, fmt.Errorf("receiver answered %s: redirects are not followed", resp.Status)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("receiver answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// client is the Client, or the screened default made once.
func (d *Dispatcher) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	d.clientOnce.Do(func() {
		settings := safehttp.DefaultClient
		settings.ResponseHeaderTimeout = DefaultTimeout
		d.defaultClient = safehttp.NewClient(settings.NewTransport(safehttp.TransportOptions{Screen: safehttp.NewScreen(d.AllowList)}))
		d.defaultClient.Timeout = DefaultTimeout
	})
	return d.defaultClient
}
