// Package api is dirsync's REST API under /api/v1: JSON over HTTP, routed
// with the standard library's method-less patterns (the method is checked
// here, so a wrong one still gets the JSON error shape), bearer tokens, and
// one error shape for every failure.
//
// The API is a front end over package manage: handlers parse the request,
// call one use case with the token's actor, and write what it returns.
// Every rule, authorization included, is manage's. Handlers return an
// error value (caddy and tsweb do the same): a *manage.Error is answered
// through one table of kinds to statuses (errors.go), an *Error of the
// API's own carries its status; anything else is a 500 whose details go to
// the log only.
package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/manage"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3 description.
func OpenAPI() []byte { return openAPI }

// Sync modes a sync request may ask for.
const (
	ModeDelta  = "delta" // incremental where the source allows, else full
	ModeFull   = "full"
	ModeDryRun = "dry_run"
)

// Server serves the API over the application layer.
type Server struct {
	Manager *manage.Manager
	Logger  *slog.Logger
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// request is what a handler gets besides the HTTP request.
type request struct {
	*http.Request
	actor manage.Actor
}

type handlerFunc func(w http.ResponseWriter, r *request) error

// Route is one API operation. Action is the use case's action: the role it
// needs is manage's to decide (manage.MinRole) and manage's to check.
type Route struct {
	Method  string
	Pattern string // net/http pattern without the method
	Action  manage.Action
	// Query lists the query parameters the route takes; any other is a 400.
	Query []string
	// IfMatch says that the route honours If-Match (conditional.go).
	IfMatch bool
	// Public routes need no token: they hold no data (the OpenAPI document).
	Public bool
	h      handlerFunc
}

// public marks a route that needs no token.
func (rt Route) public() Route {
	rt.Public = true
	return rt
}

// conditional marks a route that honours If-Match.
func (rt Route) conditional() Route {
	rt.IfMatch = true
	return rt
}

// takes sets the query parameters the route takes.
func (rt Route) takes(params ...string) Route {
	rt.Query = params
	return rt
}

// paged sets the query parameters of a paged listing, besides its filters.
func (rt Route) paged(filters ...string) Route {
	return rt.takes(slices.Concat(filters, pageParams)...)
}

// Routes lists every operation.
func (s *Server) Routes() []Route {
	r := func(method, pattern string, act manage.Action, h handlerFunc) Route {
		return Route{Method: method, Pattern: "/api/v1" + pattern, Action: act, h: h}
	}
	const (
		read    = manage.ActRead
		sources = manage.ActManageSources
		hooks   = manage.ActManageHooks
	)
	return append([]Route{
		r("GET", "/openapi.json", read, s.getOpenAPI).public(),
		r("GET", "/account", read, s.getAccount),
		r("GET", "/accounts", read, s.listAccounts).paged(),

		r("GET", "/sources", read, s.listSources).paged(),
		r("POST", "/sources", sources, s.createSource),
		r("GET", "/sources/{id}", read, s.getSource),
		r("PATCH", "/sources/{id}", sources, s.updateSource).conditional(),
		r("DELETE", "/sources/{id}", sources, s.deleteSource).conditional(),
		r("POST", "/sources/{id}/test", sources, s.testSource),
		r("POST", "/sources/{id}/enable", sources, s.enableSource(true)),
		r("POST", "/sources/{id}/disable", sources, s.enableSource(false)),
		r("POST", "/sources/{id}/sync", manage.ActSync, s.syncSource),
		r("POST", "/sources/{id}/sync-user", manage.ActSyncUser, s.syncUser),

		r("GET", "/runs", read, s.listRuns).paged("source"),
		r("GET", "/runs/{id}", read, s.getRun),
		r("GET", "/runs/{id}/changes", read, s.listChanges).paged(),

		r("GET", "/users", read, s.listUsers).paged(userFilters...),
		r("GET", "/users/{id}", read, s.getUser),
		r("PATCH", "/users/{id}", manage.ActEditUsers, s.updateUser).conditional(),
		r("GET", "/users/{id}/groups", read, s.listGroupsOf).paged("transitive"),
		r("GET", "/users/{id}/changes", read, s.listUserChanges).paged(),
		r("GET", "/groups", read, s.listGroups).paged(groupFilters...),
		r("GET", "/groups/{id}", read, s.getGroup),
		r("GET", "/groups/{id}/members", read, s.listMembers).paged("effective"),

		r("GET", "/trash", read, s.listTrash).paged(),
		r("POST", "/trash/{kind}/{id}/restore", manage.ActRestore, s.restoreTrash),
		r("DELETE", "/trash/{kind}/{id}", manage.ActPurge, s.purgeTrash),

		r("GET", "/events", read, s.listEvents).paged(),
		r("GET", "/export", read, s.export),

		r("GET", "/webhooks", read, s.listWebhooks).paged(),
		r("POST", "/webhooks", hooks, s.createWebhook),
		r("GET", "/webhooks/{id}", read, s.getWebhook),
		r("PATCH", "/webhooks/{id}", hooks, s.updateWebhook).conditional(),
		r("DELETE", "/webhooks/{id}", hooks, s.deleteWebhook).conditional(),
		r("GET", "/webhooks/{id}/deliveries", read, s.listDeliveries).paged(),
		r("POST", "/webhooks/{id}/test", hooks, s.testWebhook),

		r("GET", "/tokens", manage.ActManageTokens, s.listTokens).paged(),
		r("POST", "/tokens", manage.ActManageTokens, s.createToken),
		r("DELETE", "/tokens/{id}", manage.ActManageTokens, s.revokeToken),
	}, append(s.enrollmentRoutes(r), s.targetRoutes(r)...)...)
}

// Handler returns the API's handler, for mounting at the server's root.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	byPattern := map[string]map[string]Route{}
	var order []string
	for _, rt := range s.Routes() {
		if byPattern[rt.Pattern] == nil {
			byPattern[rt.Pattern] = map[string]Route{}
			order = append(order, rt.Pattern)
		}
		byPattern[rt.Pattern][rt.Method] = rt
	}
	for _, p := range order {
		methods := byPattern[p]
		mux.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.serve(w, r, methods)
		}))
	}
	mux.Handle("/api/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, nil)
	}))
	return mux
}

// maxBody bounds a request body: the largest legitimate one is a source
// with a certificate and CA bundle.
const maxBody = 1 << 20

func (s *Server) serve(w http.ResponseWriter, hr *http.Request, methods map[string]Route) {
	r := &request{Request: hr}
	err := func() error {
		rt, ok := methods[hr.Method]
		if !ok || !rt.Public {
			if err := s.authenticate(r); err != nil {
				return err
			}
		}
		if methods == nil {
			return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such API route: " + hr.URL.Path}
		}
		if !ok {
			allow := make([]string, 0, len(methods))
			for m := range methods {
				allow = append(allow, m)
			}
			slices.Sort(allow)
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: hr.Method + " is not allowed here"}
		}
		if err := checkQuery(hr, rt.Query); err != nil {
			return err
		}
		if !rt.IfMatch {
			if err := checkNoIfMatch(hr); err != nil {
				return err
			}
		}
		hr.Body = http.MaxBytesReader(w, hr.Body, maxBody)
		return rt.h(w, r)
	}()
	if err == nil {
		return
	}
	e := s.answer(hr, err)
	if e == nil {
		return // the client went away
	}
	if hr.ContentLength != 0 {
		// A refused request's body is not read (Go's server would
		// otherwise read up to 256 KB of it before answering, so that a
		// client without a token could hold the connection for the read
		// timeout): the answer goes at once, and the connection closes.
		w.Header().Set("Connection", "close")
	}
	lvl := slog.LevelInfo
	if e.Status >= 500 {
		lvl = slog.LevelError
	}
	// Only the method and path: a query may hold search terms, and never
	// the Authorization header.
	s.logger().Log(hr.Context(), lvl, "api error", "method", hr.Method, "path", hr.URL.Path, "status", e.Status, "code", e.Code, "err", e.Error())
	writeError(w, e)
}

// answer is the API's answer to a handler's error.
func (s *Server) answer(hr *http.Request, err error) *Error {
	var e *Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e
	case manage.AsError(err) != nil:
		return fromManage(manage.AsError(err))
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "request body too large"}
	case hr.Context().Err() != nil:
		return nil
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; see the server log", Err: err}
}

func (s *Server) authenticate(r *request) error {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		tok = ""
	}
	actor, err := s.Manager.Authenticate(r.Context(), tok, manage.ViaAPI)
	if err != nil {
		return err
	}
	r.actor = actor
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body into v, refusing unknown fields and trailing data.
func decode(r *request, v any) error {
	// Every body is a JSON object: a null (or a list, or a string) would
	// otherwise decode as "nothing to change" and answer 200.
	var raw json.RawMessage
	outer := json.NewDecoder(r.Body)
	err := outer.Decode(&raw)
	if err == nil && !bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("{")) {
		return badRequest("the body must be a JSON object, not %.20s", raw)
	}
	if err == nil && outer.More() {
		return badRequest("the body holds more than one JSON value")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err == nil {
		err = dec.Decode(v)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badField(ute.Field, "%s: wrong type (%s), want %s", ute.Field, ute.Value, ute.Type)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return badField(f, "unknown field %q", f)
		}
		if errors.Is(err, io.EOF) {
			return badRequest("a JSON body is required")
		}
		return badRequest("the body is not valid JSON: %v", err)
	}
	return nil
}

func (s *Server) getOpenAPI(w http.ResponseWriter, r *request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

func (s *Server) getAccount(w http.ResponseWriter, r *request) error {
	acc, err := s.Manager.Account(r.Context(), r.actor)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, acc)
}

// listAccounts lists what the token sees: its own account.
func (s *Server) listAccounts(w http.ResponseWriter, r *request) error {
	q, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.Manager.AccountPage(r.Context(), r.actor, q)
	if err != nil {
		return err
	}
	return writePage(w, r, "accounts", page.Items, page.Next, nil)
}
