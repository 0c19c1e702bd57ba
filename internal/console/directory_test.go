package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// Find a user, edit a local attribute, see a synced one refused; move the
// user to the trash through a rule, restore them, and purge them after a
// confirmation.
func TestUsersEditTrashRestorePurge(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	users, err := w.m().Users(t.Context(), w.op, manage.UserQuery{})
	if err != nil || len(users.Items) < 2 {
		t.Fatalf("users: %v", err)
	}
	who := users.Items[1]
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/users")
	b.audit("users")
	b.submit(`form[role="search"]`, map[string]string{"#q": who.DisplayName})
	if n := b.count("table.users tbody tr"); n != 1 {
		t.Fatalf("searching %q lists %d users", who.DisplayName, n)
	}
	b.do(chromedp.Click(chromedp.CSS("table.users tbody a")), chromedp.WaitReady(chromedp.CSS("#edit-h")))
	b.audit("user")
	_, direct, err := w.m().GroupsOf(t.Context(), w.op, who.ID, manage.GroupsOfQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range direct.Items {
		if !strings.Contains(b.text("#direct-groups"), g.Name) {
			t.Errorf("the user's page does not list direct group %s: %s", g.Name, b.text("#direct-groups"))
		}
	}
	if !strings.Contains(b.text("table.attrs"), "synced contoso") {
		t.Fatalf("the user's page does not mark synced attributes: %s", b.text("table.attrs"))
	}
	b.submit(`form[action="/users/`+who.ID+`"]`, map[string]string{"#tags": "vip, night shift", "#notes": "call before noon"})
	u, err := w.m().User(t.Context(), w.op, who.ID)
	if err != nil || strings.Join(u.Tags, "|") != "night shift|vip" || u.Notes != "call before noon" {
		t.Fatalf("stored local attributes: %v %q (%v)", u.Tags, u.Notes, err)
	}
	// The tag filter finds the user by the new tag.
	b.open("/users?tag=VIP")
	if n := b.count("table.users tbody tr"); n != 1 || !strings.Contains(b.text("table.users"), who.Username) {
		t.Fatalf("the tag filter lists %d users: %s", n, b.text("main"))
	}
	// A synced attribute posted anyway (the field is read-only) is refused.
	token := eval[string](b, `document.querySelector('input[name="csrf"]').value`)
	answer := eval[string](b, `(async () => {
		const r = await fetch("/users/`+who.ID+`", {method: "POST", body: new URLSearchParams({csrf: "`+token+`", display_name: "Someone Else", tags: "vip", notes: ""})});
		return r.status + " " + await r.text();
	})()`)
	if !strings.HasPrefix(answer, "409 ") || !strings.Contains(answer, "display_name") {
		t.Fatalf("a synced attribute's edit answered %.300s", answer)
	}
	if u, _ := w.m().User(t.Context(), w.op, who.ID); u.DisplayName != who.DisplayName || len(u.Tags) != 2 {
		t.Fatalf("a refused edit changed the user: %+v", u)
	}

	// A rule excludes the user; the next sync moves them to the trash.
	b.open("/sources/contoso")
	b.do(chromedp.SetValue(chromedp.CSS("#new_attribute"), "upn"), chromedp.SetValue(chromedp.CSS("#new_op"), "equals"))
	b.submit(`form[action="/sources/contoso/scope"]`, map[string]string{"#new_values": who.Username})
	if !strings.Contains(b.text(`form[action="/sources/contoso/scope"]`), "exclude users whose upn equals "+who.Username) {
		t.Fatalf("the saved rule is not listed: %s", b.text(`form[action="/sources/contoso/scope"]`))
	}
	b.submit(`form[action="/sources/contoso/sync"]`, nil)
	b.waitRunEnded()
	if u, _ := w.m().User(t.Context(), w.op, who.ID); u.State != directory.StateTrash {
		t.Fatalf("after the rule and a sync the user is %s", u.State)
	}
	b.open("/trash")
	b.audit("trash")
	if row := b.text("table.trash tbody tr"); !strings.Contains(row, who.Username) || !strings.Contains(row, "7") {
		t.Fatalf("the trash says %q", row)
	}
	// Restore is refused while the source leaves the user out, saying so.
	b.submit(`form[action="/trash/user/`+who.ID+`/restore"]`, nil)
	if msg := b.text(".error"); !strings.Contains(msg, "comes back when the source has it again") {
		t.Fatalf("restoring a user the rule leaves out says %q", msg)
	}
	if u, _ := w.m().User(t.Context(), w.op, who.ID); u.State != directory.StateTrash {
		t.Fatalf("a refused restore changed the user: %s", u.State)
	}
	// Taking the rule off and syncing brings the user back, with the
	// same id and local attributes.
	b.open("/sources/contoso")
	b.do(chromedp.Click(chromedp.CSS(`input[name="rule"][value="0"]`)))
	b.submit(`form[action="/sources/contoso/scope"]`, nil)
	b.submit(`form[action="/sources/contoso/sync"]`, nil)
	b.waitRunEnded()
	if u, _ := w.m().User(t.Context(), w.op, who.ID); u.State != directory.StateActive || len(u.Tags) != 2 {
		t.Fatalf("after the rule was taken off and a sync the user is %s, tags %v", u.State, u.Tags)
	}
	if !strings.Contains(b.text("table.changes"), "restored") {
		t.Fatalf("the run does not list the restore: %s", b.text("table.changes"))
	}

	// Trashed again by the rule, then purged after the confirmation.
	b.open("/sources/contoso")
	b.do(chromedp.SetValue(chromedp.CSS("#new_attribute"), "upn"), chromedp.SetValue(chromedp.CSS("#new_op"), "equals"))
	b.submit(`form[action="/sources/contoso/scope"]`, map[string]string{"#new_values": who.Username})
	b.submit(`form[action="/sources/contoso/sync"]`, nil)
	b.waitRunEnded()
	b.open("/trash")
	b.do(chromedp.Click(chromedp.CSS(`a[href="/trash/user/`+who.ID+`/purge"]`)), chromedp.WaitReady(chromedp.CSS(`input[name="confirm"]`)))
	b.audit("purge-confirm")
	b.do(chromedp.Click(chromedp.CSS(`input[name="confirm"]`)))
	b.submit(`form[action="/trash/user/`+who.ID+`/purge"]`, nil)
	if _, err := w.m().User(t.Context(), w.op, who.ID); manage.KindOf(err) != manage.NotFound {
		t.Fatalf("after Purge the user: %v", err)
	}
}

// Groups list and a group's direct and effective members.
func TestGroupsAndMembers(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	b := w.newTab("reader")
	b.signIn(readerEmail)
	b.open("/groups")
	b.audit("groups")
	b.do(chromedp.Click(chromedp.CSS("table.groups tbody a")), chromedp.WaitReady(chromedp.CSS("nav.tabs")))
	b.audit("group")
	groupPath := b.path()
	b.do(chromedp.Click(chromedp.CSS(`a[href^="/users?group="]`)), chromedp.WaitReady(chromedp.CSS(`#group`)))
	inGroup := b.count("table.users tbody tr")
	b.open(groupPath)
	direct := b.count("table.members tbody tr")
	b.open(groupPath + "?members=effective")
	eff := b.count("table.members tbody tr")
	if eff < direct || eff == 0 {
		t.Fatalf("a group with %d direct members shows %d effective ones", direct, eff)
	}
	users := 0
	for _, k := range eval[[]string](b, `[...document.querySelectorAll("table.members tbody tr td:last-child")].map(e => e.textContent)`) {
		if k == "user" {
			users++
		}
	}
	if inGroup != users {
		t.Fatalf("the group filter lists %d users, the group has %d effective user members", inGroup, users)
	}
}
