package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// testConsole checks what the admin console keeps: users unique by email
// across accounts, sessions and their revocation, one-time links, failed
// sign-ins, account settings, and pruning.
func testConsole(t *testing.T, s store.Store) {
	a, alice, bob := consoleUsers(t, s)
	consoleSessions(t, s, a.ID, alice)
	consoleLinksAndAttempts(t, s, a.ID, alice)
	consoleSettings(t, s, a.ID)
	consolePruning(t, s, a.ID, bob)
}

// consoleUsers: unique by email in the deployment, found by email, listed
// per account, updated.
func consoleUsers(t *testing.T, s store.Store) (directory.Account, store.ConsoleUser, store.ConsoleUser) {
	ctx := t.Context()
	a, b := mkAccount(t, s, "acme"), mkAccount(t, s, "globex")
	alice := store.ConsoleUser{AccountID: a.ID, Email: "Alice@Example.com", Role: "owner", PasswordHash: "$argon2id$x", PasswordChangedAt: tm(1, 0)}
	update(t, s, func(tx store.Tx) error { return tx.CreateConsoleUser(ctx, &alice) })
	if alice.ID == "" || alice.CreatedAt.IsZero() {
		t.Fatalf("CreateConsoleUser did not set ID and CreatedAt: %+v", alice)
	}
	// The email is unique in the deployment, whatever its case.
	dup := store.ConsoleUser{AccountID: b.ID, Email: "alice@example.COM", Role: "read_only"}
	wantErr(t, s.Update(ctx, func(tx store.Tx) error { return tx.CreateConsoleUser(ctx, &dup) }), store.ErrAlreadyExists, "same email in another account")
	bob := store.ConsoleUser{AccountID: a.ID, Email: "bob@example.com", Role: "read_only"}
	update(t, s, func(tx store.Tx) error { return tx.CreateConsoleUser(ctx, &bob) })

	got := must[store.ConsoleUser](t)(s.ConsoleUserByEmail(ctx, "ALICE@example.com"))
	if got.ID != alice.ID || got.PasswordHash != "$argon2id$x" || !got.PasswordChangedAt.Equal(tm(1, 0)) {
		t.Errorf("ConsoleUserByEmail = %+v", got)
	}
	_, err := s.ConsoleUser(ctx, b.ID, alice.ID)
	wantErr(t, err, store.ErrNotFound, "another account's console user")
	users := must[[]store.ConsoleUser](t)(s.ConsoleUsers(ctx, a.ID))
	if len(users) != 2 || users[0].Email != "Alice@Example.com" || users[1].Email != "bob@example.com" {
		t.Errorf("ConsoleUsers = %+v", users)
	}
	bob.Role, bob.PasswordHash, bob.LastSignInAt = "administrator", "$argon2id$y", tm(2, 0)
	update(t, s, func(tx store.Tx) error { return tx.UpdateConsoleUser(ctx, bob) })
	if got := must[store.ConsoleUser](t)(s.ConsoleUser(ctx, a.ID, bob.ID)); got.Role != "administrator" || got.PasswordHash != "$argon2id$y" || !got.LastSignInAt.Equal(tm(2, 0)) {
		t.Errorf("after UpdateConsoleUser: %+v", got)
	}

	return a, alice, bob
}

func consoleSessions(t *testing.T, s store.Store, accountID string, alice store.ConsoleUser) {
	ctx, a := t.Context(), directory.Account{ID: accountID}
	// Sessions: found by hash, revoked one or all, listed newest first.
	s1 := store.ConsoleSession{Hash: "h1", UserID: alice.ID, AccountID: a.ID, Client: "Firefox", CreatedAt: tm(3, 0), LastSeenAt: tm(3, 0), ExpiresAt: tm(3, 0).Add(time.Hour)}
	s2 := store.ConsoleSession{Hash: "h2", UserID: alice.ID, AccountID: a.ID, CreatedAt: tm(4, 0), LastSeenAt: tm(4, 0), ExpiresAt: tm(4, 0).Add(time.Hour)}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateConsoleSession(ctx, &s1); err != nil {
			return err
		}
		return tx.CreateConsoleSession(ctx, &s2)
	})
	update(t, s, func(tx store.Tx) error { return tx.TouchConsoleSession(ctx, s1.ID, tm(5, 0)) })
	if got := must[store.ConsoleSession](t)(s.ConsoleSessionByHash(ctx, "h1")); got.ID != s1.ID || !got.LastSeenAt.Equal(tm(5, 0)) || got.Client != "Firefox" || !got.RevokedAt.IsZero() {
		t.Errorf("ConsoleSessionByHash = %+v", got)
	}
	update(t, s, func(tx store.Tx) error { return tx.RevokeConsoleSessions(ctx, alice.ID, s1.ID, tm(6, 0)) })
	if got := must[store.ConsoleSession](t)(s.ConsoleSessionByHash(ctx, "h2")); !got.RevokedAt.IsZero() {
		t.Errorf("revoking one session revoked another: %+v", got)
	}
	update(t, s, func(tx store.Tx) error { return tx.RevokeConsoleSessions(ctx, alice.ID, "", tm(7, 0)) })
	ss := must[[]store.ConsoleSession](t)(s.ConsoleSessions(ctx, alice.ID))
	if len(ss) != 2 || ss[0].ID != s2.ID || !ss[0].RevokedAt.Equal(tm(7, 0)) || !ss[1].RevokedAt.Equal(tm(6, 0)) {
		t.Errorf("ConsoleSessions after revoking all = %+v", ss)
	}
}

func consoleLinksAndAttempts(t *testing.T, s store.Store, accountID string, alice store.ConsoleUser) {
	ctx, a := t.Context(), directory.Account{ID: accountID}
	// Links are used once.
	l := store.SignInLink{Hash: "lh", AccountID: a.ID, UserID: alice.ID, CreatedAt: tm(8, 0), ExpiresAt: tm(8, 0).Add(time.Hour)}
	update(t, s, func(tx store.Tx) error { return tx.CreateSignInLink(ctx, l) })
	var first, second bool
	update(t, s, func(tx store.Tx) error { var err error; first, err = tx.UseSignInLink(ctx, "lh", tm(9, 0)); return err })
	update(t, s, func(tx store.Tx) error {
		var err error
		second, err = tx.UseSignInLink(ctx, "lh", tm(10, 0))
		return err
	})
	if !first || second {
		t.Errorf("UseSignInLink twice = %v, %v; want true, false", first, second)
	}
	if got := must[store.SignInLink](t)(s.SignInLink(ctx, "lh")); !got.UsedAt.Equal(tm(9, 0)) || got.UserID != alice.ID {
		t.Errorf("SignInLink = %+v", got)
	}

	// Attempts are set and replaced.
	_, err := s.SignInAttempts(ctx, "nobody@example.com")
	wantErr(t, err, store.ErrNotFound, "attempts of an address that never failed")
	update(t, s, func(tx store.Tx) error {
		return tx.SetSignInAttempts(ctx, store.SignInAttempts{EmailKey: "x@example.com", Failures: 1, WindowStart: tm(11, 0)})
	})
	update(t, s, func(tx store.Tx) error {
		return tx.SetSignInAttempts(ctx, store.SignInAttempts{EmailKey: "x@example.com", Failures: 5, WindowStart: tm(11, 0), LockedUntil: tm(12, 0)})
	})
	if got := must[store.SignInAttempts](t)(s.SignInAttempts(ctx, "x@example.com")); got.Failures != 5 || !got.LockedUntil.Equal(tm(12, 0)) {
		t.Errorf("SignInAttempts = %+v", got)
	}
}

func consoleSettings(t *testing.T, s store.Store, accountID string) {
	ctx, a := t.Context(), directory.Account{ID: accountID}
	// Account settings.
	_, err := s.AccountSettings(ctx, a.ID)
	wantErr(t, err, store.ErrNotFound, "settings never saved")
	update(t, s, func(tx store.Tx) error {
		return tx.SetAccountSettings(ctx, a.ID, json.RawMessage(`{"time_zone":"Europe/Paris"}`))
	})
	update(t, s, func(tx store.Tx) error {
		return tx.SetAccountSettings(ctx, a.ID, json.RawMessage(`{"time_zone":"UTC"}`))
	})
	if got := must[json.RawMessage](t)(s.AccountSettings(ctx, a.ID)); string(got) != `{"time_zone":"UTC"}` {
		t.Errorf("AccountSettings = %s", got)
	}
}

func consolePruning(t *testing.T, s store.Store, accountID string, bob store.ConsoleUser) {
	ctx, a := t.Context(), directory.Account{ID: accountID}
	// Pruning removes what ended, and deleting a user its sessions and links.
	n := 0
	update(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.PruneConsole(ctx, tm(8, 0).Add(2*time.Hour))
		return err
	})
	if n != 4 { // two sessions, one link, one attempts record
		t.Errorf("PruneConsole removed %d rows, want 4", n)
	}
	s3 := store.ConsoleSession{Hash: "h3", UserID: bob.ID, AccountID: a.ID, CreatedAt: tm(13, 0), LastSeenAt: tm(13, 0), ExpiresAt: tm(13, 0).Add(time.Hour)}
	update(t, s, func(tx store.Tx) error { return tx.CreateConsoleSession(ctx, &s3) })
	update(t, s, func(tx store.Tx) error { return tx.DeleteConsoleUser(ctx, a.ID, bob.ID) })
	_, err := s.ConsoleSessionByHash(ctx, "h3")
	wantErr(t, err, store.ErrNotFound, "session of a deleted user")
	wantErr(t, s.Update(ctx, func(tx store.Tx) error { return tx.DeleteConsoleUser(ctx, a.ID, bob.ID) }), store.ErrNotFound, "deleting twice")
}
