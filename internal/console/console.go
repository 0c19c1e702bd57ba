// Package console is dirsync's admin web console: the third front end over
// package manage, beside the command line and the REST API. Pages are
// server-rendered from html/template files embedded in the binary (as
// miniflux does: each page parsed once at start with the shared layout),
// the stylesheet is embedded too, and every form works without JavaScript.
//
// The console decides nothing: a handler reads the session's actor, parses
// the form, calls one use case with that actor, and renders what it
// returns. Roles are manage's to check on every action; the console only
// hides what the actor may not do (Actor.Can), and a forged post is refused
// by manage all the same.
//
// Sessions live in the store (manage.SignIn, manage.ConsoleSession): the
// browser holds the session token in an HttpOnly, SameSite=Lax cookie,
// Secure behind TLS. State changes are guarded twice: Go's
// http.CrossOriginProtection refuses cross-origin posts from browsers, and
// every form of a signed-in page carries a token derived from the session
// (csrf.go) that a forged post cannot know.
package console

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/dirsync/dirsync/internal/manage"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server serves the console over the application layer.
type Server struct {
	Manager *manage.Manager
	Logger  *slog.Logger
	// Secure marks cookies Secure even when the request itself came in
	// without TLS (a TLS-terminating proxy in front, the public URL https).
	Secure bool

	pages  map[string]*template.Template
	static http.Handler
}

// New returns a console over m, its templates parsed.
func New(m *manage.Manager, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{Manager: m, Logger: logger}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	sub, _ := fs.Sub(staticFS, "static")
	s.static = http.StripPrefix("/static/", staticFiles(sub))
	return s, nil
}

// Must is New for a console whose templates are known to parse (they are
// embedded, and a test parses them): it panics otherwise.
func Must(m *manage.Manager, logger *slog.Logger) *Server {
	s, err := New(m, logger)
	if err != nil {
		panic(err)
	}
	return s
}

// Handler serves every console page, guarded against cross-origin posts.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", s.static)
	mux.Handle("GET /signin", s.public(s.signInPage))
	mux.Handle("POST /signin", s.public(s.signIn))
	mux.Handle("GET /link/{token}", s.public(s.linkPage))
	mux.Handle("POST /link/{token}", s.public(s.redeemLink))
	mux.Handle("POST /signout", s.public(s.signOut))

	mux.Handle("GET /{$}", s.page(s.overview))
	mux.Handle("GET /sources/new", s.page(s.newSourcePage))
	mux.Handle("POST /sources/new/entra", s.page(s.addEntraSource))
	mux.Handle("POST /sources/new/ldap", s.page(s.addLDAPSource))
	mux.Handle("GET /sources/{source}", s.page(s.sourcePage))
	mux.Handle("GET /sources/{source}/ous", s.page(s.ouPage))
	mux.Handle("POST /sources/{source}/ous", s.page(s.setOUs))
	mux.Handle("POST /sources/{source}/secret", s.page(s.setSecret))
	mux.Handle("POST /sources/{source}/schedule", s.page(s.setSchedule))
	mux.Handle("POST /sources/{source}/scope", s.page(s.setScope))
	mux.Handle("POST /sources/{source}/sync", s.page(s.syncNow))
	mux.Handle("POST /sources/{source}/preview", s.page(s.preview))
	mux.Handle("POST /sources/{source}/enable", s.page(s.setEnabled(true)))
	mux.Handle("POST /sources/{source}/disable", s.page(s.setEnabled(false)))
	mux.Handle("POST /sources/{source}/sync-user", s.page(s.syncUser))
	mux.Handle("GET /targets", s.page(s.targetsPage))
	mux.Handle("GET /targets/{target}", s.page(s.targetPage))
	mux.Handle("POST /targets/{target}/sync", s.page(s.targetSync))
	mux.Handle("POST /targets/{target}/staging", s.page(s.targetStaging))
	mux.Handle("GET /targets/{target}/runs/{run}", s.page(s.targetRunPage))
	mux.Handle("GET /runs", s.page(s.runsPage))
	mux.Handle("GET /runs/{run}", s.page(s.runPage))
	mux.Handle("GET /runs/{run}/status", s.page(s.runStatus))
	mux.Handle("GET /users", s.page(s.usersPage))
	mux.Handle("GET /users/{user}", s.page(s.userPage))
	mux.Handle("POST /users/{user}", s.page(s.editUser))
	mux.Handle("GET /groups", s.page(s.groupsPage))
	mux.Handle("GET /groups/{group}", s.page(s.groupPage))
	mux.Handle("GET /trash", s.page(s.trashPage))
	mux.Handle("GET /conflicts", s.page(s.conflictsPage))
	mux.Handle("POST /trash/{kind}/{id}/restore", s.page(s.restore))
	mux.Handle("GET /trash/{kind}/{id}/purge", s.page(s.purgeConfirm))
	mux.Handle("POST /trash/{kind}/{id}/purge", s.page(s.purge))
	mux.Handle("GET /settings", s.page(s.settingsPage))
	mux.Handle("POST /settings/tokens", s.page(s.createToken))
	mux.Handle("POST /settings/tokens/{id}/revoke", s.page(s.revokeToken))
	mux.Handle("POST /settings/webhooks", s.page(s.createWebhook))
	mux.Handle("GET /settings/webhooks/{id}", s.page(s.webhookPage))
	mux.Handle("POST /settings/webhooks/{id}/test", s.page(s.testWebhook))
	mux.Handle("POST /settings/webhooks/{id}/delete", s.page(s.deleteWebhook))
	mux.Handle("POST /settings/console-users", s.page(s.addConsoleUser))
	mux.Handle("POST /settings/console-users/{id}/role", s.page(s.setConsoleRole))
	mux.Handle("POST /settings/console-users/{id}/link", s.page(s.consoleUserLink))
	mux.Handle("POST /settings/console-users/{id}/remove", s.page(s.removeConsoleUser))
	mux.Handle("POST /settings/account", s.page(s.setAccountSettings))
	mux.Handle("GET /account", s.page(s.accountPage))
	mux.Handle("POST /account/password", s.page(s.changePassword))
	mux.Handle("POST /account/signout-everywhere", s.page(s.signOutEverywhere))
	mux.Handle("/", s.public(func(w http.ResponseWriter, r *request) error {
		return &Error{Status: http.StatusNotFound, Message: "There is no page at " + r.URL.Path + "."}
	}))
	return http.NewCrossOriginProtection().Handler(securityHeaders(mux))
}

// securityHeaders are sent with every answer: no framing, no sniffing, no
// script or style but the console's own, no referrer leaking a link token.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// request is what a handler gets besides the HTTP request: the signed-in
// actor (zero on public pages) and the session's form token.
type request struct {
	*http.Request
	actor manage.Actor
	csrf  string
}

type handlerFunc func(w http.ResponseWriter, r *request) error

// Error is a console failure of its own (a bad form, a missing page): a
// status and a message for the person. Errors of the use cases are
// *manage.Error, shown through kindStatus.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// kindStatus is the one table from a use case's error kind to the status
// of the page that says it.
var kindStatus = map[manage.Kind]int{
	manage.NotFound:        http.StatusNotFound,
	manage.Invalid:         http.StatusBadRequest,
	manage.Conflict:        http.StatusConflict,
	manage.Forbidden:       http.StatusForbidden,
	manage.Unauthenticated: http.StatusUnauthorized,
	manage.Busy:            http.StatusConflict,
	manage.Stopped:         http.StatusConflict,
	manage.SourceFailed:    http.StatusBadGateway,
	manage.Unsupported:     http.StatusNotImplemented,
	manage.Unavailable:     http.StatusServiceUnavailable,
}

// public serves a page that needs no session (it may still read one).
func (s *Server) public(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &request{Request: r}
		if tok := sessionToken(r); tok != "" {
			if a, err := s.Manager.ConsoleSession(r.Context(), tok); err == nil {
				req.actor, req.csrf = a, csrfToken(tok)
			}
		}
		s.serve(w, req, h)
	})
}

// page serves a page of a signed-in user: without a valid session it
// sends the browser to the sign-in page, and it refuses a post whose form
// token is not the session's.
func (s *Server) page(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := sessionToken(r)
		actor, err := s.Manager.ConsoleSession(r.Context(), tok)
		if err != nil {
			if manage.KindOf(err) != manage.Unauthenticated {
				s.serve(w, &request{Request: r}, func(http.ResponseWriter, *request) error { return err })
				return
			}
			if tok != "" {
				clearSessionCookie(w, s.secure(r))
			}
			if r.Method != http.MethodGet {
				s.renderError(w, &request{Request: r}, http.StatusUnauthorized, manage.AsError(err).Message)
				return
			}
			q := url.Values{"next": {r.URL.RequestURI()}}
			if tok != "" {
				q.Set("done", "session")
			}
			http.Redirect(w, r, "/signin?"+q.Encode(), http.StatusSeeOther)
			return
		}
		req := &request{Request: r, actor: actor, csrf: csrfToken(tok)}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !validCSRF(r, req.csrf) {
			s.renderError(w, req, http.StatusForbidden, "This form is out of date or did not come from this console (its security token is missing or wrong). Go back, reload the page and try again.")
			return
		}
		s.serve(w, req, h)
	})
}

// serve runs a handler and answers its error.
func (s *Server) serve(w http.ResponseWriter, r *request, h handlerFunc) {
	err := h(w, r)
	if err == nil {
		return
	}
	var ce *Error
	if errors.As(err, &ce) {
		s.renderError(w, r, ce.Status, ce.Message)
		return
	}
	if me := manage.AsError(err); me != nil {
		if st, ok := kindStatus[me.Kind]; ok {
			s.renderError(w, r, st, me.Message)
			return
		}
	}
	s.Logger.Error("console: internal error", "path", r.URL.Path, "err", err)
	s.renderError(w, r, http.StatusInternalServerError, "Something went wrong on the server; it is in the service's log. Try again in a moment.")
}

// secure says whether cookies must be Secure for this request.
func (s *Server) secure(r *http.Request) bool { return s.Secure || r.TLS != nil }

// localNext is where to go after signing in: a path of this console only,
// never another site (an open redirect).
func localNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

func badForm(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}
