package console_test

// The console's tests drive a real Chromium (Debian's /usr/bin/chromium)
// through chromedp against a real dirsync service (package service, which
// mounts the console at /) on a fresh SQLite database, with an emulated
// Entra tenant as its source. Every page a test visits is audited with
// axe-core (vendored in testdata, injected into the page): a serious or
// critical violation fails the test. Screenshots go to screenshots/
// (ignored by git) as the tests' artifacts.

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/service"
)

//go:embed testdata/axe.min.js
var axeSource string

const (
	chromiumPath = "/usr/bin/chromium"
	// testPassword is every test user's password.
	testPassword = "correct horse battery staple"
	ownerEmail   = "owner@example.com"
	readerEmail  = "reader@example.com"
	// screenshotDir is where the pages' pictures go, the tests' artifacts.
	screenshotDir = "screenshots"
)

var (
	browserOnce  sync.Once
	browserCtx   context.Context
	browserErr   error
	browserClose context.CancelFunc
)

func TestMain(m *testing.M) {
	code := m.Run()
	if browserClose != nil {
		browserClose()
	}
	if len(axeAudited) > 0 {
		var pages []string
		for p, r := range axeAudited {
			pages = append(pages, fmt.Sprintf("%s (%d rules passed, %d minor violations)", p, r[0], r[1]))
		}
		slices.Sort(pages)
		fmt.Printf("axe-core %s: %d pages audited, no serious or critical violation allowed: %s\n", axeVersion(), len(pages), strings.Join(pages, "; "))
	}
	os.Exit(code)
}

// browser is one Chromium for the whole test binary (starting it is the
// slow part); each test gets its own browser context, so its own cookies.
func browser(t *testing.T) context.Context {
	t.Helper()
	browserOnce.Do(func() {
		if _, err := exec.LookPath(chromiumPath); err != nil {
			browserErr = fmt.Errorf("%s not found (.ci/run installs Debian's chromium): %w", chromiumPath, err)
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
			chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(alloc)
		if err := chromedp.Do(ctx); err != nil {
			browserErr = fmt.Errorf("start chromium: %w", err)
		}
		browserCtx, browserClose = ctx, func() { cancel(); cancelAlloc() }
	})
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	return browserCtx
}

// tab is a browser tab of its own browser context (its own cookies), closed
// with the test.
type tab struct {
	t    *testing.T
	w    *world
	ctx  context.Context
	name string
	shot int
}

func (w *world) newTab(name string) *tab {
	w.t.Helper()
	ctx, cancel := chromedp.NewContext(browser(w.t), chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	w.t.Cleanup(func() { cancelTimeout(); cancel() })
	if err := chromedp.Do(ctx); err != nil {
		w.t.Fatal(err)
	}
	return &tab{t: w.t, w: w, ctx: ctx, name: name}
}

// do runs browser actions, failing the test on error.
func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v (page %s)", err, b.location())
	}
}

// eval evaluates a script in the page (awaiting a promise it returns).
func eval[T any](b *tab, script string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: evaluate: %v (page %s)", err, b.location())
	}
	return v
}

func (b *tab) location() string {
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	return loc
}

// open loads a console path and waits for its main content.
func (b *tab) open(path string) {
	b.t.Helper()
	defer b.took("open "+path, time.Now())
	b.do(chromedp.Navigate(b.w.url+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// took logs a slow browser step.
func (b *tab) took(what string, start time.Time) {
	if d := time.Since(start); d > 2*time.Second {
		b.t.Logf("browser: %s took %v", what, d.Round(time.Millisecond))
	}
}

// path is the current page's path and query.
func (b *tab) path() string {
	u, err := url.Parse(b.location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u.RequestURI()
}

// text is the visible text of the first element the selector finds.
func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v (page %s)", sel, err, b.location())
	}
	return s
}

// count is how many elements the selector finds.
func (b *tab) count(sel string) int {
	b.t.Helper()
	return eval[int](b, fmt.Sprintf("document.querySelectorAll(%q).length", sel))
}

// submit fills a form's fields (selector to value), presses its submit
// button and waits for the page it leads to; it returns that page's status.
func (b *tab) submit(form string, fields map[string]string) int64 {
	b.t.Helper()
	defer b.took("submit "+form, time.Now())
	var acts []chromedp.Action[chromedp.Void]
	for sel, v := range fields {
		acts = append(acts, chromedp.SetValue(chromedp.CSS(form+" "+sel), v))
	}
	b.do(acts...)
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)))
	if err != nil {
		b.t.Fatalf("browser: submit %s: %v (page %s)", form, err, b.location())
	}
	b.do(chromedp.WaitReady(chromedp.CSS("main")))
	if resp == nil {
		return 0
	}
	return resp.Status
}

// signIn signs in through the sign-in page.
func (b *tab) signIn(email string) {
	b.t.Helper()
	b.open("/signin")
	b.submit(`form[action="/signin"]`, map[string]string{"#email": email, "#password": testPassword})
	if p := b.path(); strings.HasPrefix(p, "/signin") {
		b.t.Fatalf("sign-in as %s stayed on %s: %s", email, p, b.text("main"))
	}
}

// axeVersion is the vendored axe-core's version, from its banner.
func axeVersion() string {
	return regexp.MustCompile(`axe v([0-9.]+)`).FindStringSubmatch(axeSource)[1]
}

// axeResult is what axe.run reports, as much as the tests read.
type axeResult struct {
	Violations []struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			HTML string `json:"html"`
		} `json:"nodes"`
	} `json:"violations"`
	Passes int `json:"passes"`
}

var (
	axeMu      sync.Mutex
	axeAudited = map[string][2]int{} // page -> rules passed, violations (any impact)
)

// audit runs axe-core on the page: a serious or critical violation fails
// the test. It also saves the page's screenshot.
func (b *tab) audit(page string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[*runtime.RemoteObject](axeSource)); err != nil {
		b.t.Fatalf("inject axe-core: %v", err)
	}
	raw := eval[string](b, `axe.run(document).then(r => JSON.stringify({violations: r.violations, passes: r.passes.length}))`)
	var res axeResult
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		b.t.Fatalf("axe on %s: %v", page, err)
	}
	for _, v := range res.Violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, n.HTML)
		}
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Errorf("axe on %s: %s violation %s (%s) at %s", page, v.Impact, v.ID, v.Help, strings.Join(where, " | "))
		} else {
			b.t.Logf("axe on %s: %s violation %s (%s) at %s", page, v.Impact, v.ID, v.Help, strings.Join(where, " | "))
		}
	}
	axeMu.Lock()
	axeAudited[page] = [2]int{res.Passes, len(res.Violations)}
	axeMu.Unlock()
	b.screenshot(page)
}

// screenshot saves the whole page as screenshots/TEST-N-PAGE.png (quality 100 is PNG).
func (b *tab) screenshot(page string) {
	b.t.Helper()
	img, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	b.shot++
	name := fmt.Sprintf("%s-%02d-%s.png", strings.ReplaceAll(b.t.Name(), "/", "_"), b.shot, page)
	if err := os.WriteFile(filepath.Join(screenshotDir, name), img, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// cookie is the tab's session cookie, nil when it has none.
func (b *tab) cookie() *network.Cookie {
	b.t.Helper()
	cs, err := chromedp.Run(b.ctx, func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{b.w.url}})
		return r.Cookies, err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == "dirsync_session" {
			return c
		}
	}
	return nil
}

// world is a dirsync service with the console, on a fresh database, its
// account's owner and read-only console users, and a synced source.
type world struct {
	t      *testing.T
	parts  *factory.Parts
	svc    *service.Service
	emu    *entraemu.Server
	tenant *entraemu.Tenant
	url    string
	op     manage.Actor
}

func newWorld(t *testing.T) *world {
	t.Helper()
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	w := &world{t: t}
	tenant, err := entraemu.New(entraemu.Options{Users: 12, Groups: 3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	w.tenant = tenant
	if w.emu, err = tenant.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.emu.Close() })
	// The tests' webhook receivers listen on the loopback, which the
	// product refuses unless the deployment allows it.
	allow, err := safehttp.ParseAllowList([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	if w.parts, err = factory.Open(t.Context(), factory.Options{DB: filepath.Join(t.TempDir(), "c.db"), WebhookAllow: allow}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.parts.Close() })
	w.svc = service.New(w.parts, service.Config{Workers: 1}, slog.New(slog.NewTextHandler(testLog{t}, nil)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		w.svc.Runner.Shutdown(ctx)
	})
	srv := httptest.NewServer(w.svc.Handler())
	t.Cleanup(srv.Close)
	w.url = srv.URL
	if w.op, err = w.parts.Manager.Operator(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	for email, role := range map[string]manage.Role{ownerEmail: manage.RoleOwner, readerEmail: manage.RoleReadOnly} {
		if _, err := w.m().CreateConsoleUser(t.Context(), w.op, manage.ConsoleUserInput{Email: email, Role: string(role), Password: []byte(testPassword)}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) m() *manage.Manager { return w.parts.Manager }

// addSource adds the emulated tenant as a source (no schedule) and syncs it.
func (w *world) addSource(name string) manage.SourceView {
	w.t.Helper()
	c := w.emu.Credentials()
	raw, _ := json.Marshal(entra.Config{Tenant: c.TenantID, ClientID: c.ClientID, Cloud: "custom", AuthMethod: entra.AuthSecret,
		AuthorityURL: c.AuthorityURL, GraphURL: c.GraphURL, CAPEM: string(w.emu.CAPEM())})
	none := schedule.Schedule{Kind: schedule.None}
	v, err := w.m().AddSource(w.t.Context(), w.op, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: raw,
		Secret: []byte(c.ClientSecret), Schedule: &none})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.m().SyncNow(w.t.Context(), w.op, name, manage.SyncRequest{}); err != nil {
		w.t.Fatal(err)
	}
	return v
}

// runs are the source's runs as stored.
func (w *world) runs(source string) []directory.Run {
	w.t.Helper()
	rs, err := w.m().Runs(w.t.Context(), w.op, manage.RunQuery{Source: source, Limit: 100})
	if err != nil {
		w.t.Fatal(err)
	}
	return rs.Items
}

// client is a plain HTTP client with the given session cookie, for posts a
// browser would not make (no Origin, no form token).
func (w *world) client(session string) *http.Client {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(w.url)
	if session != "" {
		jar.SetCookies(u, []*http.Cookie{{Name: "dirsync_session", Value: session}})
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func directoryQuery() manage.UserQuery { return manage.UserQuery{} }
