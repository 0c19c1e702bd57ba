package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/manage"
)

// pageNames are the pages, each parsed with the layout into its own set
// (templates/NAME.html defines "main"; the view gives the title).
var pageNames = []string{"signin", "link", "error", "overview", "account", "source_new", "source", "runs_list", "run", "users", "user", "groups", "group", "trash", "purge", "settings", "webhook", "ous", "conflicts", "targets", "target", "target_run"}

// partials are parsed with every page.
var partials = []string{"templates/layout.html", "templates/runs.html"}

var funcs = template.FuncMap{
	"lower": strings.ToLower,
	"join":  strings.Join,
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	},
	"static":     staticURL,
	"runsOf":     runsOf,
	"value":      value,
	"weekday":    func(d time.Weekday) int { return int(d) },
	"days":       func(d time.Duration) int { return int(d / (24 * time.Hour)) },
	"stateLabel": stateLabel,
}

// stateLabel is a source state in the seed products' words.
func stateLabel(state string) string {
	switch state {
	case manage.StateConnected:
		return "Connected"
	case manage.StateNeverRun:
		return "Never run"
	case manage.StateLastRunFailed:
		return "Last run failed"
	case manage.StateReauthorize:
		return "Reauthorization required"
	case manage.StateSecretExpiring:
		return "Client secret expiring"
	case manage.StateSecretExpired:
		return "Client secret expired"
	case manage.StateTurnedOff:
		return "Turned off"
	}
	return state
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, append(slices.Clone(partials), "templates/"+name+".html")...)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// view is what every page's template gets: the page's own data in Data,
// and what the layout needs.
type view struct {
	Title  string
	Nav    string // the navigation entry that is current
	Actor  manage.Actor
	CSRF   string
	Notice string
	Data   any
	// Refresh, when positive, reloads the page every Refresh seconds (a
	// run in progress), without JavaScript.
	Refresh int

	loc *time.Location
	now time.Time
}

// SignedIn reports whether a console user is signed in.
func (v *view) SignedIn() bool { return v.Actor.UserID != "" }

// actions names the use cases' actions for the templates' Can.
var actions = map[string]manage.Action{
	"sync":          manage.ActSync,
	"syncUser":      manage.ActSyncUser,
	"editUsers":     manage.ActEditUsers,
	"restore":       manage.ActRestore,
	"sources":       manage.ActManageSources,
	"hooks":         manage.ActManageHooks,
	"purge":         manage.ActPurge,
	"tokens":        manage.ActManageTokens,
	"consoleUsers":  manage.ActManageConsole,
	"accountConfig": manage.ActManageAccount,
}

// Can reports whether the actor may do the named action: the page then
// shows its button; manage checks again when it is pressed.
func (v *view) Can(name string) bool {
	act, ok := actions[name]
	if !ok {
		panic("console: template asks for unknown action " + name)
	}
	return v.Actor.Can(act)
}

// When formats a time in the account's time zone.
func (v *view) When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(v.loc).Format("2006-01-02 15:04 MST")
}

// ISO is a time for a <time datetime> attribute.
func (v *view) ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Ago says how long before now t was, or how long after now it is.
func (v *view) Ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := v.now.Sub(t)
	if d < 0 {
		return "in " + span(-d)
	}
	if d < time.Minute {
		return "just now"
	}
	return span(d) + " ago"
}

func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	default:
		return plural(int(d/(24*time.Hour)), "day")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// render writes a page.
func (s *Server) render(w http.ResponseWriter, r *request, status int, name string, v *view) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("console: no page %q", name)
	}
	v.Actor, v.CSRF = r.actor, r.csrf
	v.loc, v.now = time.UTC, s.Manager.Clock().Now()
	if v.Actor.AccountID != "" {
		if st, err := s.Manager.AccountSettings(r.Context(), v.Actor); err == nil {
			v.loc = st.Location()
		}
	}
	if v.Notice == "" {
		v.Notice = notices[r.URL.Query().Get("done")]
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// renderError shows a failure as a page of its own.
func (s *Server) renderError(w http.ResponseWriter, r *request, status int, msg string) {
	v := &view{Title: http.StatusText(status), Data: struct {
		Status  int
		Message string
	}{status, msg}}
	if err := s.render(w, r, status, "error", v); err != nil {
		s.Logger.Error("console: render error page", "err", err)
		http.Error(w, msg, status)
	}
}

// notices are the messages a page shows after a redirect (?done=KEY):
// fixed texts, so that a link cannot make the console say anything else.
var notices = map[string]string{
	"password":   "Your password is changed; your other sessions were signed out.",
	"signedout":  "You are signed out.",
	"everywhere": "You are signed out everywhere.",
	"welcome":    "Welcome: you are the account's first owner.",
	"link":       "You are signed in with a one-time link. If you came here because you forgot your password, set a new one below.",
	"session":    "Your session ended: sign in again.",
	"added":      "The source is added; its connection test is below. It syncs on its schedule once it works.",
	"secret":     "The client secret is replaced; the connection test is below.",
	"schedule":   "The schedule is saved; its next runs are below.",
	"saved":      "Saved.",
	"on":         "The source is turned on: it syncs on its schedule and on request.",
	"off":        "The source is turned off: it syncs neither on schedule nor on request until turned on.",
	"ous":        "The OU filter is saved; it applies from the next run.",
	"revoked":    "The token is revoked: it no longer works.",
	"deleted":    "The webhook is deleted.",
	"removed":    "The console user is removed; their sessions are ended.",
	"restored":   "Restored: it is back in the directory.",
	"purged":     "Purged for good.",
	"scope":      "The scope and import options are saved; they apply from the next run (Preview shows what it would do).",
	"cycle":      "The cycle is running; it shows below when it ends.",
}

// redirect sends the browser on after a post (post/redirect/get).
func redirect(w http.ResponseWriter, r *request, to string) error {
	http.Redirect(w, r.Request, to, http.StatusSeeOther)
	return nil
}

// staticSums are the embedded files' content hashes, for URLs that change
// when a file does (so they may be cached for long).
var staticSums = func() map[string]string {
	sums := map[string]string{}
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := staticFS.ReadFile(p)
		sum := sha256.Sum256(b)
		sums[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	return sums
}()

func staticURL(name string) string {
	return "/static/" + name + "?v=" + staticSums[path.Clean(name)]
}

// staticFiles serves the embedded files, cached for a year when the URL
// names their checksum.
func staticFiles(fsys fs.FS) http.Handler {
	fsrv := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("v"); v != "" && v == staticSums[path.Clean(r.URL.Path)] {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		fsrv.ServeHTTP(w, r)
	})
}
