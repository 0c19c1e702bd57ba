package engine_test

import (
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/store"
)

// TestUsersOfOnePageMeetEachOther: users created together from one page
// still meet each other and the directory as one by one: a username or an
// email another user of the page (in any case) or a local user holds is a
// conflict naming the holder, or a match, and the rest are created.
func TestUsersOfOnePageMeetEachOther(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		local := directory.User{AccountID: f.acc.ID, Enabled: true, State: directory.StateActive,
			UserAttributes: directory.UserAttributes{Username: "local@acme.example", Email: "local@acme.example"}}
		if err := f.st.Update(f.ctx, func(tx store.Tx) error { return tx.CreateUser(f.ctx, &local) }); err != nil {
			t.Fatal(err)
		}
		src := &source{users: []directory.SourceUser{
			user("u-a", "same@acme.example", true),
			user("u-b", "SAME@acme.example", true), // the username u-a took
			user("u-c", "c@acme.example", true),
			user("u-d", "LOCAL@acme.example", true), // the local user's: matched
			user("u-e", "e@acme.example", true),
		}}
		src.users[1].Email = "b@acme.example"
		src.users[2].Email = "Same@acme.example" // u-a's email
		run := f.sync(src, engine.Options{})
		if run.Counts.Created != 2 || run.Counts.Conflicts != 2 {
			t.Fatalf("counts %+v, want 2 created (u-a, u-e) and 2 conflicts (u-b, u-c)", run.Counts)
		}
		a := f.userByName("same@acme.example")
		conflicts := map[string]string{}
		for _, c := range f.changes(run) {
			if c.Action == directory.ActionConflict {
				conflicts[c.ExternalID] = c.Detail
			}
		}
		for _, ext := range []string{"u-b", "u-c"} {
			if !strings.Contains(conflicts[ext], a.ID) {
				t.Errorf("%s: conflict %q does not name u-a's user %s", ext, conflicts[ext], a.ID)
			}
		}
		if m := f.userByName("local@acme.example"); m.ID != local.ID || len(m.Sources) != 1 || m.Sources[0].ExternalID != "u-d" {
			t.Errorf("the local user was not matched: %+v", m)
		}
	})
}
