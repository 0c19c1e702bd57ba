package entraemu

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is an injected failure. It matches requests by method and path
// prefix and fires on every Every-th match, at most Times times.
type Fault struct {
	// PathPrefix matches the request path, such as "/v1.0/users" or
	// "/v1.0/groups/delta"; "" matches every path, login included. $batch
	// sub-requests match by their own path under /v1.0.
	PathPrefix string
	// Method matches the HTTP method; "" matches any.
	Method string
	// Every fires the fault on every Every-th matching request (0 or 1:
	// every one).
	Every int
	// Times limits how often the fault fires (0: no limit).
	Times int
	// Status is the HTTP status to answer: 429, 500, 503, 504...
	Status int
	// RetryAfter is sent as the Retry-After header, rounded up to seconds.
	// A 429 without it says 1 second.
	RetryAfter time.Duration
	// Reset drops the connection without answering (an RST on HTTP/1, a
	// reset stream on HTTP/2). It never matches $batch sub-requests, which
	// have no connection of their own.
	Reset bool
	// Code and Message override the error body's code and message.
	Code, Message string
}

type faultState struct {
	Fault
	id    int
	seen  int
	fired int
}

type faultSet struct {
	mu     sync.Mutex
	list   []*faultState
	nextID int
}

// InjectFault adds a fault; the returned func removes it.
func (t *Tenant) InjectFault(f Fault) (remove func()) {
	fs := &t.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.nextID++
	id := fs.nextID
	fs.list = append(fs.list, &faultState{Fault: f, id: id})
	return func() {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		for i, s := range fs.list {
			if s.id == id {
				fs.list = append(fs.list[:i], fs.list[i+1:]...)
				return
			}
		}
	}
}

// ClearFaults removes every injected fault.
func (t *Tenant) ClearFaults() {
	t.faults.mu.Lock()
	t.faults.list = nil
	t.faults.mu.Unlock()
}

// match returns the fault to apply to a request, if any. Matching counts
// the request toward Every for each fault it matches.
func (fs *faultSet) match(method, path string, sub bool) *Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, s := range fs.list {
		if s.Reset && sub {
			continue
		}
		if s.Method != "" && !strings.EqualFold(s.Method, method) {
			continue
		}
		if !strings.HasPrefix(path, s.PathPrefix) {
			continue
		}
		if s.Times > 0 && s.fired >= s.Times {
			continue
		}
		s.seen++
		if s.Every > 1 && s.seen%s.Every != 0 {
			continue
		}
		s.fired++
		f := s.Fault
		return &f
	}
	return nil
}

func faultResponse(f *Fault, ids reqIDs, now time.Time) *gresp {
	code, msg := f.Code, f.Message
	if code == "" {
		switch f.Status {
		case 429:
			code, msg = "TooManyRequests", "Too many requests. Retry after the time the Retry-After header gives."
		case 500:
			code, msg = "generalException", "An internal server error occurred."
		case 502:
			code, msg = "BadGateway", "Bad gateway."
		case 503:
			code, msg = "serviceNotAvailable", "The service is temporarily unavailable. Retry the request later."
		case 504:
			code, msg = "gatewayTimeout", "The gateway did not receive a response in time."
		default:
			code, msg = http.StatusText(f.Status), http.StatusText(f.Status)
		}
	} else if msg == "" {
		msg = http.StatusText(f.Status)
	}
	resp := graphError(f.Status, code, msg, ids, now)
	ra := f.RetryAfter
	if ra <= 0 && f.Status == 429 {
		ra = time.Second
	}
	if ra > 0 {
		resp.header.Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.Seconds()))))
	}
	return resp
}

// Stats are the tenant's request counters, for benchmarks and tests.
type Stats struct {
	Requests         int64            // HTTP requests of any kind
	Login            int64            // requests to the login endpoints
	LoginFailures    int64            // token requests refused
	Graph            int64            // Graph HTTP requests (a $batch counts once)
	BatchSubrequests int64            // requests inside $batch
	Throttled        int64            // 429s from the resource-unit budget
	Faults           int64            // injected faults that fired
	ResourceUnits    int64            // resource units charged
	ByKind           map[string]int64 // per kind: users, users/delta, groups, groups/delta, members, ...
}

type counters struct {
	requests, login, loginFailures, graph, batchSub, throttled, faults, ru atomic.Int64
	mu                                                                     sync.Mutex
	byKind                                                                 map[string]int64
}

func (c *counters) kind(k string) {
	c.mu.Lock()
	if c.byKind == nil {
		c.byKind = map[string]int64{}
	}
	c.byKind[k]++
	c.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (t *Tenant) Stats() Stats {
	c := &t.stats
	s := Stats{
		Requests: c.requests.Load(), Login: c.login.Load(), LoginFailures: c.loginFailures.Load(),
		Graph: c.graph.Load(), BatchSubrequests: c.batchSub.Load(), Throttled: c.throttled.Load(),
		Faults: c.faults.Load(), ResourceUnits: c.ru.Load(), ByKind: map[string]int64{},
	}
	c.mu.Lock()
	for k, v := range c.byKind {
		s.ByKind[k] = v
	}
	c.mu.Unlock()
	return s
}

// ResetStats zeroes the counters.
func (t *Tenant) ResetStats() {
	c := &t.stats
	for _, a := range []*atomic.Int64{&c.requests, &c.login, &c.loginFailures, &c.graph, &c.batchSub, &c.throttled, &c.faults, &c.ru} {
		a.Store(0)
	}
	c.mu.Lock()
	c.byKind = nil
	c.mu.Unlock()
}
