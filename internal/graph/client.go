// Package graph is a small typed client for the parts of Microsoft Graph
// v1.0 that dirsync reads: users, groups, members, delta queries, $batch.
//
// It exists because the full msgraph-sdk-go costs minutes and gigabytes to
// build. Authentication is azidentity's alone (any azcore.TokenCredential:
// client secret, certificate, later managed identity); this package only
// asks it for tokens. Every call pages by following @odata.nextLink exactly
// as given and hands each page to a callback, so no caller ever holds a
// whole tenant. Throttling (429 + Retry-After), 5xx answers and reset
// connections are retried with backoff and jitter inside a per-call time
// budget, on an injected clock, and counted for the run history.
//
// A hostile or broken server cannot hold a sync: every attempt is bounded
// as a whole (headers and body, RequestTimeout, and never past the call's
// budget), a page is decoded as it streams in and refused past
// MaxPageBytes, a nextLink that leads back to a page already read ends the
// listing, and redirects are refused, so the access token only ever goes
// to the Graph host it was issued for.
package graph

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/dirsync/dirsync/internal/clock"
)

// Options configure a Client. Only Credential and GraphURL are required.
type Options struct {
	// Credential gives access tokens; azidentity's credentials cache them.
	Credential azcore.TokenCredential
	// GraphURL is the Graph host without version, such as https://graph.microsoft.com.
	GraphURL string
	// Scope defaults to GraphURL + "/.default".
	Scope string
	// HTTPClient sends the Graph requests; NewHTTPClient(nil) when nil.
	HTTPClient *http.Client
	// Budget bounds the time one call (one request and its retries) may
	// spend waiting to retry; 5 minutes when zero.
	Budget time.Duration
	// MaxAttempts bounds the attempts of one call; 30 when zero.
	MaxAttempts int
	// RequestTimeout bounds one attempt as a whole: the token, the wait for
	// the answer's headers and the reading of its body (2 minutes when
	// zero). An attempt never runs past the call's budget either.
	RequestTimeout time.Duration
	// MaxPageBytes bounds the body of one answer (64 MiB when zero): a
	// page of 999 users is a few megabytes.
	MaxPageBytes int64
	// Clock tells the time the budget is measured on, times attempts out
	// and waits between them; the system clock when nil.
	Clock clock.Clock
	// Rand returns a number in [0,1) for jitter.
	Rand func() float64
	// Logger receives retries and throttling at Info; never secrets or tokens.
	Logger    *slog.Logger
	UserAgent string
}

// Stats count what a client sent, for the run history.
type Stats struct {
	Requests  int64 // HTTP requests sent to Graph (a $batch counts once)
	Throttled int64 // 429 answers, including those inside a $batch
	Retries   int64 // requests (or $batch sub-requests) sent again
}

type counters struct{ requests, throttled, retries atomic.Int64 }

// Client calls Graph v1.0. It is safe for concurrent use.
type Client struct {
	cred        azcore.TokenCredential
	scope       string
	origin      string // https://graph.microsoft.com
	base        string // https://graph.microsoft.com/v1.0
	hc          *http.Client
	budget      time.Duration
	reqTimeout  time.Duration
	maxPage     int64
	maxAttempts int
	clk         clock.Clock
	rand        func() float64
	log         *slog.Logger
	ua          string
	stats       *counters
}

// New returns a Client.
func New(o Options) (*Client, error) {
	if o.Credential == nil {
		return nil, errors.New("graph: no credential")
	}
	origin, err := httpsBase(o.GraphURL)
	if err != nil {
		return nil, fmt.Errorf("graph: graph URL: %w", err)
	}
	c := &Client{
		cred:        o.Credential,
		scope:       o.Scope,
		origin:      origin,
		base:        origin + "/v1.0",
		hc:          o.HTTPClient,
		budget:      o.Budget,
		reqTimeout:  o.RequestTimeout,
		maxPage:     o.MaxPageBytes,
		maxAttempts: o.MaxAttempts,
		clk:         clock.Or(o.Clock),
		rand:        o.Rand,
		log:         o.Logger,
		ua:          o.UserAgent,
		stats:       &counters{},
	}
	if c.scope == "" {
		c.scope = origin + "/.default"
	}
	if c.hc == nil {
		if c.hc, err = NewHTTPClient(nil); err != nil {
			return nil, err
		}
	}
	if c.budget <= 0 {
		c.budget = 5 * time.Minute
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = 30
	}
	if c.reqTimeout <= 0 {
		c.reqTimeout = DefaultRequestTimeout
	}
	if c.maxPage <= 0 {
		c.maxPage = DefaultMaxPageBytes
	}
	if c.rand == nil {
		c.rand = rand.Float64
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.ua == "" {
		c.ua = "dirsync"
	}
	return c, nil
}

// WithBudget returns a client sharing c's credential, connections and
// counters whose calls get budget d instead (a connection test should give
// up sooner than a nightly sync).
func (c *Client) WithBudget(d time.Duration) *Client {
	cc := *c
	cc.budget = d
	return &cc
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:  c.stats.requests.Load(),
		Throttled: c.stats.throttled.Load(),
		Retries:   c.stats.retries.Load(),
	}
}

// BaseURL is the versioned Graph root, such as https://graph.microsoft.com/v1.0.
func (c *Client) BaseURL() string { return c.base }

// Defaults of Options.
const (
	DefaultRequestTimeout = 2 * time.Minute
	DefaultMaxPageBytes   = 64 << 20
)

// call is one Graph request before it is sent.
type call struct {
	method string
	url    string // absolute
	header http.Header
	body   []byte
	// write marks a request that must not be sent twice: after an
	// answer Graph may have acted on (5xx, a reset or a timeout once
	// sent), it is not retried; refusals Graph acts on nothing for (401,
	// 429) and failures to get a token are.
	write bool
}

// resendable reports whether a write that failed with err surely had no
// effect, so that sending it again cannot apply it twice.
func resendable(err error) bool {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Status == http.StatusUnauthorized || ge.Status == http.StatusTooManyRequests
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		return true
	}
	var te *TimeoutError
	return errors.As(err, &te) && te.URL == "" // getting the token timed out: nothing was sent
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

// token gets an access token; a non-empty claims forces a fresh one past
// azidentity's cache (the way a CAE claims challenge does).
func (c *Client) token(ctx context.Context, claims string) (string, error) {
	tctx, slot := withNetErrSlot(ctx)
	tok, err := c.cred.GetToken(tctx, policy.TokenRequestOptions{Scopes: []string{c.scope}, Claims: claims})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", newAuthError(err, slot.get())
	}
	return tok.Token, nil
}

// maxRefreshes is how many fresh tokens one request may ask for.
const maxRefreshes = 2

// maxRefusedAttempts bounds the attempts of a call whose connections are
// refused: about seven seconds of backoff, not the whole budget.
const maxRefusedAttempts = 4

// do sends r, retrying what Graph documents as retryable, within the
// budget, and decodes the 2xx answer's JSON body into into (nil: the body
// is dropped) as it streams in.
func (c *Client) do(ctx context.Context, r call, into any) error {
	deadline := c.clk.Now().Add(c.budget)
	refreshed := 0
	claims := ""
	var last error // the last retryable failure, for the budget error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if attempt > 0 {
			c.stats.retries.Add(1)
		}
		wait, err := c.once(ctx, r, into, deadline, attempt, &claims, &refreshed)
		if err == nil {
			return nil
		}
		if wait < 0 { // not retryable
			return err
		}
		if r.write && !resendable(err) {
			return fmt.Errorf("graph: %s %s: not sent again, as Graph may have applied it: %w", r.method, pathOf(r.url), err)
		}
		last = err
		// Nothing listening at the address: a few quick retries cover a
		// restart; minutes of them would only hide that the source is down
		// (its run fails, its status says so, a scheduled run is retried
		// later in its slot).
		refusedOut := errors.Is(err, syscall.ECONNREFUSED) && attempt+1 >= maxRefusedAttempts
		if attempt+1 >= c.maxAttempts || refusedOut || !c.clk.Now().Add(wait).Before(deadline) {
			return fmt.Errorf("%w after %d attempts: %w", ErrRetryBudget, attempt+1, last)
		}
		c.log.Info("graph: retrying", "method", r.method, "path", pathOf(r.url), "attempt", attempt+1, "wait", wait, "error", err.Error())
		if wait > 0 {
			if err := clock.Sleep(ctx, c.clk, wait); err != nil {
				return err
			}
		}
	}
}

// errAttemptTimeout cancels an attempt that ran past its time.
var errAttemptTimeout = errors.New("attempt timed out")

// once makes one attempt. On failure it says how long to wait before the
// next attempt, or a negative wait when there must be none.
func (c *Client) once(ctx context.Context, r call, into any, deadline time.Time, attempt int, claims *string, refreshed *int) (time.Duration, error) {
	// The whole attempt, token included, is bounded on the clock: a server
	// that never answers, or trickles its answer, cannot hold the call
	// past RequestTimeout, nor past the call's budget.
	limit := min(c.reqTimeout, deadline.Sub(c.clk.Now()))
	if limit <= 0 {
		return -1, &TimeoutError{URL: r.url, After: 0, Phase: "the retry budget was spent"}
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := c.clk.AfterFunc(limit, func() { cancel(errAttemptTimeout) })
	defer timer.Stop()
	at := bounded{call: ctx, ctx: actx, url: r.url, limit: limit}

	tok, err := c.token(actx, *claims)
	*claims = ""
	if err != nil {
		return c.tokenFailed(at, err, attempt)
	}
	req, err := c.newRequest(actx, r, tok)
	if err != nil {
		return -1, err
	}
	c.stats.requests.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.sendFailed(at, err, attempt)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// Not followed (the client follows none): a redirect would take
		// the access token to another host or port, and its answer is not
		// Graph's.
		return -1, redirectError(resp)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if rerr != nil {
			if te := at.timedOut("reading the answer", int64(len(data))); te != nil {
				return c.backoff(attempt), te
			}
		}
		return c.failed(resp, data, r, attempt, claims, refreshed)
	}
	return c.decodeAnswer(at, resp.Body, into, attempt)
}

// bounded is one attempt of a call, under its time limit.
type bounded struct {
	call  context.Context // the call's: its end is the caller's doing
	ctx   context.Context // the attempt's, cancelled at its limit
	url   string
	limit time.Duration
}

// timedOut is the TimeoutError of an attempt that ran past its limit in
// phase, having read read bytes; nil when the attempt did not time out.
func (b bounded) timedOut(phase string, read int64) *TimeoutError {
	if context.Cause(b.ctx) == errAttemptTimeout && b.call.Err() == nil {
		return &TimeoutError{URL: b.url, After: b.limit, Phase: phase, Read: read}
	}
	return nil
}

// tokenFailed says whether an attempt whose token could not be had is
// tried again.
func (c *Client) tokenFailed(at bounded, err error, attempt int) (time.Duration, error) {
	if te := at.timedOut("getting an access token", 0); te != nil {
		te.URL = "" // the login service's, not Graph's
		return c.backoff(attempt), te
	}
	if at.call.Err() != nil {
		return -1, at.call.Err()
	}
	var ae *AuthError
	if errors.As(err, &ae) && ae.transient() {
		return c.backoff(attempt), err
	}
	return -1, err
}

// newRequest is r as an HTTP request carrying tok.
func (c *Client) newRequest(ctx context.Context, r call, tok string) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("client-request-id", newRequestID())
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// sendFailed says whether an attempt that got no answer is tried again.
func (c *Client) sendFailed(at bounded, err error, attempt int) (time.Duration, error) {
	if te := at.timedOut("waiting for the answer", 0); te != nil {
		return c.backoff(attempt), te
	}
	if at.call.Err() != nil {
		return -1, at.call.Err()
	}
	if Transient(err) {
		return c.backoff(attempt), err
	}
	return -1, err
}

// decodeAnswer decodes a 2xx answer's body into into as it streams in; a
// body cut short or too slow is worth another attempt, one Graph should
// not have sent is not.
func (c *Client) decodeAnswer(at bounded, body io.Reader, into any, attempt int) (time.Duration, error) {
	pr := &pageReader{r: body, max: c.maxPage}
	err := decodeJSON(pr, into)
	switch {
	case err == nil:
		return 0, nil
	case errors.Is(err, ErrPageTooLarge) || errors.Is(err, ErrTooManyValues):
		return -1, fmt.Errorf("graph: %s: %w", pathOf(at.url), err)
	}
	if te := at.timedOut("reading the answer", pr.n); te != nil {
		return c.backoff(attempt), te
	}
	if at.call.Err() != nil {
		return -1, at.call.Err()
	}
	if pr.err != nil {
		// A connection dropped in the middle of a body is as transient as a reset.
		return c.backoff(attempt), fmt.Errorf("graph: reading response: %w", pr.err)
	}
	return -1, fmt.Errorf("graph: decoding %s: %w", pathOf(at.url), err)
}

// failed reads a non-2xx answer and says whether and when to try again.
func (c *Client) failed(resp *http.Response, data []byte, r call, attempt int, claims *string, refreshed *int) (time.Duration, error) {
	gerr := parseError(resp.StatusCode, resp.Header, data, c.clk.Now())
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		// An access token can expire or be revoked mid-run: get a new one.
		// Twice, not once: with readers running side by side, a token can
		// be rolled over again between its refresh and the retry. A third
		// 401 in a row means the credential itself is refused.
		if *refreshed >= maxRefreshes {
			return -1, gerr
		}
		*refreshed++
		*claims = claimsChallenge(resp.Header.Get("WWW-Authenticate"), c.clk.Now())
		c.log.Info("graph: access token refused, getting a fresh one", "path", pathOf(r.url), "code", gerr.Code)
		return 0, gerr
	case http.StatusTooManyRequests:
		c.stats.throttled.Add(1)
		return c.throttleWait(gerr.RetryAfter, attempt), gerr
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if gerr.RetryAfter > 0 {
			return c.throttleWait(gerr.RetryAfter, attempt), gerr
		}
		return c.backoff(attempt), gerr
	}
	return -1, gerr
}

// backoff is exponential (1 s doubling to 32 s) with jitter over its upper
// half, so that clients that failed together do not retry together.
func (c *Client) backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 5)
	return d/2 + time.Duration(c.rand()*float64(d/2))
}

// throttleWait is Retry-After plus under half a second of jitter; Graph
// keeps counting a throttled client's requests, so retrying sooner only
// prolongs the throttling.
func (c *Client) throttleWait(retryAfter time.Duration, attempt int) time.Duration {
	if retryAfter <= 0 {
		return c.backoff(attempt)
	}
	return retryAfter + time.Duration(c.rand()*float64(500*time.Millisecond))
}

var claimsRE = regexp.MustCompile(`claims="([^"]+)"`)

// claimsChallenge returns the claims to ask a fresh token with: the claims
// challenge of a CAE 401 when Graph sent one, otherwise a token issued no
// earlier than now, which makes the credential bypass its cache.
func claimsChallenge(wwwAuth string, now time.Time) string {
	if m := claimsRE.FindStringSubmatch(wwwAuth); m != nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(m[1]); err == nil && json.Valid(b) {
				return string(b)
			}
		}
	}
	return `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(now.Unix(), 10) + `"}}}`
}

func newRequestID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func pathOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Path
	}
	return ""
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if !u.IsAbs() {
		return nil, fmt.Errorf("not an absolute URL")
	}
	return u, nil
}

// getJSON GETs link and decodes the answer into v.
func (c *Client) getJSON(ctx context.Context, link string, h http.Header, v any) error {
	return c.do(ctx, call{method: http.MethodGet, url: link, header: h}, v)
}

// pageOf is one page of a collection or of a delta round.
type pageOf[T any] struct {
	NextLink  string `json:"@odata.nextLink"`
	DeltaLink string `json:"@odata.deltaLink"`
	Value     []T    `json:"value"`
	// early, when set, is told the next link as soon as the decoder
	// meets it, before the values that follow it (Graph writes it first).
	early func(next string)
}

// walk GETs start and follows @odata.nextLink exactly as given, handing
// each page's values to fn, and returns the last page's deltaLink (if any).
// fn returning ErrStop ends the walk early with no error.
//
// With readAhead, the next page is requested as soon as its link is
// known, before fn has the page: a listing is a chain of dependent round
// trips, and what fn does with a page (staging it in a database) then
// overlaps the wait for the next instead of adding to it. The link is
// known as soon as the decoder meets it: Graph writes @odata.nextLink
// before the page's values, so the next request leaves while this page's
// values still stream in and decode (a delta page of a hundred groups
// takes 5 to 15 ms, on every link of the chain). Memory holds two pages
// at most. A caller whose fn may return ErrStop leaves it off, so that
// stopping costs no request.
func walk[T any](ctx context.Context, c *Client, start string, h http.Header, readAhead bool, fn func([]T) error) (deltaLink string, err error) {
	if err := sameOrigin(c.origin, start); err != nil {
		return "", err
	}
	fctx, cancel := context.WithCancel(ctx)
	pf := &pageFetcher[T]{ctx: fctx, c: c, h: h, readAhead: readAhead}
	defer func() {
		cancel()
		pf.fetches.Wait() // no request outlives the walk
	}()
	fetch := pf.fetch
	// Every page's link, hashed: a server that leads back to a page it
	// already served (A -> B -> A) would otherwise be read forever.
	seen := map[[sha256.Size]byte]int{sha256.Sum256([]byte(start)): 1}
	pending := fetch(start)
	for page := 1; ; page++ {
		f := pending
		pf.await(f)
		f.cancel()
		pending = nil
		ahead := f.ahead
		if f.err != nil {
			return "", f.err
		}
		p := f.page
		var nextErr error
		next := func() {
			key := sha256.Sum256([]byte(p.NextLink))
			if first, ok := seen[key]; ok {
				nextErr = fmt.Errorf("graph: %s: %w: page %d leads back to page %d", pathOf(start), ErrNextLinkCycle, page+1, first)
			} else if nextErr = sameOrigin(c.origin, p.NextLink); nextErr == nil {
				seen[key] = page + 1
				if ahead != nil && ahead.link == p.NextLink {
					pending, ahead = ahead, nil // already on its way
				} else {
					pending = fetch(p.NextLink)
				}
			}
		}
		if ahead != nil && (!readAhead || ahead.link != p.NextLink) {
			ahead.cancel() // a link the page did not end with (a retried attempt's)
		}
		if readAhead && p.NextLink != "" {
			next()
		}
		if err := fn(p.Value); err != nil {
			if errors.Is(err, ErrStop) {
				return "", nil
			}
			return "", err
		}
		if p.NextLink == "" {
			return p.DeltaLink, nil
		}
		if !readAhead {
			next()
		}
		if nextErr != nil {
			return "", nextErr
		}
	}
}

// pageFetcher starts the requests of one walk.
type pageFetcher[T any] struct {
	ctx       context.Context
	c         *Client
	h         http.Header
	readAhead bool
	fetches   sync.WaitGroup
}

// fetch requests the page at link and, reading ahead, the next page as
// soon as its link is read.
func (pf *pageFetcher[T]) fetch(link string) *pageFetch[T] {
	pctx, pcancel := context.WithCancel(pf.ctx)
	f := &pageFetch[T]{link: link, done: make(chan struct{}), cancel: pcancel}
	if pf.readAhead {
		f.page.early = func(next string) {
			// Once per page (a retried attempt meets the link again),
			// and never to another origin: the token goes with it.
			if sameOrigin(pf.c.origin, next) != nil {
				return
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.next == "" {
				f.next = next
				if f.awaited {
					f.ahead = pf.fetch(next)
				}
			}
		}
	}
	pf.fetches.Add(1)
	go func() {
		defer pf.fetches.Done()
		defer close(f.done)
		f.err = pf.c.getJSON(pctx, link, pf.h, &f.page)
	}()
	return f
}

// await marks f as the page the walk waits for, and requests its next
// page if its link is known already; then it waits for f. Only the
// awaited page asks for the next one early: a page read ahead while fn
// still holds the one before waits its turn, so memory holds two pages
// at most, however far the reads outrun fn.
func (pf *pageFetcher[T]) await(f *pageFetch[T]) {
	f.mu.Lock()
	f.awaited = true
	if f.next != "" && f.ahead == nil {
		f.ahead = pf.fetch(f.next)
	}
	f.mu.Unlock()
	<-f.done
}

// pageFetch is a page on its way: its link, and once done is closed,
// the page or why it could not be read. ahead is the next page, requested
// as soon as this one's next link (next) was read, once the walk awaits
// this one.
type pageFetch[T any] struct {
	mu      sync.Mutex
	awaited bool
	next    string
	link    string
	done    chan struct{}
	cancel  context.CancelFunc
	page    pageOf[T]
	err     error
	ahead   *pageFetch[T]
}

// Query is the OData query of a listing.
type Query struct {
	Select  []string
	Top     int // 1..999; 0 leaves Graph's default (100)
	Filter  string
	Search  string // needs ConsistencyLevel: eventual, which Query adds
	OrderBy string
	Count   bool
	// ReadAhead requests each next page before the callback has the
	// current one (see walk); for callers that never return ErrStop.
	ReadAhead bool
}

// Encode returns the query string, without "?".
func (q Query) Encode() string {
	var parts []string
	if len(q.Select) > 0 {
		parts = append(parts, "$select="+strings.Join(q.Select, ","))
	}
	if q.Top > 0 {
		parts = append(parts, "$top="+strconv.Itoa(q.Top))
	}
	if q.Filter != "" {
		parts = append(parts, "$filter="+escapeQuery(q.Filter))
	}
	if q.Search != "" {
		parts = append(parts, "$search="+escapeQuery(q.Search))
	}
	if q.OrderBy != "" {
		parts = append(parts, "$orderby="+escapeQuery(q.OrderBy))
	}
	if q.Count {
		parts = append(parts, "$count=true")
	}
	return strings.Join(parts, "&")
}

func (q Query) header() http.Header {
	if q.Search != "" || q.Count {
		h := http.Header{}
		h.Set("ConsistencyLevel", "eventual")
		return h
	}
	return nil
}

// escapeQuery escapes an OData expression for a query string, spaces as %20
// (a '+' is not a space to every server).
func escapeQuery(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func (c *Client) url(path string, q Query) string {
	u := c.base + path
	if s := q.Encode(); s != "" {
		u += "?" + s
	}
	return u
}
