package console_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/directory"
)

// An administrator adds an Entra source in the wizard, first with the
// client secret's ID (the page says it is the ID, not the value), then
// replaces it with the value; previews the first sync, opens a change's
// diff, applies it, and syncs one user.
func TestAddEntraSourcePreviewApply(t *testing.T) {
	w := newWorld(t)
	c := w.emu.Credentials()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, w.emu.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/")
	b.do(chromedp.Click(chromedp.CSS(`a[href="/sources/new"]`)), chromedp.WaitReady(chromedp.CSS("#tenant")))
	b.audit("source-new")

	b.do(chromedp.SetValue(chromedp.CSS("#cloud"), "custom"), chromedp.SetUploadFiles(chromedp.CSS("#ca_file"), []string{ca}))
	b.submit(`form[action="/sources/new/entra"]`, map[string]string{"#name": "contoso", "#tenant": c.TenantID,
		"#client_id": c.ClientID, "#client_secret": w.tenant.DefaultApp().SecretID, "#secret_expires": "2030-06-30",
		"#authority_url": c.AuthorityURL, "#graph_url": c.GraphURL})
	if !strings.HasPrefix(b.path(), "/sources/contoso?test=1") {
		t.Fatalf("the wizard went to %s: %s", b.path(), b.text("main"))
	}
	problem := b.text("#test-problem")
	for _, want := range []string{"AADSTS7000215", "Secret ID", "Value"} {
		if !strings.Contains(problem, want) {
			t.Errorf("the test of a secret's ID says %q, without %q", problem, want)
		}
	}
	b.audit("source-test-failed")

	b.submit(`form[action="/sources/contoso/secret"]`, map[string]string{"#new_secret": c.ClientSecret})
	if msg := b.text("#test-ok"); !strings.Contains(msg, "ready to sync") {
		t.Fatalf("after the secret's value the test says %q", b.text("main"))
	}
	v, err := w.m().Source(t.Context(), w.op, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.m().TestSource(t.Context(), w.op, "contoso"); err != nil || !strings.Contains(string(v.Config), `"secret_expires":"2030-06-30"`) {
		t.Fatalf("the stored source: test %v, config %s", err, v.Config)
	}

	// Preview: a dry run, followed live until it ends, applies nothing.
	b.submit(`form[action="/sources/contoso/preview"]`, nil)
	b.waitRunEnded()
	if got := b.text("#outcome"); got != "succeeded" {
		t.Fatalf("the preview ended %s: %s", got, b.text("main"))
	}
	if users, err := w.m().Users(t.Context(), w.op, directoryQuery()); err != nil || len(users.Items) != 0 {
		t.Fatalf("a preview applied something: %d users, %v", len(users.Items), err)
	}
	b.audit("run-preview")
	b.do(chromedp.SetValue(chromedp.CSS("#f-action"), "created"), chromedp.SetValue(chromedp.CSS("#f-kind"), "user"))
	b.submit(`form[action^="/runs/"]`, nil)
	rows := b.count("table.changes > tbody > tr")
	if rows != 12 || !strings.Contains(b.path(), "action=created") {
		t.Fatalf("the plan filtered to created users shows %d rows at %s", rows, b.path())
	}
	b.do(chromedp.Click(chromedp.CSS("table.changes details summary")))
	diff := b.text("table.changes details table.diff")
	if !strings.Contains(diff, "username") || !strings.Contains(diff, "—") {
		t.Fatalf("a created user's diff says %q", diff)
	}
	b.audit("run-diff")

	// Apply runs it for real.
	b.submit(`form[action="/sources/contoso/sync"]`, nil)
	b.waitRunEnded()
	if got := b.text("#outcome"); got != "succeeded" {
		t.Fatalf("the applied run ended %s", got)
	}
	users, err := w.m().Users(t.Context(), w.op, directoryQuery())
	if err != nil || len(users.Items) != 12 {
		t.Fatalf("after Apply the directory has %d users (%v), want 12", len(users.Items), err)
	}

	// Sync one user, by email.
	b.open("/sources/contoso")
	b.audit("source")
	b.submit(`form[action="/sources/contoso/sync-user"]`, map[string]string{"#who": users.Items[0].Email})
	if got := b.text("#outcome"); got != "succeeded" || !strings.Contains(b.text("main"), "single_user") {
		t.Fatalf("sync one user: %s", b.text("main"))
	}
	runs := w.runs("contoso")
	if runs[0].Kind != directory.RunSingle || runs[0].Trigger != "console" {
		t.Fatalf("the newest run: %+v", runs[0])
	}
	// Turned off, it refuses to sync (manage's rule), and says so.
	b.open("/sources/contoso")
	b.submit(`form[action="/sources/contoso/disable"]`, nil)
	if v, _ := w.m().Source(t.Context(), w.op, "contoso"); v.Enabled || b.count(`form[action="/sources/contoso/sync"]`) != 0 {
		t.Fatalf("after Turn off the source is enabled=%v", v.Enabled)
	}
	b.submit(`form[action="/sources/contoso/enable"]`, nil)
	if v, _ := w.m().Source(t.Context(), w.op, "contoso"); !v.Enabled {
		t.Fatal("after Turn on the source is off")
	}
	runs = w.runs("contoso")
	b.open("/runs?source=contoso")
	b.audit("runs")
	if n := b.count("table.runs tbody tr"); n != len(runs) {
		t.Fatalf("the runs page lists %d runs, the store %d", n, len(runs))
	}
}

// waitRunEnded waits on a run's page until the run has ended (the page
// follows the run, and reloads itself when it ends).
func (b *tab) waitRunEnded() {
	b.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		o, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.readyState === "complete" && document.getElementById("outcome")) ? document.getElementById("outcome").textContent : ""`))
		if err == nil && o != "" && o != "queued" && o != "running" {
			return
		}
	}
	b.t.Fatalf("the run did not end: %s", eval[string](b, "document.body.innerText"))
}
