package console_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
)

// TestRunProgressLive: a slow first run (the emulated tenant answers each
// request after 1.5 s, the users in two pages) started from the console shows on its page how far
// it has got, the counts changing as it reads and applies, and the page
// shows the finished run when it ends. The store holds the progress the
// run recorded as it went.
func TestRunProgressLive(t *testing.T) {
	w := newWorld(t)
	c := w.emu.Credentials()
	raw, _ := json.Marshal(entra.Config{Tenant: c.TenantID, ClientID: c.ClientID, Cloud: "custom", AuthMethod: entra.AuthSecret,
		AuthorityURL: c.AuthorityURL, GraphURL: c.GraphURL, CAPEM: string(w.emu.CAPEM())})
	name, none := "contoso", schedule.Schedule{Kind: schedule.None}
	if _, err := w.m().AddSource(t.Context(), w.op, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: raw,
		Secret: []byte(c.ClientSecret), Schedule: &none}); err != nil {
		t.Fatal(err)
	}
	// Two pages of users ($top=999), each a count the page can show.
	start := time.Now()
	for i := range 1100 {
		if _, err := w.tenant.CreateUser(entraemu.User{UserPrincipalName: fmt.Sprintf("bulk.%04d@%s", i, w.tenant.Domain()),
			DisplayName: fmt.Sprintf("Bulk %04d", i), AccountEnabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("users added in %v", time.Since(start))
	w.tenant.SetLatency(1500 * time.Millisecond)
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/sources/contoso")
	b.submit(`form[action="/sources/contoso/sync"]`, nil)
	runPath := b.path()
	if !strings.HasPrefix(runPath, "/runs/") {
		t.Fatalf("Sync now opened %s, not the run's page", runPath)
	}
	// What the page says while the run goes, as its script updates it.
	var seen []string
	outcome := ""
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.readyState === "complete" && document.getElementById("outcome")) ?
			document.getElementById("outcome").textContent + "|" + ((document.getElementById("progress") || {}).textContent || "") : ""`))
		if err != nil || s == "" {
			continue
		}
		o, progress, _ := strings.Cut(s, "|")
		if o != "queued" && o != "running" {
			outcome = o
			break
		}
		if progress != "" && !slices.Contains(seen, progress) {
			seen = append(seen, progress)
		}
	}
	if outcome != string(directory.OutcomeSucceeded) {
		t.Fatalf("the run ended %q; the page: %s", outcome, eval[string](b, "document.body.innerText"))
	}
	// The counts changed while the page watched: at least two different
	// sets of numbers, read as the source was read.
	numbers := regexp.MustCompile(`\d+`)
	var distinct []string
	reading := false
	for _, s := range seen {
		n := strings.Join(numbers.FindAllString(strings.Split(s, "; running for")[0], -1), ",")
		if n != "" && !slices.Contains(distinct, n) {
			distinct = append(distinct, n)
		}
		reading = reading || strings.HasPrefix(s, "reading the source: ") && strings.Contains(s, "request")
	}
	if len(distinct) < 2 || !reading {
		t.Fatalf("the run's page showed %q while it ran: want the counts read so far, changing", seen)
	}
	t.Logf("the run's page showed: %q", seen)
	// The page now shows the finished run: its counts and changes.
	if got := b.text("#outcome"); got != string(directory.OutcomeSucceeded) || b.count("#progress") != 0 {
		t.Fatalf("the ended run's page: outcome %q, %d progress lines", got, b.count("#progress"))
	}
	runs := w.runs("contoso")
	if len(runs) != 1 || runs[0].Counts.Created == 0 || !strings.Contains(b.text("main"), "created") {
		t.Fatalf("runs stored %+v", runs)
	}
	// The store kept what the run recorded as it went (its last record:
	// the read done, or a step of the apply).
	p, err := w.parts.Store.RunProgress(t.Context(), w.op.AccountID, runs[0].ID)
	if err != nil || p.Users != len(w.tenant.Users()) || p.Requests == 0 || p.At.IsZero() {
		t.Fatalf("stored progress %+v (%v), want the %d users read", p, err, len(w.tenant.Users()))
	}
	b.screenshot("run-progress")
}
