package sqlstore

import (
	"encoding/json"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// TestChangeUserBackfill: changes written before migration 00017 (without
// user_id, as the previous release still writes them) are found in their
// user's history once the migration has run.
func TestChangeUserBackfill(t *testing.T) {
	opens := map[string]func(t *testing.T) *Store{"sqlite": func(t *testing.T) *Store { return newSQLite(t) }}
	if os.Getenv(postgresEnv) != "" {
		opens["postgres"] = func(t *testing.T) *Store { return newPostgres(t) }
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) { testChangeUserBackfill(t, open(t)) })
	}
}

func testChangeUserBackfill(t *testing.T, s *Store) {
	ctx := t.Context()
	fsys, err := fs.Sub(migrations, "migrations/"+s.flavor.name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(s.flavor.dialect, s.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 16); err != nil {
		t.Fatal(err)
	}
	acc := directory.Account{Name: "acme"}
	src := directory.Source{Name: "entra", Kind: directory.KindEntra, Enabled: true}
	run := directory.Run{Kind: directory.RunFull, Outcome: directory.OutcomeSucceeded, StartedAt: time.Unix(100, 0), FinishedAt: time.Unix(200, 0)}
	err = s.Update(ctx, func(tx store.Tx) error {
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
	ann := directory.Member{Kind: directory.MemberUser, ID: "ann-id", Name: "ann"}
	for i, c := range []directory.Change{
		{ObjectKind: directory.MemberUser, ObjectID: ann.ID, Name: "ann", Action: directory.ActionCreated},
		{ObjectKind: directory.MemberGroup, ObjectID: "g", Name: "Staff", Action: directory.ActionMemberAdded, Member: &ann},
		{ObjectKind: directory.MemberGroup, ObjectID: "g", Name: "Staff", Action: directory.ActionCreated},
		{ObjectKind: directory.MemberUser, ObjectID: "bob-id", Name: "bob", Action: directory.ActionCreated},
	} {
		c.RunID, c.Seq = run.ID, i+1
		data, _ := json.Marshal(c)
		if _, err := s.db.ExecContext(ctx, s.flavor.rebind(`INSERT INTO changes (run_id, seq, data) VALUES (?, ?, ?)`), run.ID, i+1, string(data)); err != nil {
			t.Fatalf("the previous release's insert: %v", err)
		}
	}
	if _, err := p.UpTo(ctx, 17); err != nil {
		t.Fatal(err)
	}
	page, err := s.UserChanges(ctx, acc.ID, ann.ID, store.UserChangeQuery{})
	if err != nil || len(page.Items) != 2 || page.Items[0].Action != directory.ActionMemberAdded || page.Items[1].Action != directory.ActionCreated {
		t.Fatalf("ann's history after the migration: %+v (%v)", page.Items, err)
	}
	if page, _ := s.UserChanges(ctx, acc.ID, "bob-id", store.UserChangeQuery{}); len(page.Items) != 1 {
		t.Fatalf("bob's history after the migration: %+v", page.Items)
	}
}
