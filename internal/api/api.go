// Package api is dirsync's REST API under /api/v1: JSON over HTTP, routed
// with the standard library's method-less patterns (the method is checked
// here, so a wrong one still gets the JSON error shape), bearer tokens
// with a role on every route, and one error shape for every failure.
//
// Handlers return an error value (caddy and tsweb do the same): an *Error
// carries the status and the public message; anything else is a 500 whose
// details go to the log only. Every write runs in one store transaction, so
// a request that fails has written nothing.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
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

// Syncer runs syncs for the API; the service implements it.
type Syncer interface {
	// Request asks for a sync of the source and returns at once: "started",
	// or "queued" when a run of the source is in progress (it then runs
	// once after it, however often it was asked for).
	Request(src directory.Source, mode, trigger string) (string, error)
	// Check tests the source's connection.
	Check(ctx context.Context, src directory.Source) ([]connector.CheckResult, error)
	// SyncUser synchronizes one user of the source (by the source's id for
	// it or its username) at once, and returns the run. It fails with
	// engine.ErrBusy while another run of the source is in progress and
	// with engine.ErrUnsupported when the source cannot look up one user.
	SyncUser(ctx context.Context, src directory.Source, who string, dryRun bool) (directory.Run, error)
}

// Server serves the API.
type Server struct {
	Store  store.Store
	Box    *secret.Box
	Syncer Syncer
	Now    func() time.Time
	Logger *slog.Logger
	// CheckSettings validates a source's kind and settings with its secret
	// without contacting the source; nil accepts any.
	CheckSettings func(src directory.Source, secret []byte) error
	// WebhookAllowList names the private targets webhooks may have
	// (dirsync serve's configuration); empty means public targets only.
	WebhookAllowList safehttp.AllowList
	// WebhookChanged, when set, is told a webhook's id once its change,
	// disabling or deletion is committed, so that a delivery in flight to
	// it stops at once (webhook.Dispatcher.Changed).
	WebhookChanged func(id string)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
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
	account directory.Account
	token   store.APIToken
}

type handlerFunc func(w http.ResponseWriter, r *request) error

// Route is one API operation and the least role that may call it.
type Route struct {
	Method  string
	Pattern string // net/http pattern without the method
	Min     Role
	h       handlerFunc
}

// Routes lists every operation: the table the role test walks.
func (s *Server) Routes() []Route {
	r := func(method, pattern string, min Role, h handlerFunc) Route {
		return Route{method, "/api/v1" + pattern, min, h}
	}
	return []Route{
		r("GET", "/openapi.json", RoleReadOnly, s.getOpenAPI),
		r("GET", "/account", RoleReadOnly, s.getAccount),
		r("GET", "/accounts", RoleReadOnly, s.listAccounts),

		r("GET", "/sources", RoleReadOnly, s.listSources),
		r("POST", "/sources", RoleAdministrator, s.createSource),
		r("GET", "/sources/{id}", RoleReadOnly, s.getSource),
		r("PATCH", "/sources/{id}", RoleAdministrator, s.updateSource),
		r("DELETE", "/sources/{id}", RoleAdministrator, s.deleteSource),
		r("POST", "/sources/{id}/test", RoleAdministrator, s.testSource),
		r("POST", "/sources/{id}/enable", RoleAdministrator, s.enableSource(true)),
		r("POST", "/sources/{id}/disable", RoleAdministrator, s.enableSource(false)),
		r("POST", "/sources/{id}/sync", RoleAdministrator, s.syncSource),
		r("POST", "/sources/{id}/sync-user", RoleHelpDesk, s.syncUser),

		r("GET", "/runs", RoleReadOnly, s.listRuns),
		r("GET", "/runs/{id}", RoleReadOnly, s.getRun),
		r("GET", "/runs/{id}/changes", RoleReadOnly, s.listChanges),

		r("GET", "/users", RoleReadOnly, s.listUsers),
		r("GET", "/users/{id}", RoleReadOnly, s.getUser),
		r("PATCH", "/users/{id}", RoleUserManager, s.updateUser),
		r("GET", "/groups", RoleReadOnly, s.listGroups),
		r("GET", "/groups/{id}", RoleReadOnly, s.getGroup),
		r("GET", "/groups/{id}/members", RoleReadOnly, s.listMembers),

		r("GET", "/trash", RoleReadOnly, s.listTrash),
		r("POST", "/trash/{kind}/{id}/restore", RoleUserManager, s.restoreTrash),
		r("DELETE", "/trash/{kind}/{id}", RoleAdministrator, s.purgeTrash),

		r("GET", "/events", RoleReadOnly, s.listEvents),

		r("GET", "/webhooks", RoleReadOnly, s.listWebhooks),
		r("POST", "/webhooks", RoleAdministrator, s.createWebhook),
		r("GET", "/webhooks/{id}", RoleReadOnly, s.getWebhook),
		r("PATCH", "/webhooks/{id}", RoleAdministrator, s.updateWebhook),
		r("DELETE", "/webhooks/{id}", RoleAdministrator, s.deleteWebhook),
		r("GET", "/webhooks/{id}/deliveries", RoleReadOnly, s.listDeliveries),

		r("GET", "/tokens", RoleOwner, s.listTokens),
		r("POST", "/tokens", RoleOwner, s.createToken),
		r("DELETE", "/tokens/{id}", RoleOwner, s.revokeToken),
	}
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
		if err := s.authenticate(r); err != nil {
			return err
		}
		if methods == nil {
			return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such API route: " + hr.URL.Path}
		}
		rt, ok := methods[hr.Method]
		if !ok {
			allow := make([]string, 0, len(methods))
			for m := range methods {
				allow = append(allow, m)
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: hr.Method + " is not allowed here"}
		}
		if !Role(r.token.Role).Allows(rt.Min) {
			return &Error{Status: http.StatusForbidden, Code: CodeForbidden,
				Message: fmt.Sprintf("this token's role %s may not do this; it needs %s or higher", r.token.Role, rt.Min)}
		}
		hr.Body = http.MaxBytesReader(w, hr.Body, maxBody)
		return rt.h(w, r)
	}()
	if err == nil {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			e = &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "request body too large"}
		} else if hr.Context().Err() != nil {
			return // the client went away
		} else {
			e = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; see the server log", Err: err}
		}
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

func (s *Server) authenticate(r *request) error {
	unauth := func(msg string) error {
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: msg}
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return unauth("an API token is required: Authorization: Bearer TOKEN (create one with: dirsync token create --role ROLE)")
	}
	svc, ok := store.ServiceOf(s.Store)
	if !ok {
		return errors.New("api: the store does not keep API tokens")
	}
	t, err := svc.TokenByHash(r.Context(), HashToken(strings.TrimSpace(tok)))
	if errors.Is(err, store.ErrNotFound) {
		return unauth("the API token is not valid")
	}
	if err != nil {
		return err
	}
	if !t.RevokedAt.IsZero() {
		return unauth("the API token was revoked")
	}
	acc, err := s.Store.Account(r.Context(), t.AccountID)
	if err != nil {
		return err
	}
	r.token, r.account = t, acc
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body into v, refusing unknown fields and trailing data.
func decode(r *request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
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
	if dec.More() {
		return badRequest("the body holds more than one JSON value")
	}
	return nil
}

func (s *Server) getOpenAPI(w http.ResponseWriter, r *request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

func (s *Server) getAccount(w http.ResponseWriter, r *request) error {
	return writeJSON(w, http.StatusOK, r.account)
}

// listAccounts lists what the token sees: its own account.
func (s *Server) listAccounts(w http.ResponseWriter, r *request) error {
	return writeJSON(w, http.StatusOK, map[string]any{"accounts": []directory.Account{r.account}})
}
