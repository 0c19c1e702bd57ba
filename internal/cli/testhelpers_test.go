package cli

import (
	"context"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/store"
)

// storeOf opens the database a test's commands work on, to set up what no
// command does (a local user) and to read what was stored. The caller
// closes it.
func storeOf(t *testing.T, db string) (store.Store, directory.Account) {
	t.Helper()
	p, err := factory.Open(t.Context(), factory.Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := p.Store.Account(t.Context(), "default")
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	return p.Store, acc
}

func createLocalUser(ctx context.Context, st store.Store, accountID, username, email string) error {
	u := directory.User{AccountID: accountID, Enabled: true, State: directory.StateActive, Tags: []string{},
		UserAttributes: directory.UserAttributes{Username: username, Email: email}}
	return st.Update(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &u) })
}
