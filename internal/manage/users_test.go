package manage_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/store"
)

// localUser writes a user no source manages, as an application would.
func (w *world) localUser(username, email string, state directory.State) directory.User {
	w.t.Helper()
	ctx := w.t.Context()
	u := directory.User{AccountID: w.owner.AccountID, Enabled: true, State: directory.StateActive,
		UserAttributes: directory.UserAttributes{Username: username, Email: email}}
	err := w.parts.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		if state == directory.StateTrash {
			u.State, u.TrashedAt = state, w.clock.Now()
			return tx.UpdateUser(ctx, u)
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

// TestEditUserIsOneRuleForEveryFrontEnd: tags normalized, local attributes
// editable, synced ones refused naming the source, nothing to change
// refused (issue 9: the CLI and the API used to differ).
func TestEditUserIsOneRuleForEveryFrontEnd(t *testing.T) {
	w := newWorld(t, 5, 1)
	ctx := t.Context()
	w.addSource(w.owner, "s")
	if _, err := w.m.SyncNow(ctx, w.owner, "s", manage.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	synced := w.tenant.Users()[0].UserPrincipalName
	u, err := w.m.EditUser(ctx, w.owner, synced, manage.UserEdit{AddTags: []string{" vip", "emea", "vip "}})
	if err != nil || !slices.Equal(u.Tags, []string{"emea", "vip"}) {
		t.Fatalf("tags %q %v", u.Tags, err)
	}
	u, _ = w.m.EditUser(ctx, w.owner, synced, manage.UserEdit{AddTags: []string{"vip"}, RemoveTags: []string{"emea"}})
	if !slices.Equal(u.Tags, []string{"vip"}) {
		t.Fatalf("tag vip twice, emea removed: %q", u.Tags)
	}
	for _, c := range []struct {
		edit  manage.UserEdit
		kind  manage.Kind
		field string
		words string
	}{
		{manage.UserEdit{}, manage.Invalid, "", "nothing to change"},
		{manage.UserEdit{AddTags: []string{"  "}}, manage.Invalid, "tags", "empty"},
		{manage.UserEdit{AddTags: []string{"a,b"}}, manage.Invalid, "tags", "comma"},
		{manage.UserEdit{Email: ptr("x@y.example")}, manage.Conflict, "email", "managed by source s"},
		{manage.UserEdit{Enabled: ptr(false)}, manage.Conflict, "enabled", "managed by source s"},
		{manage.UserEdit{Other: []string{"department"}}, manage.Conflict, "department", "managed by source s"},
		{manage.UserEdit{Other: []string{"id"}}, manage.Conflict, "id", "cannot be changed"},
		{manage.UserEdit{Other: []string{"shoe_size"}}, manage.Invalid, "shoe_size", "unknown field"},
	} {
		_, err := w.m.EditUser(ctx, w.owner, synced, c.edit)
		e := wantKind(t, err, c.kind, c.words)
		if e.Field != c.field || !strings.Contains(e.Message, c.words) {
			t.Errorf("%+v: field %q message %q", c.edit, e.Field, e.Message)
		}
	}
	if got, _ := w.m.User(ctx, w.owner, synced); !slices.Equal(got.Tags, []string{"vip"}) || !got.Enabled {
		t.Fatalf("a refused edit changed the user: %+v", got)
	}
	// A local user's own attributes are editable.
	w.localUser("local@x.example", "local@x.example", directory.StateActive)
	u, err = w.m.EditUser(ctx, w.owner, "local@x.example", manage.UserEdit{DisplayName: ptr("Lo Cal"), Enabled: ptr(false), Notes: ptr("met at the fair")})
	if err != nil || u.DisplayName != "Lo Cal" || u.State != directory.StateDisabled || u.Notes != "met at the fair" {
		t.Fatalf("local edit: %+v %v", u, err)
	}
	_, err = w.m.EditUser(ctx, w.owner, "local@x.example", manage.UserEdit{Email: ptr("not an address")})
	wantKind(t, err, manage.Invalid, "a bad email")
	if fields := manage.EditableFields(u); !slices.Contains(fields, "email") {
		t.Fatalf("a local user's editable fields: %v", fields)
	}
	_, err = w.m.EditUser(ctx, w.owner, "nobody", manage.UserEdit{Notes: ptr("x")})
	wantKind(t, err, manage.NotFound, "a user that does not exist")
}

func ptr[T any](v T) *T { return &v }

// TestTrashByNameRestoreAndPurge: restore and purge name an object by id,
// username, email or group name; what a source still manages cannot be
// restored (issue 9, points 11 and 14).
func TestTrashByNameRestoreAndPurge(t *testing.T) {
	w := newWorld(t, 8, 1)
	ctx := t.Context()
	w.addSource(w.owner, "s")
	w.m.SyncNow(ctx, w.owner, "s", manage.SyncRequest{})
	gone := w.tenant.Users()[2]
	w.tenant.DeleteUser(gone.ID)
	if _, err := w.m.SyncNow(ctx, w.owner, "s", manage.SyncRequest{Full: true}); err != nil {
		t.Fatal(err)
	}
	_, err := w.m.Restore(ctx, w.owner, manage.TrashRef{Key: gone.UserPrincipalName})
	if e := wantKind(t, err, manage.Conflict, "restore of a user the source says is gone"); e.Code != manage.CodeSyncedAttribute {
		t.Fatalf("%+v", e)
	}
	w.localUser("ann", "ann@x.example", directory.StateTrash)
	w.localUser("bob", "bob@x.example", directory.StateActive)
	if o, err := w.m.Restore(ctx, w.owner, manage.TrashRef{Key: "ann@x.example"}); err != nil || o.User == nil || o.User.State != directory.StateActive {
		t.Fatalf("restore by email: %+v %v", o, err)
	}
	_, err = w.m.Restore(ctx, w.owner, manage.TrashRef{Key: "bob"})
	if e := wantKind(t, err, manage.Conflict, "restore of a live user"); e.Code != manage.CodeNotInTrash {
		t.Fatalf("%+v", e)
	}
	_, err = w.m.Purge(ctx, w.owner, manage.TrashRef{Key: "bob"})
	wantKind(t, err, manage.Conflict, "purge of a live user")
	_, err = w.m.Restore(ctx, w.owner, manage.TrashRef{Key: "nobody"})
	wantKind(t, err, manage.NotFound, "restore of nobody")
	if o, err := w.m.Purge(ctx, w.owner, manage.TrashRef{Key: gone.UserPrincipalName}); err != nil || o.User == nil {
		t.Fatalf("purge by username: %+v %v", o, err)
	}
	if _, err := w.m.User(ctx, w.owner, gone.UserPrincipalName); manage.KindOf(err) != manage.NotFound {
		t.Fatalf("purged user: %v", err)
	}
	// Purge by age: what went to the trash more than the retention ago.
	w.localUser("old", "old@x.example", directory.StateTrash)
	w.clock.Advance(8 * 24 * time.Hour)
	w.localUser("new", "new@x.example", directory.StateTrash)
	if n, err := w.m.PurgeExpired(ctx, w.owner, nil); err != nil || n != 1 {
		t.Fatalf("purge expired: %d %v", n, err)
	}
	zero := time.Duration(0)
	w.clock.Advance(time.Second)
	if n, _ := w.m.PurgeExpired(ctx, w.owner, &zero); n != 1 {
		t.Fatalf("purge older than 0: %d", n)
	}
	if d, err := manage.ParseAge("3d"); err != nil || d != 72*time.Hour {
		t.Fatalf("3d: %v %v", d, err)
	}
	if _, err := manage.ParseAge("3 days"); manage.KindOf(err) != manage.Invalid {
		t.Fatalf("3 days: %v", err)
	}
}

// TestPrunePurgesTheTrashAfterItsRetention: what went to the trash more
// than the retention ago is purged; what went later stays restorable.
func TestPrunePurgesTheTrashAfterItsRetention(t *testing.T) {
	w := newWorld(t, 1, 1)
	ctx := t.Context()
	old := w.localUser("old", "", directory.StateTrash)
	w.clock.Advance(7 * 24 * time.Hour)
	recent := w.localUser("recent", "", directory.StateTrash)
	w.clock.Advance(24 * time.Hour)
	p, err := w.m.Prune(ctx)
	if err != nil || p.Trash != 1 {
		t.Fatalf("pruned %+v %v", p, err)
	}
	if _, err := w.m.User(ctx, w.owner, old.ID); manage.KindOf(err) != manage.NotFound {
		t.Fatal("a user trashed 8 days ago was not purged")
	}
	if u, err := w.m.User(ctx, w.owner, recent.ID); err != nil || u.State != directory.StateTrash {
		t.Fatalf("a user trashed yesterday: %+v %v", u, err)
	}
}

// TestBlankSearchIsNoSearch: a search of spaces lists everyone (a form's
// empty box, the API's ?search=%20 found nobody); one of symbols alone is
// refused, naming the search.
func TestBlankSearchIsNoSearch(t *testing.T) {
	w := newWorld(t, 0, 0)
	w.localUser("ada@example.com", "ada@example.com", directory.StateActive)
	w.localUser("bob@example.com", "bob@example.com", directory.StateActive)
	page, err := w.m.Users(t.Context(), w.owner, manage.UserQuery{Search: "  "})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("a blank search: %d users, %v", len(page.Items), err)
	}
	if page, err = w.m.Users(t.Context(), w.owner, manage.UserQuery{Search: " ada "}); err != nil || len(page.Items) != 1 {
		t.Fatalf("search ' ada ': %d users, %v", len(page.Items), err)
	}
	_, err = w.m.Users(t.Context(), w.owner, manage.UserQuery{Search: "-*"})
	if e := wantKind(t, err, manage.Invalid, "a search of symbols"); e.Field != "search" || !strings.Contains(e.Message, `"-*"`) {
		t.Fatalf("a search of symbols: %+v", e)
	}
}
