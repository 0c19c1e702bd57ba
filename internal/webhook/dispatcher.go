package webhook

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
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
	// DefaultTimeout bounds one delivery: connecting, sending, and the
	// receiver's whole answer.
	DefaultTimeout = 10 * time.Second
	// DefaultClaimFor is how long an endpoint's claim lasts unrenewed: a
	// replica that dies mid-delivery holds the endpoint this long at most.
	DefaultClaimFor = time.Minute
	// DefaultWatchEvery is how often a delivery in flight renews its claim
	// and checks that its webhook is still enabled and unchanged.
	DefaultWatchEvery = time.Second
	// DefaultMaxInFlight bounds the endpoints delivered to at once.
	DefaultMaxInFlight = 256
)

// Payload is the JSON body of a delivery: the event, in the one event
// schema the API's events feed answers with too (directory.Event's JSON:
// version, id, seq, type, time, account, source, run, data; a user's,
// group's or membership's event holds in data.object the object's whole
// state after the change, see directory.ChangeEventData). The Standard
// Webhooks headers carry the delivery's id, timestamp and signature.
type Payload = directory.Event

// Dispatcher delivers events to webhooks, each endpoint on its own: its
// own worker, in order, with its own timeout and backoff, so a slow or
// dead receiver only delays itself.
//
// Before delivering to an endpoint a worker claims it in the store; the
// claim is renewed while a delivery is in flight and only its holder may
// move the endpoint's cursor. Several processes sharing a database (dirsync
// serve replicas) thus deliver each endpoint's events in order, whichever
// of them does it. A replica that dies mid-delivery leaves its claim to run
// out (ClaimFor); another then retries the event, which the receiver may
// so get twice, with the same webhook-id.
//
// The endpoint's row is read again before each delivery, and a delivery
// in flight is cancelled when the webhook is disabled, deleted or pointed
// elsewhere: at once when Changed is called (in the process that changed
// it), within WatchEvery otherwise.
//
// Run delivers until its context ends; Tick serves what is due once and
// waits for it, for tests and one-shot use.
type Dispatcher struct {
	Store store.Store
	Box   *secret.Box
	// Client sends the deliveries; nil means a client that dials only what
	// AllowList allows and follows no redirect.
	Client *http.Client
	// AllowList names the private targets (address ranges, host names) a
	// deployment lets webhooks reach; empty means public addresses only.
	// It is dirsync serve's webhook allow list.
	AllowList safehttp.AllowList
	// Clock tells the time and times deliveries out; nil means the system
	// clock.
	Clock  clock.Clock
	Logger *slog.Logger
	// FirstBackoff is the wait after the first failure; each further
	// failure doubles it, up to MaxBackoff.
	FirstBackoff, MaxBackoff time.Duration
	// RetryFor is how long after an event's first failed attempt it is
	// given up and the subscription moves on.
	RetryFor time.Duration
	// Timeout bounds one delivery (DefaultTimeout).
	Timeout time.Duration
	// Holder names this process in claims; a random name when empty.
	Holder string
	// ClaimFor and WatchEvery: see DefaultClaimFor and DefaultWatchEvery.
	ClaimFor, WatchEvery time.Duration
	// MaxInFlight bounds the endpoints served at once (DefaultMaxInFlight).
	MaxInFlight int
	// Observe, when set, is told every attempt's outcome, for metrics.
	Observe func(outcome string, d time.Duration)

	initOnce      sync.Once
	holder        string
	slots         chan struct{}
	wake          chan struct{}
	defaultClient *http.Client

	mu      sync.Mutex
	running map[string]*worker // by webhook id
}

// worker is one endpoint being served.
type worker struct {
	cancel context.CancelCauseFunc
	poke   chan struct{} // Changed: check the endpoint now
	again  bool          // found due while running: look again when done
}

// errEndpointChanged cancels a delivery whose webhook was disabled,
// deleted or pointed elsewhere meanwhile.
var errEndpointChanged = errors.New("the webhook was changed, disabled or deleted during the delivery")

// errTimedOut cancels a delivery that took longer than Timeout.
var errTimedOut = errors.New("timed out")

func (d *Dispatcher) init() {
	d.initOnce.Do(func() {
		d.holder = d.Holder
		if d.holder == "" {
			host, _ := os.Hostname()
			b := make([]byte, 6)
			crand.Read(b)
			d.holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
		}
		n := d.MaxInFlight
		if n <= 0 {
			n = DefaultMaxInFlight
		}
		d.slots = make(chan struct{}, n)
		d.wake = make(chan struct{}, 1)
		d.running = map[string]*worker{}
	})
}

func (d *Dispatcher) clock() clock.Clock { return clock.Or(d.Clock) }

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func orDefault(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// Backoff is the wait after the attempt-th failure.
func (d *Dispatcher) Backoff(attempt int) time.Duration {
	first, maxB := orDefault(d.FirstBackoff, DefaultFirstBackoff), orDefault(d.MaxBackoff, DefaultMaxBackoff)
	b := first
	for i := 1; i < attempt && b < maxB; i++ {
		b *= 2
	}
	return min(b, maxB)
}

// Wake makes Run look for events now rather than at its next poll.
func (d *Dispatcher) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Changed tells the dispatcher that an administrator changed, disabled or
// deleted webhook id: a delivery in flight to it in this process is
// cancelled at once if the webhook is no longer enabled at the same URL.
// Call it after the change is committed.
func (d *Dispatcher) Changed(id string) {
	d.init()
	d.mu.Lock()
	w := d.running[id]
	d.mu.Unlock()
	if w != nil {
		select {
		case w.poke <- struct{}{}:
		default:
		}
	}
}

// Tick serves every endpoint that has events due, each independently, and
// waits until each has delivered what it could (stopping at its first
// failure). It returns how many delivery attempts it made.
func (d *Dispatcher) Tick(ctx context.Context) (int, error) {
	d.init()
	due, _, err := d.due(ctx)
	if err != nil {
		return 0, err
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	for _, h := range due {
		d.start(ctx, &wg, h, func(n int) { total.Add(int64(n)) })
	}
	wg.Wait()
	return int(total.Load()), ctx.Err()
}

// Run delivers until ctx ends: it looks for endpoints with events due
// every poll, when woken (Wake), and when a retry falls due, and serves
// each in its own worker. In-flight deliveries are cancelled when ctx ends
// (they are not recorded: a shutdown says nothing about the receiver).
func (d *Dispatcher) Run(ctx context.Context, poll time.Duration) error {
	d.init()
	clk := d.clock()
	poll = orDefault(poll, 15*time.Second)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := clk.NewTimer(poll)
	defer timer.Stop()
	for {
		due, next, err := d.due(ctx)
		if err != nil && ctx.Err() == nil {
			d.logger().Error("webhook dispatcher", "err", err)
		}
		for _, h := range due {
			d.start(ctx, &wg, h, func(int) {})
		}
		wait := poll
		if !next.IsZero() {
			wait = max(min(wait, next.Sub(clk.Now())), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C():
		case <-d.wake:
		}
	}
}

// due lists the enabled endpoints with events after their cursor whose
// retry time has come, and the earliest retry time still to come.
func (d *Dispatcher) due(ctx context.Context) ([]store.Webhook, time.Time, error) {
	svc := d.Store
	hooks, err := svc.AllWebhooks(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("webhook: list subscriptions: %w", err)
	}
	now := d.clock().Now()
	last := map[string]int64{}
	var due []store.Webhook
	var next time.Time
	for _, h := range hooks {
		if h.NextAttemptAt.After(now) {
			if next.IsZero() || h.NextAttemptAt.Before(next) {
				next = h.NextAttemptAt
			}
			continue
		}
		l, ok := last[h.AccountID]
		if !ok {
			if l, err = svc.LastEventSeq(ctx, h.AccountID); err != nil {
				return nil, time.Time{}, fmt.Errorf("webhook: last event: %w", err)
			}
			last[h.AccountID] = l
		}
		if h.Cursor < l {
			due = append(due, h)
		}
	}
	return due, next, nil
}

// start serves h in its own goroutine unless this process already does.
func (d *Dispatcher) start(ctx context.Context, wg *sync.WaitGroup, h store.Webhook, done func(attempts int)) {
	wctx, cancel := context.WithCancelCause(ctx)
	w := &worker{cancel: cancel, poke: make(chan struct{}, 1)}
	d.mu.Lock()
	if r := d.running[h.ID]; r != nil {
		// Its worker may have read the feed before the newest events.
		r.again = true
		d.mu.Unlock()
		cancel(nil)
		return
	}
	d.running[h.ID] = w
	d.mu.Unlock()
	wg.Go(func() {
		defer func() {
			d.mu.Lock()
			again := w.again
			delete(d.running, h.ID)
			d.mu.Unlock()
			cancel(nil)
			if again {
				d.Wake()
			}
		}()
		select {
		case d.slots <- struct{}{}:
			defer func() { <-d.slots }()
		case <-wctx.Done():
			return
		}
		n, failed, err := d.serve(wctx, w, h.AccountID, h.ID)
		if err != nil && ctx.Err() == nil {
			d.logger().Error("webhook dispatch failed", "webhook", h.ID, "err", err)
		}
		done(n)
		if failed {
			d.Wake() // so that Run plans the retry
		}
	})
}

// serve delivers what is due to one endpoint while holding its claim, and
// reports the attempts made and whether the last one failed.
func (d *Dispatcher) serve(ctx context.Context, w *worker, accountID, id string) (attempts int, failed bool, err error) {
	ok, err := d.claim(ctx, id)
	if err != nil || !ok {
		return 0, false, err // disabled, gone, or another replica's
	}
	defer d.release(ctx, id)
	h, err := d.Store.Webhook(ctx, accountID, id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("webhook %s: %w", id, err)
	}
	if !h.Enabled || h.NextAttemptAt.After(d.clock().Now()) {
		return 0, false, nil
	}
	s := &serving{d: d, w: w, accountID: accountID, id: id, h: h, saved: h.Cursor, claimed: d.clock().Now()}
	failed, err = s.deliver(ctx)
	return s.attempts, failed, err
}

// release gives the endpoint's claim up, even when shutting down, so
// another replica need not wait for it to run out.
func (d *Dispatcher) release(ctx context.Context, id string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.update(rctx, func(stx store.Tx) error { return stx.ReleaseWebhook(rctx, id, d.holder) }); err != nil {
		d.logger().Warn("webhook: release claim", "webhook", id, "err", err)
	}
}

// serving is one endpoint being served under this process's claim.
type serving struct {
	d             *Dispatcher
	w             *worker
	accountID, id string
	h             store.Webhook // its cursor moves as events are delivered or stepped over
	saved         int64         // the cursor as stored
	claimed       time.Time     // when the claim was last taken or renewed
	attempts      int
}

// what serving does after an event.
type step int

const (
	nextEvent step = iota
	disabled       // the webhook was disabled: save the cursor and stop
	stop           // stop at once
)

// deliver sends the endpoint's events in order until none is left, one
// fails, or the webhook is disabled.
func (s *serving) deliver(ctx context.Context) (failed bool, err error) {
	for ctx.Err() == nil && s.h.Enabled {
		events, err := s.d.Store.Events(ctx, s.accountID, s.h.Cursor, 100)
		if err != nil {
			return false, fmt.Errorf("webhook %s: read events: %w", s.id, err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			st, failed, err := s.event(ctx, e)
			if st == stop {
				return failed, err
			}
			if st == disabled {
				break
			}
		}
	}
	if s.h.Cursor != s.saved && ctx.Err() == nil {
		if err := s.d.save(ctx, s.h, nil); err != nil {
			return false, err
		}
	}
	return false, ctx.Err()
}

// event delivers e if the webhook, as the administrator last set it,
// wants it; it steps over it otherwise.
func (s *serving) event(ctx context.Context, e directory.Event) (step, bool, error) {
	if !subscribed(s.h, e) {
		// Stepped over; saved with the next delivery or at the end.
		s.h.Cursor = e.Seq
		return nextEvent, false, nil
	}
	// The administrator's latest settings, read just before the
	// delivery: a disabled or deleted webhook gets nothing more.
	cur, err := s.d.Store.Webhook(ctx, s.accountID, s.id)
	if errors.Is(err, store.ErrNotFound) {
		return stop, false, nil
	}
	if err != nil {
		return stop, false, fmt.Errorf("webhook %s: %w", s.id, err)
	}
	s.h.URL, s.h.EventTypes, s.h.Secret, s.h.Enabled = cur.URL, cur.EventTypes, cur.Secret, cur.Enabled
	if !s.h.Enabled {
		return disabled, false, nil
	}
	if !subscribed(s.h, e) {
		s.h.Cursor = e.Seq
		return nextEvent, false, nil
	}
	if now := s.d.clock().Now(); now.Sub(s.claimed) > orDefault(s.d.ClaimFor, DefaultClaimFor)/3 {
		// Renewed well before it runs out, so that no other
		// replica takes the endpoint over while this one serves it.
		if ok, err := s.d.claim(ctx, s.id); err != nil || !ok {
			return stop, false, err
		}
		s.claimed = now
	}
	s.attempts++
	next, err := s.d.attempt(ctx, s.w, &s.h, e)
	s.saved = s.h.Cursor
	if err != nil || !next {
		return stop, err == nil && !next, err
	}
	return nextEvent, false, nil
}

func subscribed(h store.Webhook, e directory.Event) bool {
	return len(h.EventTypes) == 0 || slices.Contains(h.EventTypes, e.Type)
}

// claim takes or renews this process's claim on the endpoint.
func (d *Dispatcher) claim(ctx context.Context, id string) (bool, error) {
	now := d.clock().Now()
	var ok bool
	err := d.update(ctx, func(stx store.Tx) (err error) {
		ok, err = stx.ClaimWebhook(ctx, id, d.holder, now, now.Add(orDefault(d.ClaimFor, DefaultClaimFor)))
		return err
	})
	return ok, err
}

func (d *Dispatcher) update(ctx context.Context, fn func(store.Tx) error) error {
	return d.Store.Update(ctx, fn)
}

// attempt makes one delivery and records it; it reports whether the
// endpoint may go on to the next event.
func (d *Dispatcher) attempt(ctx context.Context, w *worker, h *store.Webhook, e directory.Event) (bool, error) {
	clk := d.clock()
	secretText, err := d.Box.Open(h.Secret)
	if err != nil {
		return false, fmt.Errorf("webhook %s: open secret: %w", h.ID, err)
	}
	timeout := orDefault(d.Timeout, DefaultTimeout)
	start := clk.Now()
	dctx, cancel := context.WithCancelCause(ctx)
	timer := clk.AfterFunc(timeout, func() { cancel(errTimedOut) })
	stopWatch := d.watch(dctx, w, cancel, h.AccountID, h.ID, h.URL)
	status, derr := d.post(dctx, h.URL, string(secretText), e, start)
	timer.Stop()
	stopWatch()
	cause := context.Cause(dctx)
	cancel(nil)
	took := clk.Now().Sub(start)
	del := store.Delivery{
		WebhookID: h.ID, AccountID: h.AccountID, EventID: e.ID, EventSeq: e.Seq, EventType: e.Type,
		Attempt: h.Attempts + 1, HTTPStatus: status, Time: start, DurationMS: took.Milliseconds(),
	}
	next := true
	switch {
	case derr != nil && errors.Is(cause, errEndpointChanged):
		// Not the receiver's doing: no backoff, tried again if still enabled.
		del.Outcome, del.Error, del.ErrorSummary = store.DeliveryCancelled, errEndpointChanged.Error(), "cancelled: the webhook was changed"
		next = false
	case derr != nil && ctx.Err() != nil:
		// Shutting down: the attempt says nothing about the receiver.
		return false, ctx.Err()
	case derr == nil:
		del.Outcome = store.DeliverySucceeded
		h.Cursor, h.Attempts, h.FirstFailedAt, h.NextAttemptAt = e.Seq, 0, time.Time{}, time.Time{}
	default:
		if errors.Is(cause, errTimedOut) {
			derr = &timeoutError{after: timeout, err: derr}
		}
		del.Error, del.ErrorSummary = describe(derr)
		h.Attempts++
		if h.FirstFailedAt.IsZero() {
			h.FirstFailedAt = start
		}
		if start.Sub(h.FirstFailedAt) >= orDefault(d.RetryFor, DefaultRetryFor) {
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
	// Recorded even when a change cancelled the delivery.
	return next, d.save(context.WithoutCancel(ctx), *h, &del)
}

// watch renews the endpoint's claim every WatchEvery while a delivery is
// in flight, and when poked (Changed); it cancels the delivery when the
// claim is lost (the webhook was disabled or deleted, or another replica
// took over) or the webhook now points elsewhere.
func (d *Dispatcher) watch(ctx context.Context, w *worker, cancel context.CancelCauseFunc, accountID, id, target string) (stop func()) {
	t := d.clock().NewTicker(orDefault(d.WatchEvery, DefaultWatchEvery))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		svc := d.Store
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C():
			case <-w.poke:
			}
			ok, err := d.claim(ctx, id)
			if err != nil {
				continue // the database may be back at the next check
			}
			if !ok {
				cancel(errEndpointChanged)
				return
			}
			if h, err := svc.Webhook(ctx, accountID, id); err == nil && h.URL != target {
				cancel(errEndpointChanged)
				return
			}
		}
	})
	return func() {
		close(done)
		t.Stop()
		wg.Wait()
	}
}

// save writes the endpoint's delivery state and the log entry in one
// transaction, so the log never disagrees with the cursor; nothing is
// written when this process no longer holds the endpoint's claim.
func (d *Dispatcher) save(ctx context.Context, h store.Webhook, del *store.Delivery) error {
	err := d.update(ctx, func(stx store.Tx) error {
		ok, err := stx.SaveWebhookState(ctx, h, d.holder)
		if err != nil || !ok {
			return err // deleted, or claimed by another replica: theirs now
		}
		if del != nil {
			return stx.AddDelivery(ctx, del)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("webhook %s: save delivery state: %w", h.ID, err)
	}
	return nil
}

// post sends one signed request; a non-2xx answer is an error.
func (d *Dispatcher) post(ctx context.Context, target, secretText string, e directory.Event, now time.Time) (int, error) {
	return Post(ctx, d.client(), target, secretText, e, now)
}

// Post sends one event to target, signed with secretText at now, through
// client, as a delivery does: a redirect is never followed, and a non-2xx
// answer is an error. It returns the answer's status. The application
// layer's test delivery uses it.
func Post(ctx context.Context, client *http.Client, target, secretText string, e directory.Event, now time.Time) (int, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("encode payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("the URL cannot be used")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "dirsync-webhooks/1")
	if err := SetHeaders(req.Header, secretText, e.ID, now, body); err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL may carry a token of the receiver's: report the cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// Never followed: it would re-post the signed body elsewhere.
		return resp.StatusCode, &statusError{status: resp.StatusCode, text: resp.Status, redirect: true}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &statusError{status: resp.StatusCode, text: resp.Status}
	}
	return resp.StatusCode, nil
}

// client is the Client, or the screened default made once.
func (d *Dispatcher) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.defaultClient == nil {
		settings := safehttp.DefaultClient
		// A backstop in real time; the delivery's own deadline is Timeout
		// on the dispatcher's clock.
		settings.ResponseHeaderTimeout = orDefault(d.Timeout, DefaultTimeout) + time.Second
		d.defaultClient = safehttp.NewClient(settings.NewTransport(safehttp.TransportOptions{Screen: safehttp.NewScreen(d.AllowList)}))
	}
	return d.defaultClient
}
