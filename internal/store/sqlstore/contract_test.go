package sqlstore

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
)

// The statements of the last release that kept who is notified in
// mail_settings.notifications, which the contract 00020 drops.
const (
	prevReadMailSettings  = `SELECT enrollment, notifications FROM mail_settings WHERE account_id = ?`
	prevWriteMailSettings = `INSERT INTO mail_settings (account_id, enrollment, notifications) VALUES (?, ?, ?)`
)

// TestContractRunsWhenAsked: on PostgreSQL, replicas starting apply the
// expand migrations only, so a replica of the release that still used
// mail_settings.notifications keeps working beside new ones; the contract
// that drops the column runs when Contract asks, once; after it the new
// release works on, a replica starting opens the database, and the earlier
// release's statements would fail (why the contract waits).
func TestContractRunsWhenAsked(t *testing.T) {
	if os.Getenv(postgresEnv) == "" {
		t.Skipf("%s is not set", postgresEnv)
	}
	ctx := t.Context()
	dsn := sqltest.PostgresDSN(t)
	open := func() *Store {
		s, err := OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open()
	acc := directory.Account{Name: "acme"}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateAccount(ctx, &acc) }); err != nil {
		t.Fatal(err)
	}
	const contract = "00020_mail_notifications_contract.sql"
	if pending, err := s.PendingContracts(ctx); err != nil || !slices.Equal(pending, []string{contract}) {
		t.Fatalf("pending contracts %v (%v), want %s", pending, err, contract)
	}

	// Expanded only: the earlier release writes and reads as it did, and
	// the new release reads what it wrote.
	prev := func(q string, args ...any) error {
		rows, err := s.db.QueryContext(ctx, s.flavor.rebind(q), args...)
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}
	if err := prev(prevWriteMailSettings, acc.ID, `{"subject":"Welcome"}`, `{"roles":["owner"]}`); err != nil {
		t.Fatalf("the earlier release cannot write its mail settings: %v", err)
	}
	if err := prev(prevReadMailSettings, acc.ID); err != nil {
		t.Fatalf("the earlier release cannot read its mail settings: %v", err)
	}
	if ms, err := s.MailSettings(ctx, acc.ID); err != nil || string(ms.Enrollment) != `{"subject":"Welcome"}` {
		t.Fatalf("the new release reads %+v (%v)", ms, err)
	}
	// Another replica starting leaves the contract pending.
	if pending, err := open().PendingContracts(ctx); err != nil || len(pending) != 1 {
		t.Fatalf("after a second replica started: pending %v (%v)", pending, err)
	}
	if err := prev(prevReadMailSettings, acc.ID); err != nil {
		t.Fatalf("a replica starting contracted the schema: %v", err)
	}

	applied, err := s.Contract(ctx)
	if err != nil || !slices.Equal(applied, []string{contract}) {
		t.Fatalf("contract applied %v (%v), want %s", applied, err, contract)
	}
	if again, err := s.Contract(ctx); err != nil || len(again) != 0 {
		t.Fatalf("a second contract applied %v (%v), want nothing", again, err)
	}
	if err := prev(prevReadMailSettings, acc.ID); err == nil {
		t.Fatal("the dropped column still reads: the contract did not run")
	}
	checkMailSettings(ctx, t, s, acc.ID)
	// A replica starting after the contract opens the database and finds
	// nothing pending.
	if pending, err := open().PendingContracts(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("after the contract: pending %v (%v)", pending, err)
	}
}

// TestContractOnSQLite: SQLite applies contract migrations when it opens.
func TestContractOnSQLite(t *testing.T) {
	s := newSQLite(t)
	ctx := t.Context()
	if pending, err := s.PendingContracts(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("pending contracts on SQLite %v (%v)", pending, err)
	}
	if _, err := s.db.ExecContext(ctx, prevReadMailSettings, "x"); err == nil {
		t.Fatal("mail_settings.notifications is still there on SQLite")
	}
	acc := directory.Account{Name: "acme"}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateAccount(ctx, &acc) }); err != nil {
		t.Fatal(err)
	}
	checkMailSettings(ctx, t, s, acc.ID)
}

// checkMailSettings: the release's mail settings write and read back.
func checkMailSettings(ctx context.Context, t *testing.T, s *Store, accountID string) {
	t.Helper()
	want := json.RawMessage(`{"subject":"Hello"}`)
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.SetMailSettings(ctx, store.MailSettings{AccountID: accountID, Enrollment: want})
	}); err != nil {
		t.Fatalf("set mail settings: %v", err)
	}
	if ms, err := s.MailSettings(ctx, accountID); err != nil || string(ms.Enrollment) != string(want) {
		t.Fatalf("mail settings read back %+v (%v)", ms, err)
	}
}
