// Package faults injects failures into the emulated tenant's answers, as
// HTTP middleware: status codes such as 429, 500 and 503 with Graph's
// error body and Retry-After, and dropped connections. It serves tests of
// retries, backoff and interrupted runs.
package faults

import (
	"crypto/tls"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/entraemu/stats"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
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

type state struct {
	Fault
	id    int
	seen  int
	fired int
}

// Set is the faults injected into one tenant. The zero value has none.
type Set struct {
	mu     sync.Mutex
	list   []*state
	nextID int
}

// Inject adds a fault; the returned func removes it.
func (s *Set) Inject(f Fault) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := s.nextID
	s.list = append(s.list, &state{Fault: f, id: id})
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, st := range s.list {
			if st.id == id {
				s.list = append(s.list[:i], s.list[i+1:]...)
				return
			}
		}
	}
}

// Clear removes every injected fault.
func (s *Set) Clear() {
	s.mu.Lock()
	s.list = nil
	s.mu.Unlock()
}

// match returns the fault to apply to a request, if any. Matching counts
// the request toward Every for each fault it matches.
func (s *Set) match(method, path string, sub bool) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.list {
		if st.Reset && sub || st.Method != "" && !strings.EqualFold(st.Method, method) ||
			!strings.HasPrefix(path, st.PathPrefix) || st.Times > 0 && st.fired >= st.Times {
			continue
		}
		st.seen++
		if st.Every > 1 && st.seen%st.Every != 0 {
			continue
		}
		st.fired++
		f := st.Fault
		return &f
	}
	return nil
}

// Middleware answers a request with an injected fault when one matches,
// and passes it on otherwise. sub marks the handler of $batch
// sub-requests, whose paths are matched under /v1.0.
func Middleware(s *Set, c *stats.Counters, clk clock.Clock, sub bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if sub {
			path = "/v1.0" + strings.TrimPrefix(path, "/v1.0")
		}
		f := s.match(r.Method, path, sub)
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		c.Faults.Add(1)
		if f.Reset {
			resetConnection(w)
			return
		}
		response(f, wire.IDsOf(w.Header()), clock.Or(clk).Now()).Write(w)
	})
}

func response(f *Fault, ids wire.IDs, now time.Time) *wire.Response {
	code, msg := f.Code, f.Message
	if code == "" {
		code, msg = defaultError(f.Status)
	} else if msg == "" {
		msg = http.StatusText(f.Status)
	}
	resp := wire.GraphError(f.Status, code, msg, ids, now)
	ra := f.RetryAfter
	if ra <= 0 && f.Status == 429 {
		ra = time.Second
	}
	if ra > 0 {
		resp.Header.Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.Seconds()))))
	}
	return resp
}

// defaultError is Graph's code and message for a status.
func defaultError(status int) (code, msg string) {
	switch status {
	case 429:
		return "TooManyRequests", "Too many requests. Retry after the time the Retry-After header gives."
	case 500:
		return "generalException", "An internal server error occurred."
	case 502:
		return "BadGateway", "Bad gateway."
	case 503:
		return "serviceNotAvailable", "The service is temporarily unavailable. Retry the request later."
	case 504:
		return "gatewayTimeout", "The gateway did not receive a response in time."
	}
	return http.StatusText(status), http.StatusText(status)
}

// resetConnection drops the connection without an answer: with HTTP/1 the
// TCP connection is reset (RST, not FIN); with HTTP/2 the stream is.
func resetConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		conn, _, err := hj.Hijack()
		if err == nil {
			raw := conn
			if tc, ok := conn.(*tls.Conn); ok {
				raw = tc.NetConn()
			}
			if tcp, ok := raw.(*net.TCPConn); ok {
				tcp.SetLinger(0)
			}
			raw.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
