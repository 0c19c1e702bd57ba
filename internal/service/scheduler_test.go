package service

import (
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
)

// recorder stands in for the Runner at the scheduler's boundary: it
// records what the scheduler asked for.
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (r *recorder) Request(src directory.Source, mode, trigger string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, src.Name+"/"+mode+"/"+trigger)
	return "started", nil
}

func newStore(t *testing.T) *sqlstore.Store {
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func addSource(t *testing.T, st store.Store, acc *directory.Account, name string, enabled bool, sc schedule.Schedule, lastRun time.Time) directory.Source {
	t.Helper()
	ctx := t.Context()
	src := directory.Source{AccountID: acc.ID, Name: name, Kind: directory.KindEntra, Config: []byte(`{}`), Enabled: enabled}
	err := st.Update(ctx, func(tx store.Tx) error {
		if acc.ID == "" {
			if err := tx.CreateAccount(ctx, acc); err != nil {
				return err
			}
			src.AccountID = acc.ID
		}
		if err := tx.CreateSource(ctx, &src); err != nil {
			return err
		}
		spec, _ := json.Marshal(sc)
		stx := tx
		return stx.SetSourceSchedule(ctx, store.SourceSchedule{SourceID: src.ID, AccountID: acc.ID, Spec: spec, LastRun: lastRun})
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestSchedulerFiresOnceAfterDowntime(t *testing.T) {
	st := newStore(t)
	now := time.Date(2026, 3, 10, 1, 0, 0, 0, time.UTC)
	acc := directory.Account{Name: "a"}
	hourly := schedule.Schedule{Kind: schedule.Hours, Every: 1, At: "00:00", TimeZone: "UTC"}
	addSource(t, st, &acc, "hourly", true, hourly, now)
	addSource(t, st, &acc, "manual", true, schedule.Schedule{Kind: schedule.None}, now)
	addSource(t, st, &acc, "off", false, hourly, now)
	rec := &recorder{}
	s := &Scheduler{Store: st, Runner: rec, Now: func() time.Time { return now }}
	tick := func() int {
		n, err := s.Tick(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := tick(); n != 0 {
		t.Fatalf("fired %d at creation", n)
	}
	now = now.Add(59 * time.Minute)
	if n := tick(); n != 0 {
		t.Fatalf("fired %d before the slot", n)
	}
	now = now.Add(time.Minute)
	if n := tick(); n != 1 {
		t.Fatalf("fired %d at the slot, want 1", n)
	}
	if n := tick(); n != 0 {
		t.Fatalf("fired again in the same slot: %d", n)
	}
	// Down for three days: one catch-up run, not 72.
	now = now.Add(72*time.Hour + 30*time.Minute)
	if n := tick(); n != 1 {
		t.Fatalf("after downtime fired %d, want 1", n)
	}
	if n := tick(); n != 0 {
		t.Fatalf("after catch-up fired %d", n)
	}
	if len(rec.reqs) != 2 || rec.reqs[0] != "hourly/delta/schedule" {
		t.Fatalf("requests %v", rec.reqs)
	}
}

func TestSchedulerDSTDaily(t *testing.T) {
	st := newStore(t)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata")
	}
	// Daily at 02:30 in Paris: on 2026-03-29 that time does not exist
	// (clocks jump 02:00 -> 03:00); the run still happens once that day.
	now := time.Date(2026, 3, 28, 12, 0, 0, 0, paris)
	acc := directory.Account{Name: "a"}
	addSource(t, st, &acc, "paris", true, schedule.Schedule{Kind: schedule.Daily, At: "02:30", TimeZone: "Europe/Paris"}, now)
	rec := &recorder{}
	s := &Scheduler{Store: st, Runner: rec, Now: func() time.Time { return now }}
	fired := map[string]int{}
	for end := now.Add(72 * time.Hour); now.Before(end); now = now.Add(5 * time.Minute) {
		n, err := s.Tick(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			fired[now.In(paris).Format(time.DateOnly)] += n
		}
	}
	for _, day := range []string{"2026-03-29", "2026-03-30", "2026-03-31"} {
		if fired[day] != 1 {
			t.Errorf("%s: fired %d times, want 1 (%v)", day, fired[day], fired)
		}
	}
}

func TestRunnerQueuesOnceAndShutsDown(t *testing.T) {
	st := newStore(t)
	key := make([]byte, 32)
	rand.Read(key)
	box, _ := secret.New(key)
	acc := directory.Account{Name: "a"}
	src := addSource(t, st, &acc, "s", true, schedule.Schedule{Kind: schedule.None}, time.Time{})
	sealed, _ := box.Seal([]byte("x"))
	src.Secret = sealed
	if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.UpdateSource(t.Context(), src) }); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Store: st, Box: box, Workers: 1}
	// The source's settings are empty, so each run fails fast at connect;
	// what is tested is the queueing around it.
	first, _ := r.Request(src, "delta", "api")
	second, _ := r.Request(src, "delta", "api")
	third, _ := r.Request(src, "full", "api")
	if first != "started" || (second != "queued" && second != "started") || (third != "queued" && third != "started") {
		t.Fatalf("statuses %s %s %s", first, second, third)
	}
	ctx, cancel := contextWithTimeout(t, 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Request(src, "delta", "api"); err == nil {
		t.Fatal("request accepted after shutdown")
	}
}
