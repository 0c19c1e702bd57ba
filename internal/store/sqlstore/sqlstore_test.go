package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
	"github.com/dirsync/dirsync/internal/store/storetest"
)

func newSQLite(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "sub", "dir", "dirsync.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store { return newSQLite(t) })
}

// TestSQLiteBulkIndexes runs the conformance suite with every bulk write
// dropping and making again its indexes (withoutIndexes), as a first sync's
// do.
func TestSQLiteBulkIndexes(t *testing.T) {
	old := bulkIndexMin
	bulkIndexMin = 1
	t.Cleanup(func() { bulkIndexMin = old })
	storetest.RunTests(t, func(t *testing.T) store.Store { return newSQLite(t) })
}

const postgresEnv = sqltest.PostgresEnv

// newPostgres opens a store in a schema of its own, dropped afterwards, so
// tests never see each other's rows.
func newPostgres(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := OpenPostgres(t.Context(), sqltest.PostgresDSN(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgres(t *testing.T) {
	if os.Getenv(postgresEnv) == "" {
		t.Skipf("%s is not set; set it to a PostgreSQL DSN (postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run", postgresEnv)
	}
	storetest.RunTests(t, func(t *testing.T) store.Store { return newPostgres(t) })
}

func mkUserT(t *testing.T, s *Store) (directory.Account, directory.User) {
	t.Helper()
	ctx := t.Context()
	acc := directory.Account{Name: "acme"}
	u := directory.User{UserAttributes: directory.UserAttributes{Username: "ann"}}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		u.AccountID = acc.ID
		return tx.CreateUser(ctx, &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	return acc, u
}

// appendNote is a read-modify-write of the user's notes.
func appendNote(ctx context.Context, tx store.Tx, acc directory.Account, id, note string) error {
	u, err := tx.User(ctx, acc.ID, id)
	if err != nil {
		return err
	}
	u.Notes += note
	return tx.UpdateUser(ctx, u)
}

// TestPostgresRetry makes two transactions collide for certain: the first
// reads, the second writes the same row and commits, then the first
// writes. PostgreSQL aborts the first with a serialization failure, and
// Update runs it again, after one (injected) wait.
func TestPostgresRetry(t *testing.T) {
	var sleeps atomic.Int32
	s := newPostgres(t, WithSleeper(func(ctx context.Context, d time.Duration) error {
		sleeps.Add(1)
		return ctx.Err()
	}))
	ctx := t.Context()
	acc, u := mkUserT(t, s)
	read, written := make(chan struct{}), make(chan error)
	go func() {
		<-read
		written <- s.Update(ctx, func(tx store.Tx) error { return appendNote(ctx, tx, acc, u.ID, "b") })
	}()
	attempts := 0
	err := s.Update(ctx, func(tx store.Tx) error {
		attempts++
		got, err := tx.User(ctx, acc.ID, u.ID)
		if err != nil {
			return err
		}
		if attempts == 1 {
			close(read)
			if err := <-written; err != nil {
				return fmt.Errorf("other writer: %w", err)
			}
		}
		got.Notes += "a"
		return tx.UpdateUser(ctx, got)
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 || sleeps.Load() != 1 {
		t.Errorf("%d attempts and %d waits, want 2 and 1", attempts, sleeps.Load())
	}
	got, err := s.User(ctx, acc.ID, u.ID)
	if err != nil || got.Notes != "ba" {
		t.Errorf("notes %q, %v; want both writes, in order: ba", got.Notes, err)
	}
}

// TestPostgresRetryIsBoundedByTime keeps a transaction failing to
// serialize: Update reruns it with waits that grow, for as long as the
// retry budget in waits (not a count of attempts, which a busy fleet spent
// in seconds), then gives up with an error that still carries SQLSTATE
// 40001 and says how long it tried.
func TestPostgresRetryIsBoundedByTime(t *testing.T) {
	var waited time.Duration
	s := newPostgres(t, WithSleeper(func(ctx context.Context, d time.Duration) error {
		waited += d
		return ctx.Err()
	}))
	attempts := 0
	conflict := &pgconn.PgError{Code: pgSerializationFailure, Message: "could not serialize access due to read/write dependencies among transactions"}
	err := s.Update(t.Context(), func(store.Tx) error {
		attempts++
		return conflict
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != pgSerializationFailure {
		t.Fatalf("got %v, want the serialization failure", err)
	}
	if waited < retryBudget || waited > retryBudget+2*time.Second {
		t.Errorf("waited %s in all, want the budget %s and at most one more wait", waited, retryBudget)
	}
	if attempts <= 30 {
		t.Errorf("%d attempts; waits of at most 1 s need more than 30 to spend a 30 s budget", attempts)
	}
	if want := fmt.Sprintf("after %d attempts", attempts); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// TestSQLiteTwoStores has two stores on one file, as two processes would
// be: their writers meet at SQLite's lock (BEGIN IMMEDIATE waits out
// busy_timeout), not at the in-process semaphore, and none fails.
func TestSQLiteTwoStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := t.Context()
	var stores []*Store
	for range 2 {
		s, err := OpenSQLite(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	acc, u := mkUserT(t, stores[0])
	const rounds = 25
	errs := make(chan error, len(stores))
	for _, s := range stores {
		go func() {
			for range rounds {
				if err := s.Update(ctx, func(tx store.Tx) error { return appendNote(ctx, tx, acc, u.ID, "x") }); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	got, err := stores[1].User(ctx, acc.ID, u.ID)
	if err != nil || len(got.Notes) != 2*rounds {
		t.Errorf("notes %q, %v: want %d writes", got.Notes, err, 2*rounds)
	}
}

// TestSQLiteWriterWaitHonoursContext: a writer queued behind another gives
// up when its context ends, and the store works on.
func TestSQLiteWriterWaitHonoursContext(t *testing.T) {
	s := newSQLite(t)
	ctx := t.Context()
	acc, u := mkUserT(t, s)
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.Update(ctx, func(tx store.Tx) error {
			close(holding)
			<-release
			return appendNote(ctx, tx, acc, u.ID, "first")
		})
	}()
	<-holding
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := s.Update(wctx, func(tx store.Tx) error { return appendNote(ctx, tx, acc, u.ID, "never") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("queued writer: %v, want deadline exceeded", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := s.User(ctx, acc.ID, u.ID)
	if err != nil || got.Notes != "first" {
		t.Errorf("notes %q, %v", got.Notes, err)
	}
}

// TestSQLiteReopen: the schema is migrated once and recorded; reopening
// keeps the data and applies nothing again.
func TestSQLiteReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b.db")
	ctx := t.Context()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	acc, u := mkUserT(t, s)
	s.Close()
	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.User(ctx, acc.ID, u.ID); err != nil || got.Username != "ann" {
		t.Errorf("after reopen: %+v, %v", got, err)
	}
	var versions, latest int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&versions, &latest); err != nil {
		t.Fatal(err)
	}
	entries, err := migrations.ReadDir("migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if versions != len(entries) || latest != len(entries) {
		t.Errorf("goose_db_version has %d versions up to %d; want %d", versions, latest, len(entries))
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v", mode, err)
	}
	var fk int
	if err := s.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys %d, %v", fk, err)
	}
}

// TestClock: the store's times come from its clock, in UTC to the
// microsecond.
func TestClock(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 678901234, time.FixedZone("X", 3600))
	s := newSQLite(t, WithClock(clock.NewFake(now)))
	_, u := mkUserT(t, s)
	want := time.Date(2030, 1, 2, 2, 4, 5, 678901000, time.UTC)
	if !u.CreatedAt.Equal(want) || u.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt %v, want %v", u.CreatedAt, want)
	}
	got, err := s.User(t.Context(), u.AccountID, u.ID)
	if err != nil || !got.CreatedAt.Equal(want) || !got.UpdatedAt.Equal(want) {
		t.Errorf("stored times %v %v, %v; want %v", got.CreatedAt, got.UpdatedAt, err, want)
	}
}
