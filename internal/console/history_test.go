package console_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
)

// A user's page shows the user's change history: the source changes the
// user's department, a sync started in the browser applies it, and the
// page lists that update first (with the department's before and after,
// linking to its run), then the user's creation by the first sync, as
// stored.
func TestUserChangeHistory(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	tu := w.tenant.Users()[0]
	who, err := w.m().User(t.Context(), w.op, tu.UserPrincipalName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.tenant.UpdateUser(tu.ID, func(x *entraemu.User) { x.Department = "Night Research" }); err != nil {
		t.Fatal(err)
	}
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/sources/contoso")
	b.submit(`form[action="/sources/contoso/sync"]`, nil)
	b.waitRunEnded()
	runs := w.runs("contoso")
	if len(runs) != 2 {
		t.Fatalf("%d runs stored, want 2", len(runs))
	}

	b.open("/users/" + who.ID)
	b.audit("user-history")
	_, stored, err := w.m().UserHistory(t.Context(), w.op, who.ID, manage.UserHistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	rows := b.count("#history > tbody > tr")
	if rows != len(stored.Items) || rows < 2 {
		t.Fatalf("the page lists %d changes, %d stored: %s", rows, len(stored.Items), b.text("main"))
	}
	first := b.text("#history > tbody > tr:first-child")
	if !strings.Contains(first, "updated") || !strings.Contains(b.text("#history > tbody > tr:first-child td.after"), "Night Research") ||
		!strings.Contains(b.text("#history > tbody > tr:first-child th[scope=row]"), "department") ||
		b.text("#history > tbody > tr:first-child td.before") == b.text("#history > tbody > tr:first-child td.after") {
		t.Fatalf("the newest change is not the department's update: %s", first)
	}
	if last := b.text("#history > tbody > tr:last-child"); !strings.Contains(last, "created") || !strings.Contains(last, "contoso run") {
		t.Fatalf("the oldest change is not the user's creation: %s", last)
	}
	// A made-up page of the history is refused, saying what to do.
	bad := "/users/" + who.ID + "?history=garbage"
	b.open(bad)
	status := eval[float64](b, `fetch("`+bad+`").then(r => r.status)`)
	if status != 400 || !strings.Contains(b.text("main"), "Older changes link") {
		t.Fatalf("a made-up history page: %v %s", status, b.text("main"))
	}
	b.open("/users/" + who.ID)
	b.do(chromedp.Click(chromedp.CSS(`#history > tbody > tr:first-child a[href^="/runs/"]`)), chromedp.WaitReady(chromedp.CSS("#changes-h")))
	want := "/runs/" + runs[0].ID
	if p := b.path(); p != want {
		t.Fatalf("the change's run link opened %s, want %s (the newest run)", p, want)
	}
	if row := b.text("#change-" + strconv.Itoa(stored.Items[0].Seq)); !strings.Contains(row, "updated") || !strings.Contains(row, who.Username) {
		t.Fatalf("the run page does not show the change: %s", row)
	}
}
