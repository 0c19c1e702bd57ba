package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// testRunClaims: queued runs are claimed by one holder at a time, due and
// of a source nobody runs, oldest first; claims run out, are renewed and
// handed back; running runs whose lease ran out are orphans.
func testRunClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	acc := mkAccount(t, s, "acme")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var srcs []directory.Source
	for i := range 5 {
		srcs = append(srcs, mkSource(t, s, acc.ID, fmt.Sprint("src", i)))
	}
	mk := func(src directory.Source, outcome directory.Outcome, at time.Time) directory.Run {
		r := directory.Run{AccountID: acc.ID, SourceID: src.ID, Kind: directory.RunDelta, StartedAt: at, Outcome: outcome}
		update(t, s, func(tx store.Tx) error { return tx.CreateRun(ctx, &r) })
		return r
	}
	q1 := mk(srcs[0], directory.OutcomeQueued, now.Add(-2*time.Minute))
	q2 := mk(srcs[1], directory.OutcomeQueued, now.Add(-time.Minute))
	mk(srcs[2], directory.OutcomeQueued, now.Add(time.Hour)) // not due
	mk(srcs[3], directory.OutcomeQueued, now)                // its source is running
	alive := mk(srcs[3], directory.OutcomeRunning, now)
	dead := mk(srcs[4], directory.OutcomeRunning, now.Add(-10*time.Minute))
	update(t, s, func(tx store.Tx) error { return tx.AcquireLease(ctx, srcs[3].ID, "p0", now, 30*time.Minute) })
	update(t, s, func(tx store.Tx) error {
		return tx.AcquireLease(ctx, srcs[4].ID, "gone", now.Add(-10*time.Minute), time.Minute)
	})

	claim := func(holder string, at time.Time, limit int) []string {
		var got []directory.Run
		update(t, s, func(tx store.Tx) error {
			var err error
			got, err = tx.ClaimQueuedRuns(ctx, holder, at, at.Add(time.Minute), limit)
			return err
		})
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if got, want := claim("p1", now, 10), []string{q1.ID, q2.ID}; !slices.Equal(got, want) {
		t.Fatalf("p1 claimed %v, want %v (due, oldest first, not of a running source)", got, want)
	}
	if got := claim("p2", now.Add(30*time.Second), 10); len(got) != 0 {
		t.Fatalf("p2 claimed %v while p1's claims run", got)
	}
	update(t, s, func(tx store.Tx) error { return tx.RenewRunClaims(ctx, "p1", now.Add(2*time.Minute)) })
	if got := claim("p2", now.Add(90*time.Second), 10); len(got) != 0 {
		t.Fatalf("p2 claimed %v after p1 renewed", got)
	}
	if got, want := claim("p2", now.Add(3*time.Minute), 1), []string{q1.ID}; !slices.Equal(got, want) {
		t.Fatalf("after p1's claims ran out, p2 claimed %v, want %v", got, want)
	}
	claimRun := func(holder string, r directory.Run, at time.Time) bool {
		var ok bool
		update(t, s, func(tx store.Tx) error {
			var err error
			ok, err = tx.ClaimRun(ctx, acc.ID, r.ID, holder, at, at.Add(time.Minute))
			return err
		})
		return ok
	}
	if claimRun("p3", q1, now.Add(3*time.Minute)) {
		t.Fatal("p3 claimed a run p2 holds")
	}
	var n int
	update(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.ReleaseRunClaims(ctx, "p2")
		return err
	})
	if n != 1 || !claimRun("p3", q1, now.Add(3*time.Minute)) {
		t.Fatalf("released %d, then p3 could not claim the run", n)
	}
	if claimRun("p3", alive, now) {
		t.Fatal("a running run claimed")
	}

	orphans, err := s.OrphanedRuns(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].ID != dead.ID {
		t.Fatalf("orphans %+v, want only %s", orphans, dead.ID)
	}

	// Processes claiming at once get different runs.
	var queued []string
	for i := range 8 {
		src := mkSource(t, s, acc.ID, fmt.Sprint("many", i))
		queued = append(queued, mk(src, directory.OutcomeQueued, now).ID)
	}
	later := now.Add(time.Hour + time.Second) // srcs[2]'s run is due too
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for range 4 {
				var got []directory.Run
				err := s.Update(ctx, func(tx store.Tx) error {
					var err error
					got, err = tx.ClaimQueuedRuns(ctx, fmt.Sprint("w", p), later, later.Add(time.Hour), 1)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, r := range got {
					seen[r.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, id := range append(queued, q2.ID) {
		if seen[id] != 1 {
			t.Errorf("run %s claimed %d times by concurrent claimers", id, seen[id])
		}
	}
}

// testUpdateApply: applies never overlap, even on separate handles (the
// test's store is one; a second goroutine stands for another process's
// pool), and each commits.
func testUpdateApply(t *testing.T, s store.Store) {
	ctx := t.Context()
	var mu sync.Mutex
	inside, most := 0, 0
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			err := s.UpdateApply(ctx, func(tx store.Tx) error {
				mu.Lock()
				inside++
				most = max(most, inside)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
				inside--
				mu.Unlock()
				return tx.CreateAccount(ctx, &directory.Account{Name: fmt.Sprint("apply", i)})
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if most != 1 {
		t.Errorf("%d applies ran at once", most)
	}
	if accs := must[[]directory.Account](t)(s.Accounts(ctx)); len(accs) != 4 {
		t.Errorf("%d accounts after 4 applies", len(accs))
	}
}
