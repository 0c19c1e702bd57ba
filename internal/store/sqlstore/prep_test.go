package sqlstore

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// TestPreparedUsersCheckedAgainAtApply prepares five users in two batches,
// two of them (one in each) sharing an email; then, before the apply, the
// directory changes under two others (a local user takes one's username;
// another's source object gets linked). The apply creates only the
// one still free, with its link, change and event; the others are read
// back by StagedUsers for the users step, and a failed apply leaves no
// user behind.
func TestPreparedUsersCheckedAgainAtApply(t *testing.T) {
	s := newSQLite(t)
	ctx := t.Context()
	acc := directory.Account{Name: "acme"}
	src := directory.Source{Name: "entra", Kind: directory.KindEntra, Enabled: true, Config: []byte(`{}`)}
	run := directory.Run{Kind: directory.RunFull, Trigger: "test", Outcome: directory.OutcomeRunning}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		src.AccountID, run.AccountID = acc.ID, acc.ID
		if err := tx.CreateSource(ctx, &src); err != nil {
			return err
		}
		run.SourceID = src.ID
		return tx.CreateRun(ctx, &run)
	})
	if err != nil {
		t.Fatal(err)
	}
	user := func(ext, name, email string) (directory.SourceUser, store.PreparedUser) {
		attrs := directory.UserAttributes{Username: name, Email: email}
		nu := directory.User{AccountID: acc.ID, UserAttributes: attrs, Enabled: true, State: directory.StateActive,
			Sources: []directory.SourceLink{{SourceID: src.ID, Source: src.Name, ExternalID: ext}}}
		return directory.SourceUser{ExternalID: ext, UserAttributes: attrs, Enabled: true},
			store.PreparedUser{User: nu, ExternalID: ext, Change: directory.Change{ObjectKind: directory.MemberUser, ExternalID: ext,
				Name: name, Action: directory.ActionCreated, Attributes: directory.DiffUsers(directory.UserAttributes{}, attrs)}}
	}
	// Two batches, each staged then prepared, as the run reads them: the
	// two users sharing an email are each free within their batch.
	for _, batch := range [][][3]string{{{"e1", "free@x.com", ""}, {"e2", "taken@x.com", ""}, {"e3", "linked@x.com", ""},
		{"e4", "one@x.com", "same@x.com"}}, {{"e5", "two@x.com", "same@x.com"}}} {
		var staged []directory.SourceUser
		b := store.PrepareBatch{RunID: run.ID, AccountID: acc.ID, SourceID: src.ID}
		for _, u := range batch {
			su, pu := user(u[0], u[1], u[2])
			staged, b.Staged, b.Users = append(staged, su), append(b.Staged, su.ExternalID), append(b.Users, pu)
		}
		if err := s.StageUsers(ctx, run.ID, staged); err != nil {
			t.Fatal(err)
		}
		if err := s.PrepareUsers(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// The directory changes while the run still reads.
	err = s.Update(ctx, func(tx store.Tx) error {
		local := directory.User{AccountID: acc.ID, Enabled: true, UserAttributes: directory.UserAttributes{Username: "taken@x.com"}}
		other := directory.User{AccountID: acc.ID, Enabled: true, UserAttributes: directory.UserAttributes{Username: "earlier@x.com"}}
		for _, err := range []error{tx.CreateUser(ctx, &local), tx.CreateUser(ctx, &other)} {
			if err != nil {
				return err
			}
		}
		return tx.Link(ctx, directory.MemberUser, other.ID, directory.SourceLink{SourceID: src.ID, ExternalID: "e3"})
	})
	if err != nil {
		t.Fatal(err)
	}
	log := store.MemberLog{RunID: run.ID, AccountID: acc.ID, SourceName: src.Name, Time: time.Now()}
	// An apply that fails after creating them leaves nothing.
	failed := errorString("later step failed")
	err = s.Update(ctx, func(tx store.Tx) error {
		if n, err := tx.ApplyPreparedUsers(ctx, src.ID, log); err != nil || n != 1 {
			t.Errorf("first apply: created %d (%v), want 1", n, err)
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("failed apply: %v", err)
	}
	if _, err := s.UserByUsername(ctx, acc.ID, "free@x.com"); err == nil {
		t.Fatal("a rolled back apply left its prepared user in the directory")
	}
	var left []string
	err = s.Update(ctx, func(tx store.Tx) error {
		n, err := tx.ApplyPreparedUsers(ctx, src.ID, log)
		if err != nil || n != 1 {
			t.Errorf("apply: created %d (%v), want 1", n, err)
		}
		rest, err := tx.StagedUsers(ctx, run.ID, "", 0)
		for _, u := range rest {
			left = append(left, u.ExternalID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"e2", "e3", "e4", "e5"}; !equalStrings(left, want) {
		t.Fatalf("StagedUsers after the apply: %v, want %v", left, want)
	}
	u, err := s.UserByLink(ctx, src.ID, "e1")
	if err != nil || u.Username != "free@x.com" || !u.Enabled || u.State != directory.StateActive {
		t.Fatalf("created user %+v (%v)", u, err)
	}
	// Its search words came with it (prep_words), and only its.
	if found, err := s.Users(ctx, acc.ID, store.UserQuery{Search: "free x"}); err != nil || len(found.Items) != 1 || found.Items[0].ID != u.ID {
		t.Fatalf("search for the created user: %+v (%v)", found.Items, err)
	}
	var words int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_words w WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = w.user_id)`).Scan(&words); err != nil || words != 0 {
		t.Fatalf("%d words of no user (%v)", words, err)
	}
	cs, err := s.Changes(ctx, run.ID, 0, 0)
	if err != nil || len(cs) != 1 || cs[0].Seq != 1 || cs[0].ObjectID != u.ID || cs[0].RunID != run.ID || cs[0].Action != directory.ActionCreated {
		t.Fatalf("changes %+v (%v)", cs, err)
	}
	var object directory.User
	if err := json.Unmarshal(cs[0].Object, &object); err != nil || object.ID != u.ID || object.Username != u.Username ||
		!object.CreatedAt.Equal(u.CreatedAt) || !object.UpdatedAt.Equal(u.UpdatedAt) || len(object.Sources) != 1 ||
		object.Sources[0].ExternalID != "e1" || object.Sources[0].Source != "entra" || len(cs[0].Attributes) == 0 {
		t.Fatalf("the change's object %s, attributes %v (%v); the user %+v", cs[0].Object, cs[0].Attributes, err, u)
	}
	evs, err := s.Events(ctx, acc.ID, 0, 0)
	if err != nil || len(evs) != 1 || evs[0].Type != directory.EventUserCreated {
		t.Fatalf("events %+v (%v)", evs, err)
	}
	var body struct {
		ObjectID string `json:"object_id"`
		Source   string `json:"source"`
	}
	if err := json.Unmarshal(evs[0].Data, &body); err != nil || body.ObjectID != u.ID || body.Source != "entra" {
		t.Fatalf("event body %s (%v)", evs[0].Data, err)
	}
	if err := s.DropStage(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.StagedCount(ctx, ""); err != nil || n != 0 {
		t.Fatalf("after DropStage, %d rows staged or prepared (%v)", n, err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
