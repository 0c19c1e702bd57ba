package sqlstore

import (
	"os"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// TestBulkWritesByCopy: what a first sync writes in bulk reads back the
// same on both databases (PostgreSQL streams it with COPY): users created
// together are linked and found by their words; events appended together
// get increasing seqs and keep their change references.
func TestBulkWritesByCopy(t *testing.T) {
	opens := map[string]func(t *testing.T) *Store{"sqlite": func(t *testing.T) *Store { return newSQLite(t) }}
	if os.Getenv(postgresEnv) != "" {
		opens["postgres"] = func(t *testing.T) *Store { return newPostgres(t) }
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) { testBulkWritesByCopy(t, open(t)) })
	}
}

func testBulkWritesByCopy(t *testing.T, s *Store) {
	ctx := t.Context()
	acc := directory.Account{Name: "acme"}
	src := directory.Source{Name: "entra", Kind: directory.KindEntra, Enabled: true}
	users := []*directory.User{
		{UserAttributes: directory.UserAttributes{Username: "ada.lovelace@contoso.com", DisplayName: "Ada Lovelace"}},
		{UserAttributes: directory.UserAttributes{Username: "alan.turing@contoso.com", Email: "alan@contoso.com", DisplayName: "Alan Turing"}, Enabled: true},
	}
	events := []directory.Event{{Type: "user.created"}, {Type: "group.user_added", ChangeSeq: 7}, {Type: "user.created"}}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		src.AccountID = acc.ID
		if err := tx.CreateSource(ctx, &src); err != nil {
			return err
		}
		for _, u := range users {
			u.AccountID = acc.ID
		}
		if err := tx.CreateLinkedUsers(ctx, src.ID, users, []string{"ext-1", "ext-2"}); err != nil {
			return err
		}
		for i := range events {
			events[i].AccountID, events[i].Data, events[i].Time = acc.ID, []byte(`{}`), s.now()
		}
		return tx.AppendEvents(ctx, events)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, ext := range []string{"ext-1", "ext-2"} {
		u, err := s.UserByLink(ctx, src.ID, ext)
		if err != nil || u.ID != users[i].ID || u.Username != users[i].Username || u.Enabled != users[i].Enabled || u.State != directory.StateActive {
			t.Errorf("user linked to %s: %+v (%v), want %+v", ext, u, err, users[i])
		}
	}
	page, err := s.Users(ctx, acc.ID, store.UserQuery{Search: "turi"})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != users[1].ID {
		t.Errorf("search turi: %+v (%v)", page.Items, err)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Seq <= events[i-1].Seq {
			t.Errorf("event seqs %d then %d", events[i-1].Seq, events[i].Seq)
		}
	}
	var changeSeq int64
	if err := s.db.QueryRowContext(ctx, s.flavor.rebind(`SELECT change_seq FROM events WHERE seq = ?`), events[1].Seq).Scan(&changeSeq); err != nil || changeSeq != 7 {
		t.Errorf("the event's change reference: %d (%v)", changeSeq, err)
	}
}
