package manage_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/store"
)

// TestPruneKeepsHistoryByTheAccountsRetentions syncs on days 0, 20 and 40,
// then prunes on day 41: first with the defaults (runs 90 days, events 30),
// then with the account's own retentions (runs 10 days, events 15), and
// reads what stayed: the runs, their changes, the events.
func TestPruneKeepsHistoryByTheAccountsRetentions(t *testing.T) {
	w := newWorld(t, 30, 3)
	ctx := t.Context()
	w.addSource(w.owner, "entra")
	var runs []directory.Run
	for _, day := range []int{0, 20, 40} {
		w.clock.Set(epoch.Add(time.Duration(day) * 24 * time.Hour))
		run, err := w.m.SyncNow(ctx, w.owner, "entra", manage.SyncRequest{Trigger: "test"})
		if err != nil {
			t.Fatalf("sync on day %d: %v", day, err)
		}
		runs = append(runs, run)
	}
	st := w.parts.Store
	if cs, _ := st.Changes(ctx, runs[0].ID, 0, 0); len(cs) == 0 {
		t.Fatal("the first run recorded no changes")
	}
	eventsOf := func() map[string]int {
		evs, err := st.Events(ctx, w.owner.AccountID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		by := map[string]int{}
		for _, e := range evs {
			by[e.RunID]++
		}
		return by
	}
	kept := func(i int) bool {
		_, err := st.Run(ctx, w.owner.AccountID, runs[i].ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	w.clock.Set(epoch.Add(41 * 24 * time.Hour))
	p, err := w.m.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	by := eventsOf()
	if p.Runs != 0 || !kept(0) || by[runs[0].ID] != 0 || by[runs[1].ID] == 0 || p.Events == 0 {
		t.Fatalf("defaults: pruned %+v, events by run %v", p, by)
	}

	s, err := w.m.AccountSettings(ctx, w.owner)
	if err != nil || s.RunRetentionDays != 90 || s.EventRetentionDays != 30 {
		t.Fatalf("default retentions %+v (%v)", s, err)
	}
	s.RunRetentionDays, s.EventRetentionDays = 10, 15
	if _, err := w.m.SetAccountSettings(ctx, w.owner, s); err != nil {
		t.Fatal(err)
	}
	if p, err = w.m.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	by = eventsOf()
	if p.Runs != 2 || kept(0) || kept(1) || !kept(2) || by[runs[1].ID] != 0 || by[runs[2].ID] == 0 {
		t.Fatalf("with 10 and 15 days: pruned %+v, events by run %v", p, by)
	}
	if cs, err := st.Changes(ctx, runs[0].ID, 0, 0); err != nil || len(cs) != 0 {
		t.Fatalf("the pruned run's changes: %d (%v)", len(cs), err)
	}
	// Each source's newest run stays, however old.
	w.clock.Set(epoch.Add(400 * 24 * time.Hour))
	if p, err = w.m.Prune(ctx); err != nil || p.Runs != 0 || !kept(2) {
		t.Fatalf("a year on: pruned %+v (%v), newest run kept: %v", p, err, kept(2))
	}
	for _, bad := range []int{-1, manage.MaxHistoryRetentionDays + 1} {
		s.RunRetentionDays = bad
		if _, err := w.m.SetAccountSettings(ctx, w.owner, s); err == nil {
			t.Errorf("run retention of %d days accepted", bad)
		}
	}
}
