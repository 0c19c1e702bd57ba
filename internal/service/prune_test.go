package service

import (
	"log/slog"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// TestPrunePurgesTheTrashAfterItsRetention: what went to the trash more than
// the retention ago is purged; what went later stays restorable.
func TestPrunePurgesTheTrashAfterItsRetention(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	acc := directory.Account{Name: "acme"}
	var old, recent directory.User
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		for i, u := range []*directory.User{&old, &recent} {
			*u = directory.User{AccountID: acc.ID, UserAttributes: directory.UserAttributes{Username: []string{"old", "recent"}[i]}}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			u.State = directory.StateTrash
			u.TrashedAt = now.Add(-[]time.Duration{8 * 24 * time.Hour, 24 * time.Hour}[i])
			if err := tx.UpdateUser(ctx, *u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, nil, Config{Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	svc.prune(ctx, now)
	if _, err := st.User(ctx, acc.ID, old.ID); err == nil {
		t.Fatal("a user trashed 8 days ago was not purged")
	}
	if u, err := st.User(ctx, acc.ID, recent.ID); err != nil || u.State != directory.StateTrash {
		t.Fatalf("a user trashed yesterday: %+v %v", u, err)
	}
}
