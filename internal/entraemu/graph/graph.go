// Package graph serves the emulated tenant's Microsoft Graph v1.0
// directory API: users, groups, memberships, devices, contacts, service
// principals, delta queries, deleted items, writes and JSON batching. Its
// routes are a table of net/http patterns; each route is wrapped in the
// throttling middleware and a permission check. Query options are
// evaluated by package odata, objects written by package schema's
// property tables, and the directory itself is package tenant's.
package graph

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/entraemu/faults"
	"github.com/dirsync/dirsync/internal/entraemu/login"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/odata"
	"github.com/dirsync/dirsync/internal/entraemu/stats"
	"github.com/dirsync/dirsync/internal/entraemu/tenant"
	"github.com/dirsync/dirsync/internal/entraemu/throttle"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// Config is what the Graph API serves and with what.
type Config struct {
	Dir       *tenant.Directory
	Authority *login.Authority
	Limiter   *throttle.Limiter
	Faults    *faults.Set
	Stats     *stats.Counters
	Clock     clock.Clock
	// Delta page sizes: users per page (default 200, as Graph), groups per
	// page (default 100) and member references per page (default 1,000),
	// past which a group's members continue on the next page.
	DeltaUserPageSize, DeltaGroupPageSize, DeltaMemberPageSize int
}

// API is the Graph endpoint of one tenant.
type API struct {
	cfg      Config
	dir      *tenant.Directory
	clock    clock.Clock
	instance string // distinguishes this process's delta tokens from another's
	deltaKey []byte // MACs delta tokens
	mux      *http.ServeMux
	sub      http.Handler // runs $batch sub-requests
}

// New returns the Graph API of cfg.Dir.
func New(cfg Config) (*API, error) {
	a := &API{cfg: cfg, dir: cfg.Dir, clock: clock.Or(cfg.Clock), mux: http.NewServeMux(), deltaKey: make([]byte, 32)}
	var inst [6]byte
	if _, err := rand.Read(inst[:]); err != nil {
		return nil, fmt.Errorf("entraemu: random: %w", err)
	}
	if _, err := rand.Read(a.deltaKey); err != nil {
		return nil, fmt.Errorf("entraemu: random: %w", err)
	}
	a.instance = hex.EncodeToString(inst[:])
	for _, rt := range routes {
		a.mux.Handle(rt.pattern, a.wrap(rt))
	}
	// $batch is neither throttled nor checked itself: each of its requests
	// is, on its own.
	a.mux.HandleFunc("POST /v1.0/$batch", a.serveBatch)
	a.mux.HandleFunc(fallbackPattern, a.unknown)
	a.sub = faults.Middleware(cfg.Faults, cfg.Stats, a.clock, true, normalize(a.mux))
	return a, nil
}

// Handler serves /v1.0: it authenticates the caller, then routes.
func (a *API) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, msg := a.cfg.Authority.Authenticate(r.Header.Get("Authorization"))
		if p == nil {
			resp := wire.GraphError(401, "InvalidAuthenticationToken", msg, wire.IDsOf(w.Header()), a.clock.Now())
			resp.Header.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="", authorization_uri="https://%s/common/oauth2/authorize", client_id="%s"`, r.Host, login.GraphAppID))
			resp.Write(w)
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		normalize(a.mux).ServeHTTP(w, r.WithContext(ctx))
	})
}

type principalKey struct{}

type subKey struct{}

func principalOf(r *http.Request) *login.Principal {
	p, _ := r.Context().Value(principalKey{}).(*login.Principal)
	return p
}

func appOf(r *http.Request) string { return principalOf(r).AppID }

// normalize puts a path in the form the route table matches: GUIDs in
// lower case (Graph matches ids in any case), the graph. cast alias as
// microsoft.graph., the delta function's spellings as delta, and no
// trailing slash.
func normalize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.Split(strings.TrimRight(r.URL.Path, "/"), "/")
		for i, s := range segs {
			segs[i] = normalSegment(s)
		}
		u := *r.URL
		u.Path, u.RawPath = strings.Join(segs, "/"), ""
		if u.Path == "/v1.0" {
			u.Path = "/v1.0/"
		}
		r2 := r.Clone(r.Context())
		r2.URL = &u
		next.ServeHTTP(w, r2)
	})
}

func normalSegment(s string) string {
	switch {
	case model.IsGUID(s):
		return strings.ToLower(s)
	case s == "delta()" || s == "microsoft.graph.delta" || s == "microsoft.graph.delta()" || s == "graph.delta" || s == "graph.delta()":
		return "delta"
	case strings.HasPrefix(s, "graph."):
		return "microsoft." + s
	}
	return s
}

// request is one Graph request, from the wire or from inside a $batch.
type request struct {
	r      *http.Request
	method string
	path   string     // below /v1.0, e.g. /users/{id}/memberOf
	query  url.Values // keys normalized: lower case, with "$"
	raw    string     // the raw query string, kept for nextLinks
	header http.Header
	body   []byte
	base   string // https://host as the client called it
	ids    wire.IDs
}

func (r *request) param(name string) string { return r.r.PathValue(name) }

func (r *request) eventual() bool {
	return strings.EqualFold(strings.TrimSpace(r.header.Get("ConsistencyLevel")), "eventual")
}

func (r *request) sub() bool { return r.r.Context().Value(subKey{}) != nil }

// wrap turns a route into a handler: throttling, then the permission
// check, then the route's own handler.
func (a *API) wrap(rt route) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		ids := wire.IDsOf(w.Header())
		if !hasAnyRole(principalOf(hr).Roles, rt.perms) {
			a.errorf(ids, 403, model.CodeDenied, "Insufficient privileges to complete the operation.").Write(w)
			return
		}
		req, resp := a.parse(hr, ids)
		if resp == nil {
			resp = rt.h(a, req)
		}
		resp.Write(w)
	})
	h := a.cfg.Limiter.Middleware(rt.write, appOf, inner)
	return http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		a.cfg.Stats.Kind(rt.kind)
		h.ServeHTTP(w, hr)
	})
}

// parse reads a request's query and body.
func (a *API) parse(hr *http.Request, ids wire.IDs) (*request, *wire.Response) {
	q, err := odata.NormalizeQuery(hr.URL.RawQuery)
	if err != nil {
		return nil, a.errorf(ids, 400, "BadRequest", "The query specified in the URI is not valid.")
	}
	body, resp := a.readBody(hr, ids)
	if resp != nil {
		return nil, resp
	}
	return &request{
		r: hr, method: hr.Method, path: strings.TrimPrefix(hr.URL.Path, "/v1.0"), query: q, raw: hr.URL.RawQuery,
		header: hr.Header, body: body, base: "https://" + hr.Host, ids: ids,
	}, nil
}

// maxBody bounds a request body, after decompression.
const maxBody = 4 << 20

// readBody reads a request body, plain or gzip-compressed (Microsoft's
// SDKs compress request bodies with Content-Encoding: gzip). Another
// encoding answers 415, on which those SDKs send the body again plain.
func (a *API) readBody(hr *http.Request, ids wire.IDs) ([]byte, *wire.Response) {
	var rd io.Reader = hr.Body
	switch enc := strings.ToLower(strings.TrimSpace(hr.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(hr.Body)
		if err != nil {
			return nil, a.errorf(ids, 400, "BadRequest", "The request body is not valid gzip data.")
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, a.errorf(ids, 415, "UnsupportedMediaType", "Content-Encoding '%s' is not supported: send the body plain or with gzip.", enc)
	}
	body, err := io.ReadAll(io.LimitReader(rd, maxBody+1))
	switch {
	case err != nil:
		return nil, a.errorf(ids, 400, "BadRequest", "The request body could not be read.")
	case len(body) > maxBody:
		return nil, a.errorf(ids, 413, "RequestEntityTooLarge", "The request body is larger than %d bytes.", maxBody)
	}
	return body, nil
}

func hasAnyRole(roles, allowed []string) bool {
	return slices.ContainsFunc(roles, func(r string) bool { return slices.Contains(allowed, r) })
}

const fallbackPattern = "/v1.0/"

// unknown answers a path no route serves: 405 when another method of the
// path is served, else Graph's 400 for the first unknown segment.
func (a *API) unknown(w http.ResponseWriter, r *http.Request) {
	ids := wire.IDsOf(w.Header())
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != fallbackPattern && pattern != "" {
			a.errorf(ids, 405, model.CodeBadRequest, "Specified HTTP method is not allowed for the request target.").Write(w)
			return
		}
	}
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1.0"), "/"), "/")
	last := segs[len(segs)-1]
	switch {
	case last == "":
		a.errorf(ids, 400, "BadRequest", "Invalid request.").Write(w)
	case segs[0] == "me":
		a.errorf(ids, 400, "BadRequest", "/me request is only valid with delegated authentication flow.").Write(w)
	default:
		a.errorf(ids, 400, "BadRequest", "Resource not found for the segment '%s'.", last).Write(w)
	}
}

func (a *API) now() time.Time { return a.clock.Now() }

func (a *API) errorf(ids wire.IDs, status int, code, format string, args ...any) *wire.Response {
	return wire.GraphError(status, code, fmt.Sprintf(format, args...), ids, a.now())
}

// fail answers err: Graph's body for a model.Error, a 500 otherwise.
func (a *API) fail(r *request, err error) *wire.Response {
	return wire.Fail(model.AsError(err), r.ids, a.now())
}

func (a *API) failf(r *request, status int, code, format string, args ...any) *wire.Response {
	return a.errorf(r.ids, status, code, format, args...)
}

func (a *API) contextURL(r *request, fragment string) string {
	return r.base + "/v1.0/$metadata#" + fragment
}
