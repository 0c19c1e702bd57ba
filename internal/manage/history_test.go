package manage_test

import (
	"fmt"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
)

// TestUserHistory: a user's history lists what applied syncs changed about
// the user (created, joined a group, its department changed), newest
// first, paged; a preview changes nothing and adds nothing to it; a cursor
// of another listing and an unknown user are refused.
func TestUserHistory(t *testing.T) {
	w := newWorld(t, 3, 0)
	ctx := t.Context()
	w.addSource(w.owner, "s")
	tu := w.tenant.Users()[0]
	g, err := w.tenant.CreateGroup(entraemu.Group{DisplayName: "Staff", SecurityEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.tenant.AddMember(g.ID, tu.ID); err != nil {
		t.Fatal(err)
	}
	sync := func(dry bool) {
		t.Helper()
		if _, err := w.m.SyncNow(ctx, w.owner, "s", manage.SyncRequest{DryRun: dry, Full: true}); err != nil {
			t.Fatal(err)
		}
	}
	sync(false)
	w.tenant.UpdateUser(tu.ID, func(x *entraemu.User) { x.Department = "Research" })
	sync(true) // a preview: nothing applied
	_, all, err := w.m.UserHistory(ctx, w.owner, tu.UserPrincipalName, manage.UserHistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got := historyActions(all.Items); got != "member_added created" {
		t.Fatalf("after the first sync and a preview: %s", got)
	}
	sync(false)
	u, all, err := w.m.UserHistory(ctx, w.owner, tu.UserPrincipalName, manage.UserHistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got := historyActions(all.Items); got != "updated member_added created" {
		t.Fatalf("history: %s", got)
	}
	newest := all.Items[0]
	if newest.ObjectID != u.ID || newest.Source != "s" || newest.AppliedAt.IsZero() || !hasAttr(newest.Attributes, "department", "Research") {
		t.Errorf("newest change: %+v", newest)
	}
	if m := all.Items[1].Member; m == nil || m.ID != u.ID || all.Items[1].Name != "Staff" {
		t.Errorf("membership change: %+v", all.Items[1])
	}
	_, p1, err := w.m.UserHistory(ctx, w.owner, u.ID, manage.UserHistoryQuery{Limit: 2})
	if err != nil || p1.Next == "" {
		t.Fatalf("first page of 2: next %q %v", p1.Next, err)
	}
	_, p2, err := w.m.UserHistory(ctx, w.owner, u.ID, manage.UserHistoryQuery{Limit: 2, After: p1.Next})
	if err != nil || historyActions(p1.Items)+" "+historyActions(p2.Items) != "updated member_added created" || p2.Next != "" {
		t.Errorf("paged: %s | %s next %q %v", historyActions(p1.Items), historyActions(p2.Items), p2.Next, err)
	}
	runs, err := w.m.Runs(ctx, w.owner, manage.RunQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = w.m.UserHistory(ctx, w.owner, u.ID, manage.UserHistoryQuery{After: runs.Next})
	wantKind(t, err, manage.Invalid, "a cursor of the runs listing")
	_, _, err = w.m.UserHistory(ctx, w.owner, "nobody@nowhere.example", manage.UserHistoryQuery{})
	wantKind(t, err, manage.NotFound, "an unknown user")
}

func historyActions(cs []manage.UserChange) string {
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += " "
		}
		s += string(c.Action)
	}
	return s
}

func hasAttr(as []directory.AttrChange, name, after string) bool {
	for _, a := range as {
		if a.Attribute == name && fmt.Sprint(a.After) == after {
			return true
		}
	}
	return false
}
