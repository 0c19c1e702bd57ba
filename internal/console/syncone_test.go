package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
)

// TestSyncOneUserBySearch: Sync one user finds a user the source holds
// and the directory does not (created after the last run) by a word of
// its display name and by the start of its email, and one already synced
// by its name; picking the new one and syncing brings it in, in a run of
// one user, and no one else.
func TestSyncOneUserBySearch(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	late, err := w.tenant.CreateUser(entraemu.User{UserPrincipalName: "late.joiner@" + w.tenant.Domain(), DisplayName: "Morgan Latejoiner",
		Mail: "morgan.l@" + w.tenant.Domain(), AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	other := w.tenant.Users()[0]
	before, err := w.m().Users(t.Context(), w.op, manage.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/sources/contoso")
	find := func(q string) string {
		t.Helper()
		b.submit(`form[aria-label="Find the user to sync"]`, map[string]string{"#sync_search": q})
		if b.count("#sync-pick") != 1 {
			t.Fatalf("searching %q shows no choice: %s", q, b.text("#one-h + *"))
		}
		return b.text("#sync-pick")
	}
	for _, q := range []string{"latejoin", "Morgan L", "morgan.l@"} {
		if got := find(q); !strings.Contains(got, "Morgan Latejoiner") || !strings.Contains(got, late.UserPrincipalName) {
			t.Fatalf("searching %q for the new user found: %s", q, got)
		}
	}
	// A user already synced is found by its name, from the directory too.
	if got := find(strings.Fields(other.DisplayName)[0]); !strings.Contains(got, other.UserPrincipalName) {
		t.Fatalf("searching for %q found: %s", other.DisplayName, got)
	}
	// Nobody: the page says so, and offers nothing to sync.
	b.submit(`form[aria-label="Find the user to sync"]`, map[string]string{"#sync_search": "zzznobody"})
	if got := b.text("#sync-pick"); !strings.Contains(got, "0 users match") || b.count(`#sync-pick button`) != 0 {
		t.Fatalf("a search that finds nobody: %s", got)
	}

	find("latejoin")
	b.audit("source-sync-one-user")
	b.do(chromedp.Click(chromedp.CSS(`#sync-pick input[value="` + late.ID + `"]`)))
	b.submit(`#sync-pick`, nil)
	b.waitRunEnded()
	if got := b.text("#outcome"); got != "succeeded" {
		t.Fatalf("the run ended %s: %s", got, b.text("main"))
	}
	runs := w.runs("contoso")
	if runs[0].Kind != directory.RunSingle || runs[0].Counts.Created != 1 {
		t.Fatalf("the newest run: %+v", runs[0])
	}
	u, err := w.m().User(t.Context(), w.op, late.UserPrincipalName)
	if err != nil || u.DisplayName != "Morgan Latejoiner" {
		t.Fatalf("the picked user in the directory: %+v (%v)", u, err)
	}
	after, err := w.m().Users(t.Context(), w.op, manage.UserQuery{})
	if err != nil || len(after.Items) != len(before.Items)+1 {
		t.Fatalf("%d users before, %d after (%v): want one more", len(before.Items), len(after.Items), err)
	}
}
