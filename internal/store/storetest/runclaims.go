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
	w := mkRunClaims(t, s)
	w.queuedClaims(t)
	w.singleClaims(t)
	w.orphans(t)
	w.concurrentClaims(t)
}

// runClaimsWorld is five sources' runs: q1 and q2 queued and due (q1
// older), one queued for later, one queued behind its source's running
// run (alive, whose lease runs), and a running run whose lease ran out
// (dead).
type runClaimsWorld struct {
	s                   store.Store
	acc                 directory.Account
	now                 time.Time
	srcs                []directory.Source
	q1, q2, alive, dead directory.Run
}

func mkRunClaims(t *testing.T, s store.Store) *runClaimsWorld {
	ctx := t.Context()
	w := &runClaimsWorld{s: s, acc: mkAccount(t, s, "acme"), now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	now := w.now
	for i := range 5 {
		w.srcs = append(w.srcs, mkSource(t, s, w.acc.ID, fmt.Sprint("src", i)))
	}
	w.q1 = w.mk(t, w.srcs[0], directory.OutcomeQueued, now.Add(-2*time.Minute))
	w.q2 = w.mk(t, w.srcs[1], directory.OutcomeQueued, now.Add(-time.Minute))
	w.mk(t, w.srcs[2], directory.OutcomeQueued, now.Add(time.Hour)) // not due
	w.mk(t, w.srcs[3], directory.OutcomeQueued, now)                // its source is running
	w.alive = w.mk(t, w.srcs[3], directory.OutcomeRunning, now)
	w.dead = w.mk(t, w.srcs[4], directory.OutcomeRunning, now.Add(-10*time.Minute))
	update(t, s, func(tx store.Tx) error { return tx.AcquireLease(ctx, w.srcs[3].ID, "p0", now, 30*time.Minute) })
	update(t, s, func(tx store.Tx) error {
		return tx.AcquireLease(ctx, w.srcs[4].ID, "gone", now.Add(-10*time.Minute), time.Minute)
	})
	return w
}

func (w *runClaimsWorld) mk(t *testing.T, src directory.Source, outcome directory.Outcome, at time.Time) directory.Run {
	r := directory.Run{AccountID: w.acc.ID, SourceID: src.ID, Kind: directory.RunDelta, StartedAt: at, Outcome: outcome}
	update(t, w.s, func(tx store.Tx) error { return tx.CreateRun(t.Context(), &r) })
	return r
}

// claim claims up to limit queued runs for holder at at, for a minute.
func (w *runClaimsWorld) claim(t *testing.T, holder string, at time.Time, limit int) []string {
	var got []directory.Run
	update(t, w.s, func(tx store.Tx) error {
		var err error
		got, err = tx.ClaimQueuedRuns(t.Context(), holder, at, at.Add(time.Minute), limit)
		return err
	})
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	return ids
}

// claimRun claims one run for holder at at, for a minute.
func (w *runClaimsWorld) claimRun(t *testing.T, holder string, r directory.Run, at time.Time) bool {
	var ok bool
	update(t, w.s, func(tx store.Tx) error {
		var err error
		ok, err = tx.ClaimRun(t.Context(), w.acc.ID, r.ID, holder, at, at.Add(time.Minute))
		return err
	})
	return ok
}

// queuedClaims: due runs of idle sources, oldest first, one holder at a
// time until its claims run out; a renewal keeps them.
func (w *runClaimsWorld) queuedClaims(t *testing.T) {
	ctx, s, now, q1, q2 := t.Context(), w.s, w.now, w.q1, w.q2
	claim := func(holder string, at time.Time, limit int) []string { return w.claim(t, holder, at, limit) }
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
}

// singleClaims: a run held is not claimed; released, it is; a running run
// never is.
func (w *runClaimsWorld) singleClaims(t *testing.T) {
	ctx, s, now, q1, alive := t.Context(), w.s, w.now, w.q1, w.alive
	claimRun := func(holder string, r directory.Run, at time.Time) bool { return w.claimRun(t, holder, r, at) }
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
}

// orphans: running runs whose lease ran out.
func (w *runClaimsWorld) orphans(t *testing.T) {
	ctx, s, now, dead := t.Context(), w.s, w.now, w.dead
	orphans, err := s.OrphanedRuns(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].ID != dead.ID {
		t.Fatalf("orphans %+v, want only %s", orphans, dead.ID)
	}
}

// concurrentClaims: processes claiming at once get different runs.
func (w *runClaimsWorld) concurrentClaims(t *testing.T) {
	ctx, s, acc, now, q2 := t.Context(), w.s, w.acc, w.now, w.q2
	mk := func(src directory.Source, outcome directory.Outcome, at time.Time) directory.Run {
		return w.mk(t, src, outcome, at)
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
