package storetest

import (
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// testPrune: PruneRuns deletes an account's old finished runs with their
// changes but each source's newest run and newest successful run, and
// nothing of another account; PruneAccountEvents deletes one account's old
// events only.
func testPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkAccount(t, s, "acme"), mkAccount(t, s, "other")
	src, other := mkSource(t, s, a.ID, "entra"), mkSource(t, s, b.ID, "entra")
	day := func(n int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }
	var ids []string
	mkLong := func(sourceID, accountID string, started, finished int, outcome directory.Outcome) {
		update(t, s, func(tx store.Tx) error {
			r := directory.Run{AccountID: accountID, SourceID: sourceID, Kind: directory.RunFull, Trigger: "test",
				Outcome: outcome, StartedAt: day(started)}
			if outcome != directory.OutcomeRunning {
				r.FinishedAt = day(finished).Add(time.Minute)
			}
			if err := tx.CreateRun(ctx, &r); err != nil {
				return err
			}
			ids = append(ids, r.ID)
			if err := tx.AddChanges(ctx, r.ID, []directory.Change{{ObjectKind: directory.MemberUser, Name: "u", Action: directory.ActionCreated}}); err != nil {
				return err
			}
			return tx.AppendEvents(ctx, []directory.Event{{AccountID: accountID, Type: directory.EventUserCreated, Time: day(started), RunID: r.ID, Data: []byte(`{}`)}})
		})
	}
	mk := func(sourceID, accountID string, started int, outcome directory.Outcome) {
		mkLong(sourceID, accountID, started, started, outcome)
	}
	mk(src.ID, a.ID, 0, directory.OutcomeSucceeded)   // 0: old, deleted
	mk(src.ID, a.ID, 1, directory.OutcomeSucceeded)   // 1: the newest success, kept
	mk(src.ID, a.ID, 2, directory.OutcomeFailed)      // 2: old failure, deleted
	mk(src.ID, a.ID, 3, directory.OutcomeRunning)     // 3: unfinished, kept
	mk(src.ID, a.ID, 4, directory.OutcomeFailed)      // 4: an old failure, deleted
	mk(other.ID, b.ID, 0, directory.OutcomeSucceeded) // 5: another account's, kept
	mk(other.ID, b.ID, 1, directory.OutcomeFailed)    // 6: another account's, kept
	// 7: started before the cutoff, finished after it: its events (no
	// later than its end) may still be kept, and are rebuilt from its
	// changes, so it is kept.
	mkLong(src.ID, a.ID, 8, 11, directory.OutcomeFailed)
	mk(src.ID, a.ID, 9, directory.OutcomeFailed) // 8: the newest, kept
	var n, e int
	update(t, s, func(tx store.Tx) error {
		var err error
		if n, err = tx.PruneRuns(ctx, a.ID, day(10)); err != nil {
			return err
		}
		e, err = tx.PruneAccountEvents(ctx, a.ID, day(2))
		return err
	})
	if n != 3 || e != 2 {
		t.Fatalf("pruned %d runs and %d events, want 3 and 2", n, e)
	}
	for i, id := range ids {
		acc := a.ID
		if i == 5 || i == 6 {
			acc = b.ID
		}
		_, err := s.Run(ctx, acc, id)
		cs, _ := s.Changes(ctx, id, 0, 0)
		if gone := i == 0 || i == 2 || i == 4; gone != (err != nil) || gone != (len(cs) == 0) {
			t.Errorf("run %d: err %v, %d changes", i, err, len(cs))
		}
	}
	if evs := must[[]directory.Event](t)(s.Events(ctx, a.ID, 0, 0)); len(evs) != 5 {
		t.Errorf("%d events of the account left, want 5", len(evs))
	}
	if evs := must[[]directory.Event](t)(s.Events(ctx, b.ID, 0, 0)); len(evs) != 2 {
		t.Errorf("%d events of the other account left, want 2", len(evs))
	}
}
