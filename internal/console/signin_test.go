package console_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/manage"
)

// A person signs in with email and password, sees the overview with the
// source's status, last run and counts, and syncs it now.
func TestSignInAndOverview(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	b := w.newTab("owner")

	b.open("/")
	if p := b.path(); !strings.HasPrefix(p, "/signin?next=%2F") {
		t.Fatalf("a page without a session went to %s, not the sign-in page", p)
	}
	b.audit("signin")

	b.submit(`form[action="/signin"]`, map[string]string{"#email": ownerEmail, "#password": "not the password"})
	if msg := b.text(".error"); !strings.Contains(msg, "the email address or the password is wrong") {
		t.Fatalf("wrong password said %q", msg)
	}
	b.audit("signin-error")

	b.signIn(ownerEmail)
	if b.path() != "/" {
		t.Fatalf("signed in to %s, want /", b.path())
	}
	b.audit("overview")
	row := b.text("table.sources tbody tr")
	for _, want := range []string{"contoso", "entra", "Connected", "succeeded", "12 users", "3 groups", "15 created"} {
		if !strings.Contains(row, want) {
			t.Errorf("the overview's row says %q, without %q", row, want)
		}
	}
	if c := b.cookie(); c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax", c)
	}

	before := len(w.runs("contoso"))
	b.submit(`form[action="/sources/contoso/sync"]`, nil)
	if !strings.HasPrefix(b.path(), "/runs/") {
		t.Fatalf("Sync now opened %s, not the run's page", b.path())
	}
	b.waitRunEnded()
	if rs := w.runs("contoso"); len(rs) != before+1 || rs[0].Trigger != string(manage.ViaConsole) {
		t.Fatalf("after Sync now the source has %d runs (newest %+v), want %d, the newest from the console", len(rs), rs[0], before+1)
	}
}

// The link serve and demo print creates the account's first owner, once.
func TestSetupLinkCreatesFirstOwner(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	if _, err := w.m().CreateAccount(ctx, manage.DeploymentOperator(), "acme"); err != nil {
		t.Fatal(err)
	}
	acme, err := w.m().Operator(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	link, err := w.m().IssueSignInLink(ctx, acme, "")
	if err != nil {
		t.Fatal(err)
	}
	b := w.newTab("first owner")
	b.open("/link/" + link.Token)
	if h := b.text("h1"); !strings.Contains(h, "first owner of account acme") {
		t.Fatalf("the setup link's page says %q", h)
	}
	b.audit("setup-link")
	b.submit("form", map[string]string{"#email": "founder@acme.example", "#password": testPassword, "#confirm": "another password entirely"})
	if msg := b.text(".error"); !strings.Contains(msg, "differ") {
		t.Fatalf("differing passwords said %q", msg)
	}
	b.submit("form", map[string]string{"#email": "founder@acme.example", "#password": "short", "#confirm": "short"})
	if msg := b.text(".error"); !strings.Contains(msg, "too short") {
		t.Fatalf("a short password said %q", msg)
	}
	b.submit("form", map[string]string{"#email": "founder@acme.example", "#password": testPassword, "#confirm": testPassword})
	if b.path() != "/?done=welcome" || !strings.Contains(b.text(".who"), "founder@acme.example (owner, account acme)") {
		t.Fatalf("after setup the page is %s and says %q", b.path(), b.text("header"))
	}
	us, err := w.m().ConsoleUsers(ctx, acme)
	if err != nil || len(us) != 1 || us[0].Email != "founder@acme.example" || us[0].Role != manage.RoleOwner || !us[0].HasPassword {
		t.Fatalf("acme's console users: %+v, %v", us, err)
	}

	other := w.newTab("second use")
	other.open("/link/" + link.Token)
	if msg := other.text(".error"); !strings.Contains(msg, "used already") {
		t.Fatalf("a used link says %q", msg)
	}
	other.audit("used-link")
}

// Five wrong passwords lock the address; the fifth failure says so, and
// for how long; the right password is refused meanwhile.
func TestLockout(t *testing.T) {
	w := newWorld(t)
	b := w.newTab("guesser")
	b.open("/signin")
	for range 4 {
		b.submit(`form[action="/signin"]`, map[string]string{"#email": ownerEmail, "#password": "guess guess guess"})
	}
	if msg := b.text(".error"); !strings.Contains(msg, "after 5 failed tries the address is locked for 15 minutes") {
		t.Fatalf("a failure says %q", msg)
	}
	status := b.submit(`form[action="/signin"]`, map[string]string{"#email": ownerEmail, "#password": "guess guess guess"})
	if msg := b.text(".error"); status != 429 || !strings.Contains(msg, "locked for 15 more minutes") {
		t.Fatalf("the fifth failure: %d %q", status, msg)
	}
	status = b.submit(`form[action="/signin"]`, map[string]string{"#email": ownerEmail, "#password": testPassword})
	if msg := b.text(".error"); status != 429 || !strings.Contains(msg, "locked for 15 more minutes") || b.cookie() != nil {
		t.Fatalf("the right password after 5 failures: %d %q (cookie %v)", status, msg, b.cookie())
	}
	b.audit("lockout")
	_, err := w.m().SignIn(t.Context(), ownerEmail, []byte(testPassword), "test")
	if e := manage.AsError(err); e == nil || e.Code != manage.CodeLockedOut {
		t.Fatalf("the stored lock: SignIn says %v", err)
	}
	if _, err := w.m().SignIn(t.Context(), readerEmail, []byte(testPassword), "test"); err != nil {
		t.Fatalf("another address is not locked: %v", err)
	}
}

// A cross-site form post is refused, and so is a post without the
// session's form token; neither records a run.
func TestCrossSitePostRefused(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	b := w.newTab("victim")
	b.signIn(ownerEmail)
	before := len(w.runs("contoso"))

	evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, `<!doctype html><html lang="en"><title>win a prize</title><body>
<form id="f" method="post" action="%s/sources/contoso/sync"><input type="hidden" name="csrf" value="guessed"></form>
<script>document.getElementById("f").submit()</script></body></html>`, w.url)
	}))
	defer evil.Close()
	// The attacker's page is another origin (another port of the same host).
	b.do(chromedp.Navigate(evil.URL), chromedp.Sleep(time.Second), chromedp.WaitReady(chromedp.CSS("body")))
	body := eval[string](b, "document.body.innerText")
	if !strings.Contains(strings.ToLower(body), "cross-origin") {
		t.Errorf("the cross-site post answered %q", body)
	}
	if n := len(w.runs("contoso")); n != before {
		t.Fatalf("a cross-site post recorded a run: %d runs, had %d", n, before)
	}

	// Without Origin or Sec-Fetch-Site (not a browser), the form token decides.
	c := b.cookie()
	resp, err := w.client(c.Value).PostForm(w.url+"/sources/contoso/sync", url.Values{"csrf": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(page), "security token") {
		t.Fatalf("a post without the form token: %d %s", resp.StatusCode, page)
	}
	if n := len(w.runs("contoso")); n != before {
		t.Fatalf("a post without the form token recorded a run: %d runs, had %d", n, before)
	}
}

// A read-only session sees no action, and the server refuses the action
// when it is posted all the same, with the session's own form token.
func TestReadOnlySeesNoActionAndIsRefused(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	b := w.newTab("reader")
	b.signIn(readerEmail)
	b.audit("overview-read-only")
	if n := b.count("main form, main button"); n != 0 {
		t.Fatalf("a read_only overview shows %d forms or buttons", n)
	}
	if !strings.Contains(b.text("table.sources"), "Connected") {
		t.Fatal("the read_only overview does not show the source's status")
	}
	users, _ := w.m().Users(t.Context(), w.op, manage.UserQuery{Limit: 1})
	runs := w.runs("contoso")
	for _, p := range []string{"/sources/contoso", "/runs/" + runs[0].ID, "/users", "/users/" + users.Items[0].ID, "/groups", "/trash", "/settings"} {
		b.open(p)
		if n := b.count(`main form[method="post"]`); n != 0 {
			t.Errorf("read_only sees %d action forms on %s", n, p)
		}
	}
	b.open("/")
	before := len(w.runs("contoso"))
	status := eval[int](b, `(async () => {
		const token = document.querySelector('input[name="csrf"]').value;
		const r = await fetch("/sources/contoso/sync", {method: "POST", body: new URLSearchParams({csrf: token})});
		return r.status;
	})()`)
	answer := eval[string](b, `(async () => {
		const token = document.querySelector('input[name="csrf"]').value;
		const r = await fetch("/sources/contoso/sync", {method: "POST", body: new URLSearchParams({csrf: token})});
		return await r.text();
	})()`)
	if status != http.StatusForbidden || !strings.Contains(answer, "role read_only may not sync sources") {
		t.Fatalf("a read_only post of Sync now: %d %s", status, answer)
	}
	if n := len(w.runs("contoso")); n != before {
		t.Fatalf("a refused post recorded a run: %d runs, had %d", n, before)
	}
}

// Sign-out ends the session (its cookie no longer works); sign-out
// everywhere ends the user's other sessions too.
func TestSignOutAndSignOutEverywhere(t *testing.T) {
	w := newWorld(t)
	one, two, three := w.newTab("one"), w.newTab("two"), w.newTab("three")
	for _, b := range []*tab{one, two, three} {
		b.signIn(ownerEmail)
	}
	old := one.cookie().Value
	one.submit(`form[action="/signout"]`, nil)
	if one.path() != "/signin?done=signedout" {
		t.Fatalf("sign-out went to %s", one.path())
	}
	resp, err := w.client(old).Get(w.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Fatalf("the signed-out session's cookie still opens /: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := w.m().ConsoleSession(t.Context(), old); manage.KindOf(err) != manage.Unauthenticated {
		t.Fatalf("the stored session after sign-out: %v", err)
	}

	two.open("/account")
	two.audit("account")
	if n := two.count("table tbody tr"); n != 2 {
		t.Fatalf("the account page lists %d sessions, want 2 (one signed out)", n)
	}
	two.submit(`form[action="/account/signout-everywhere"]`, nil)
	if two.path() != "/signin?done=everywhere" {
		t.Fatalf("sign-out everywhere went to %s", two.path())
	}
	three.open("/")
	if p := three.path(); !strings.HasPrefix(p, "/signin") || !strings.Contains(three.text(".notice"), "session ended") {
		t.Fatalf("another browser after sign-out everywhere is at %s", p)
	}
	u, _ := w.m().ConsoleUsers(t.Context(), w.op)
	for _, cu := range u {
		if cu.Email != ownerEmail {
			continue
		}
		ns, err := w.m().SignIn(t.Context(), ownerEmail, []byte(testPassword), "check")
		if err != nil {
			t.Fatal(err)
		}
		ss, err := w.m().ConsoleSessions(t.Context(), ns.Actor)
		if err != nil || len(ss) != 1 {
			t.Fatalf("after sign-out everywhere the owner has %d valid sessions besides a new one (%v)", len(ss)-1, err)
		}
	}
}
