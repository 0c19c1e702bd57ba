package sqlstore

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// TestRunProgress: a run's progress is recorded and read back, replaced by
// the next record, and per account; on SQLite, a record while this
// process's writer is busy is skipped, not waited for.
func TestRunProgress(t *testing.T) {
	opens := map[string]func(t *testing.T) *Store{"sqlite": func(t *testing.T) *Store { return newSQLite(t) }}
	if os.Getenv(postgresEnv) != "" {
		opens["postgres"] = func(t *testing.T) *Store { return newPostgres(t) }
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) { testRunProgress(t, open(t)) })
	}
}

func testRunProgress(t *testing.T, s *Store) {
	ctx := t.Context()
	acc, other := directory.Account{Name: "acme"}, directory.Account{Name: "other"}
	src := directory.Source{Name: "entra", Kind: directory.KindEntra, Enabled: true}
	run := directory.Run{Kind: directory.RunFull, Trigger: "test", Outcome: directory.OutcomeRunning}
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, a := range []*directory.Account{&acc, &other} {
			if err := tx.CreateAccount(ctx, a); err != nil {
				return err
			}
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
	if _, err := s.RunProgress(ctx, acc.ID, run.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("progress before any: %v, want not found", err)
	}
	at := time.Date(2026, 11, 29, 22, 0, 0, 0, time.UTC)
	for i, p := range []directory.RunProgress{{Phase: "read", Users: 999, Requests: 3, At: at},
		{Phase: "apply", Users: 2112, Groups: 3, Step: "groups", Applied: directory.Counts{Created: 3}, At: at.Add(time.Second)}} {
		if err := s.SetRunProgress(ctx, acc.ID, run.ID, p); err != nil {
			t.Fatal(err)
		}
		got, err := s.RunProgress(ctx, acc.ID, run.ID)
		if err != nil || got.Phase != p.Phase || got.Users != p.Users || got.Step != p.Step || got.Applied != p.Applied || !got.At.Equal(p.At) {
			t.Fatalf("record %d: read back %+v (%v), want %+v", i, got, err, p)
		}
	}
	if _, err := s.RunProgress(ctx, other.ID, run.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account's run progress: %v, want not found", err)
	}
	if s.writeSem == nil {
		return
	}
	// The writer busy (an apply): nothing written, nothing waited for (it
	// would wait forever: this goroutine holds the writer).
	s.writeSem <- struct{}{}
	err = s.SetRunProgress(ctx, acc.ID, run.ID, directory.RunProgress{Phase: "apply", Users: 1})
	<-s.writeSem
	if got, _ := s.RunProgress(ctx, acc.ID, run.ID); err != nil || got.Users != 2112 {
		t.Fatalf("a record while the writer is busy: %v, stored %+v", err, got)
	}
}
