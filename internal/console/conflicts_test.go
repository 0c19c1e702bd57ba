package console_test

import (
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
)

// A new user in the tenant whose email is already a synced user's matches
// nobody safely: the conflicts page names both sides and how to resolve it.
func TestConflicts(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	users, err := w.m().Users(t.Context(), w.op, manage.UserQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	holder := users.Items[0]
	if _, err := w.tenant.CreateUser(entraemu.User{UserPrincipalName: "twin@" + w.tenant.Domain(), DisplayName: "Twin",
		Mail: holder.Email, AccountEnabled: true}); err != nil {
		t.Fatal(err)
	}
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/conflicts")
	if n := b.count("table.conflicts tbody tr"); n != 0 {
		t.Fatalf("conflicts before the sync: %d", n)
	}
	b.open("/sources/contoso")
	b.submit(`form[action="/sources/contoso/sync"]`, nil)
	b.waitRunEnded()
	run := w.runs("contoso")[0]
	if run.Counts.Conflicts != 1 {
		t.Fatalf("the sync met %d conflicts", run.Counts.Conflicts)
	}
	b.open("/conflicts")
	b.audit("conflicts")
	row := b.text("table.conflicts tbody tr")
	if !strings.Contains(row, "twin@") || !strings.Contains(row, "email already held by") || !strings.Contains(row, holder.Username) {
		t.Fatalf("the conflict reads %q", row)
	}
	if got := eval[string](b, `document.querySelector("table.conflicts tbody a").getAttribute("href")`); got != "/users/"+holder.ID {
		t.Fatalf("the holder's link is %s, want /users/%s", got, holder.ID)
	}
}
