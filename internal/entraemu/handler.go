package entraemu

import (
	"log"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/entraemu/faults"
	"github.com/dirsync/dirsync/internal/entraemu/graph"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// routes composes the server's handler: latency, request ids, recovery,
// injected faults and deleted items retention around the routes of the
// login endpoints, Graph and the emulator's own churn endpoint.
func (s *Server) routes() (http.Handler, error) {
	t := s.t
	api, err := graph.New(graph.Config{
		Dir: t.Directory, Authority: t.authority, Limiter: t.limiter, Faults: &t.faults, Stats: &t.stats, Clock: t.clock,
		DeltaUserPageSize: t.opts.DeltaUserPageSize, DeltaGroupPageSize: t.opts.DeltaGroupPageSize, DeltaMemberPageSize: t.opts.DeltaMemberPageSize,
	})
	if err != nil {
		return nil, err
	}
	graphHandler := api.Handler()
	loginHandler := t.authority.Handler()
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == churnPath:
			s.serveChurn(w, r)
		case p == statsPath:
			s.serveStats(w, r)
		case p == "/v1.0" || strings.HasPrefix(p, "/v1.0/"):
			t.stats.Graph.Add(1)
			graphHandler.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/beta/"):
			wire.GraphError(400, "BadRequest", "The emulator serves only the v1.0 endpoint.", wire.IDsOf(w.Header()), t.clock.Now()).Write(w)
		default:
			loginHandler.ServeHTTP(w, r)
		}
	})
	maintained := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Maintain()
		route.ServeHTTP(w, r)
	})
	h := faults.Middleware(&t.faults, &t.stats, t.clock, false, maintained)
	return s.latency(wire.WithIDs(s.recovering(h))), nil
}

// ServeHTTP serves the tenant: the login endpoints and Graph.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.t.stats.Requests.Add(1)
	s.handler.ServeHTTP(w, r)
}

// latency delays every request by the tenant's latency, unless the client
// gives up first.
func (s *Server) latency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := time.Duration(s.t.latency.Load()); d > 0 {
			if clock.Sleep(r.Context(), s.t.clock, d) != nil {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// recovering answers 500 for a bug in a handler and reports it, rather
// than letting it vanish into net/http's discarded error log.
func (s *Server) recovering(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Printf("entraemu: panic serving %s %s: %v\n%s", r.Method, r.URL.Path, p, debug.Stack())
				wire.GraphError(500, "generalException", "An internal server error occurred.", wire.IDsOf(w.Header()), s.t.clock.Now()).Write(w)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
