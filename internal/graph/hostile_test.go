package graph_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/graph"
	"github.com/dirsync/dirsync/internal/graph/graphtest"
)

// hostile is a Graph that misbehaves, on 127.0.0.1, read by a client on a
// fake clock: the client's time limits act when the test moves the clock.
type hostile struct {
	srv  *httptest.Server
	c    *graph.Client
	fc   *clock.Fake
	hits atomic.Int64
	// held is told when the server holds a request (it arrived, and the
	// server is not answering it in full).
	held chan struct{}
	// bodyRead is told when the client has read part of an answer's body.
	bodyRead chan struct{}
}

func newHostile(t testing.TB, budget time.Duration, h http.HandlerFunc) *hostile {
	t.Helper()
	x := &hostile{fc: clock.NewFake(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)), held: make(chan struct{}, 100), bodyRead: make(chan struct{}, 100)}
	x.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(x.srv.Close)
	hc, err := graph.NewHTTPClient(graphtest.CAPEM(x.srv))
	if err != nil {
		t.Fatal(err)
	}
	hc.Transport = watchBody{hc.Transport, x.bodyRead}
	x.c, err = graph.New(graph.Options{Credential: &staticCred{}, GraphURL: x.srv.URL, HTTPClient: hc, Budget: budget, Clock: x.fc})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// watchBody tells ch when the client reads bytes of an answer's body.
type watchBody struct {
	http.RoundTripper
	ch chan struct{}
}

func (w watchBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.RoundTripper.RoundTrip(r)
	if err == nil {
		resp.Body = &watchedBody{ReadCloser: resp.Body, ch: w.ch}
	}
	return resp, err
}

type watchedBody struct {
	io.ReadCloser
	ch   chan struct{}
	told bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 && !b.told {
		b.told = true
		b.ch <- struct{}{}
	}
	return n, err
}

// run calls fn and drives the fake clock: each time ready says the server
// is stuck on a request, it moves the clock to the next deadline (the
// attempt's time limit), and each time the client then waits (a backoff),
// to the end of that wait; it returns fn's error and the fake time spent.
func (x *hostile) run(t *testing.T, ready <-chan struct{}, fn func(ctx context.Context) error) (error, time.Duration) {
	t.Helper()
	start := x.fc.Now()
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { done <- fn(ctx) }()
	jump := func() {
		if next, ok := x.fc.NextDeadline(); ok {
			x.fc.Set(next)
		}
	}
	for {
		select {
		case err := <-done:
			return err, x.fc.Now().Sub(start)
		case <-ready:
			jump() // the attempt times out
		case <-time.After(10 * time.Second):
			t.Fatal("the server got no request and the call did not end")
		}
		// The client backs off, or is done.
		wctx, wcancel := context.WithCancel(ctx)
		go func() {
			select {
			case err := <-done:
				done <- err
			case <-wctx.Done():
			}
			wcancel()
		}()
		if x.fc.BlockUntil(wctx, 1) == nil {
			jump()
		}
		wcancel()
	}
}

func listUsers(c *graph.Client) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		return c.ListUsers(ctx, graph.Query{}, func([]graph.User) error { return nil })
	}
}

// A server that never sends its headers fails the call within its budget,
// as a timeout (a network failure, not an unexpected one).
func TestServerThatNeverAnswers(t *testing.T) {
	var x *hostile
	x = newHostile(t, 5*time.Minute, func(w http.ResponseWriter, r *http.Request) {
		x.held <- struct{}{}
		<-r.Context().Done()
	})
	err, took := x.run(t, x.held, listUsers(x.c))
	var ne net.Error
	if !errors.Is(err, graph.ErrTimeout) || !errors.Is(err, graph.ErrRetryBudget) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("error %v, want a timeout after the retry budget", err)
	}
	if took > 5*time.Minute {
		t.Fatalf("the call took %s, past its 5m budget", took)
	}
	if !strings.Contains(err.Error(), "no complete answer within") {
		t.Fatalf("message %q", err)
	}
	t.Logf("%d attempts in %s: %v", x.hits.Load(), took, err)
}

// A body that stalls (or trickles: a byte every 5 s is as good as none)
// holds the call no longer than its request timeout per attempt, and its
// budget in all.
func TestStalledBodyIsCutOff(t *testing.T) {
	x := newHostile(t, 5*time.Minute, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"value":[{"id":"1","userPr`)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	err, took := x.run(t, x.bodyRead, listUsers(x.c))
	var te *graph.TimeoutError
	if !errors.As(err, &te) || te.Phase != "reading the answer" || te.Read == 0 || !errors.Is(err, graph.ErrRetryBudget) {
		t.Fatalf("error %v, want timeouts while reading the answer until the budget ran out", err)
	}
	if took > 5*time.Minute || x.hits.Load() < 2 {
		t.Fatalf("%d attempts in %s", x.hits.Load(), took)
	}
	t.Logf("%d attempts in %s: %v", x.hits.Load(), took, err)
}

// A nextLink that leads back to a page already read (A -> B -> A) ends the
// listing with a clear error instead of reading forever.
func TestNextLinkCycleStops(t *testing.T) {
	var x *hostile
	x = newHostile(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		if x.hits.Load() > 50 {
			// Today's client would loop: stop it here so that it fails
			// rather than hangs.
			io.WriteString(w, `{"value":[]}`)
			return
		}
		next := "B"
		if r.URL.Query().Get("$skiptoken") == "B" {
			next = "A"
		}
		fmt.Fprintf(w, `{"@odata.nextLink":"%s/v1.0/users?$skiptoken=%s","value":[{"id":"%s"}]}`, x.srv.URL, next, next)
	})
	pages := 0
	err := x.c.ListUsers(t.Context(), graph.Query{}, func([]graph.User) error { pages++; return nil })
	if !errors.Is(err, graph.ErrNextLinkCycle) || !strings.Contains(err.Error(), "leads back to page") {
		t.Fatalf("error %v, want a nextLink cycle", err)
	}
	if x.hits.Load() != 3 || pages != 3 {
		t.Fatalf("%d requests, %d pages: want A, B, A and a stop", x.hits.Load(), pages)
	}
}

// Redirects are refused: the bearer token never reaches another host or
// port, and the redirect's answer is never read as Graph data.
func TestRedirectsAreRefused(t *testing.T) {
	var stolen atomic.Int64
	elsewhere := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			stolen.Add(1)
		}
		io.WriteString(w, `{"value":[{"id":"planted"}]}`)
	}))
	defer elsewhere.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		for _, target := range []string{elsewhere.URL, "/v1.0/users?again=1"} {
			x := newHostile(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("again") != "" {
					io.WriteString(w, `{"value":[{"id":"planted-same-host"}]}`)
					return
				}
				http.Redirect(w, r, target+"/v1.0/users", code)
			})
			var got []graph.User
			err := x.c.ListUsers(t.Context(), graph.Query{}, func(us []graph.User) error { got = append(got, us...); return nil })
			var ge *graph.Error
			if !errors.As(err, &ge) || ge.Status != code || ge.Code != "redirectRefused" {
				t.Errorf("%d to %s: error %v, want the redirect refused", code, target, err)
			}
			if len(got) != 0 || x.hits.Load() != 1 {
				t.Errorf("%d to %s: %d requests, read %+v", code, target, x.hits.Load(), got)
			}
		}
	}
	if stolen.Load() != 0 {
		t.Fatalf("the bearer token reached another port %d times", stolen.Load())
	}
}

// A redirect from the login authority is refused too: the client secret is
// never posted to where it points.
func TestLoginRedirectRefused(t *testing.T) {
	login := graphtest.NewLogin(t)
	front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, login.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer front.Close()
	c := newAuthClient(t, front.URL, "https://graph.invalid", append(graphtest.CAPEM(front), graphtest.CAPEM(login.Server)...), false, graphtest.NewClock())
	if err := c.Authenticate(t.Context()); err == nil {
		t.Fatal("signed in through a redirect")
	}
	if n := len(login.TokenRequests()); n != 0 {
		t.Fatalf("the redirect target got %d token requests, with the client secret", n)
	}
}

// A page past the page limit is refused with a clear error, after reading
// no more than the limit, whatever the server would have sent.
func TestOversizedPageRefused(t *testing.T) {
	var written atomic.Int64
	x := newHostile(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"value":[`)
		chunk := []byte(`{"id":"00000000-0000-0000-0000-000000000000","displayName":"` + strings.Repeat("padding ", 2000) + `"},`)
		for written.Load() < 256<<20 {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
		io.WriteString(w, `{}]}`)
	})
	called := false
	err := x.c.ListUsers(t.Context(), graph.Query{}, func([]graph.User) error { called = true; return nil })
	if !errors.Is(err, graph.ErrPageTooLarge) || !strings.Contains(err.Error(), "64 MiB") {
		t.Fatalf("error %v, want the page refused", err)
	}
	if called {
		t.Fatal("part of an oversized page was handed on")
	}
	if n := written.Load(); n > 100<<20 {
		t.Fatalf("the server wrote %d MiB before the client gave up", n>>20)
	}
}

// A page of more objects than Graph ever sends is refused before they are
// all decoded.
func TestPageOfTooManyObjectsRefused(t *testing.T) {
	x := newHostile(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"value":[{}`+strings.Repeat(`,{}`, 2*graph.MaxPageValues)+`]}`)
	})
	err := x.c.ListUsers(t.Context(), graph.Query{}, func([]graph.User) error { return nil })
	if !errors.Is(err, graph.ErrTooManyValues) {
		t.Fatalf("error %v", err)
	}
}

// Through the Entra connector, a Graph that never answers is a network
// failure of the source (exit 3 in the CLI), within the retry budget.
func TestConnectorReportsAHangAsANetworkFailure(t *testing.T) {
	login := graphtest.NewLogin(t)
	silent := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer silent.Close()
	cfg := entra.Config{Tenant: "contoso.onmicrosoft.com", ClientID: "00000000-0000-0000-0000-000000000001", Cloud: "custom",
		AuthorityURL: login.URL, GraphURL: silent.URL, CAPEM: string(graphtest.CAPEM(silent)) + string(graphtest.CAPEM(login.Server))}
	// The connector takes no clock yet: a short budget in real time.
	conn, err := entra.Open(cfg, []byte("secret"), entra.Options{Budget: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = conn.Snapshot(t.Context(), discard{})
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the sync was held %s", took)
	}
	if k := connector.KindOf(err); k != connector.KindNetwork {
		t.Fatalf("kind %q (%v), want %q", k, err, connector.KindNetwork)
	}
	t.Log(err)
}

// discard is a connector.Sink that keeps nothing.
type discard struct{}

func (discard) User(directory.SourceUser) error             { return nil }
func (discard) Group(directory.SourceGroup) error           { return nil }
func (discard) Membership(directory.SourceMembership) error { return nil }
func (discard) Skip(connector.Skipped) error                { return nil }

// A login authority that never answers fails sign-in within the budget too.
func TestLoginThatNeverAnswers(t *testing.T) {
	held := make(chan struct{}, 100)
	authority := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held <- struct{}{}
		<-r.Context().Done()
	}))
	defer authority.Close()
	cloud, err := graph.CustomCloud(authority.URL, "https://graph.invalid")
	if err != nil {
		t.Fatal(err)
	}
	hc, _ := graph.NewHTTPClient(graphtest.CAPEM(authority))
	cred, err := graph.NewSecretCredential(cloud, "contoso.onmicrosoft.com", "00000000-0000-0000-0000-000000000001", "secret", hc)
	if err != nil {
		t.Fatal(err)
	}
	x := &hostile{fc: clock.NewFake(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))}
	x.c, err = graph.New(graph.Options{Credential: cred, GraphURL: cloud.GraphURL, HTTPClient: hc, Budget: 5 * time.Minute, Clock: x.fc})
	if err != nil {
		t.Fatal(err)
	}
	err, took := x.run(t, held, x.c.Authenticate)
	var te *graph.TimeoutError
	if !errors.As(err, &te) || te.Phase != "getting an access token" || took > 5*time.Minute {
		t.Fatalf("after %s: %v", took, err)
	}
	if !strings.Contains(err.Error(), "the login service gave no complete answer") {
		t.Fatalf("message %q", err)
	}
}
