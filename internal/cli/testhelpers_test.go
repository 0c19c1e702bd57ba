package cli

import (
	"context"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

func (a *app) currentAccountForTest(t *testing.T) (store.Store, directory.Account, error) {
	return a.currentAccount(t.Context())
}

func createLocalUser(ctx context.Context, st store.Store, accountID, username, email string) error {
	u := directory.User{AccountID: accountID, Enabled: true, State: directory.StateActive, Tags: []string{},
		UserAttributes: directory.UserAttributes{Username: username, Email: email}}
	return st.Update(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &u) })
}
