package manage_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/store"
)

// storeSource writes a source and its schedule straight to the store, its
// schedule last fired at lastRun.
func (w *world) storeSource(name string, enabled bool, sc schedule.Schedule, lastRun time.Time) directory.Source {
	w.t.Helper()
	ctx := w.t.Context()
	src := directory.Source{AccountID: w.owner.AccountID, Name: name, Kind: directory.KindEntra, Config: []byte(`{}`), Enabled: enabled}
	err := w.parts.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateSource(ctx, &src); err != nil {
			return err
		}
		spec, _ := json.Marshal(sc)
		return tx.SetSourceSchedule(ctx, store.SourceSchedule{SourceID: src.ID, AccountID: src.AccountID, Spec: spec, LastRun: lastRun})
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return src
}

// fired lists the runs the schedules asked for, and ends them (a run
// still queued takes the next request in).
func (w *world) fired() []string {
	var out []string
	for _, j := range w.jobs.take() {
		out = append(out, j.Run.Source+"/"+string(j.Run.Kind)+"/"+j.Run.Trigger)
		w.m.Abandon(w.t.Context(), j, "test")
	}
	return out
}

func TestSchedulesFireOnceAfterDowntime(t *testing.T) {
	w := newWorld(t, 1, 1)
	hourly := schedule.Schedule{Kind: schedule.Hours, Every: 1, At: "00:00", TimeZone: "UTC"}
	w.storeSource("hourly", true, hourly, epoch)
	w.storeSource("manual", true, schedule.Schedule{Kind: schedule.None}, epoch)
	w.storeSource("off", false, hourly, epoch)
	tick := func() int {
		n, err := w.m.RunDueSchedules(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := tick(); n != 0 {
		t.Fatalf("fired %d at creation", n)
	}
	w.clock.Advance(59 * time.Minute)
	if n := tick(); n != 0 {
		t.Fatalf("fired %d before the slot", n)
	}
	w.clock.Advance(time.Minute)
	if n := tick(); n != 1 {
		t.Fatalf("fired %d at the slot, want 1", n)
	}
	if n := tick(); n != 0 {
		t.Fatalf("fired again in the same slot: %d", n)
	}
	requests := w.fired()
	// Down for three days: one catch-up run, not 72.
	w.clock.Advance(72*time.Hour + 30*time.Minute)
	if n := tick(); n != 1 {
		t.Fatalf("after downtime fired %d, want 1", n)
	}
	if n := tick(); n != 0 {
		t.Fatalf("after catch-up fired %d", n)
	}
	if got := append(requests, w.fired()...); len(got) != 2 || got[0] != "hourly/delta/schedule" {
		t.Fatalf("requests %v", got)
	}
}

func TestScheduleDSTDaily(t *testing.T) {
	w := newWorld(t, 1, 1)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata")
	}
	// Daily at 02:30 in Paris: on 2026-03-29 that time does not exist
	// (clocks jump 02:00 -> 03:00); the run still happens once that day.
	start := time.Date(2026, 3, 28, 12, 0, 0, 0, paris)
	w.clock.Set(start)
	w.storeSource("paris", true, schedule.Schedule{Kind: schedule.Daily, At: "02:30", TimeZone: "Europe/Paris"}, start)
	fired := map[string]int{}
	for end := start.Add(72 * time.Hour); w.clock.Now().Before(end); w.clock.Advance(5 * time.Minute) {
		n, err := w.m.RunDueSchedules(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			fired[w.clock.Now().In(paris).Format(time.DateOnly)] += n
			// The run ended: a new request then is a new run.
			for _, j := range w.jobs.take() {
				w.m.Abandon(t.Context(), j, "test")
			}
		}
	}
	for _, day := range []string{"2026-03-29", "2026-03-30", "2026-03-31"} {
		if fired[day] != 1 {
			t.Errorf("%s: fired %d times, want 1 (%v)", day, fired[day], fired)
		}
	}
}

func TestSetScheduleFromText(t *testing.T) {
	w := newWorld(t, 1, 1)
	w.addSource(w.owner, "s")
	sc, err := manage.ParseSchedule("daily at 03:15 in Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	v, err := w.m.SetSchedule(t.Context(), w.owner, "s", sc)
	if err != nil || v.Schedule.String() != "daily 03:15 in Europe/Paris" || len(v.NextRuns) != 5 {
		t.Fatalf("%s %v %v", v.Schedule, v.NextRuns, err)
	}
	if first := v.NextRuns[0].In(time.UTC); first.Format("15:04") != "02:15" {
		t.Fatalf("first run at %s UTC, want 02:15 (03:15 in Paris in March)", first.Format("15:04"))
	}
	_, err = manage.ParseSchedule("daily at 25:00")
	if e := wantKind(t, err, manage.Invalid, "bad time"); e.Field != "schedule.at" || !strings.Contains(e.Message, "25:00") {
		t.Fatalf("%+v", e)
	}
	none, _ := manage.ParseSchedule("none")
	if v, _ := w.m.SetSchedule(t.Context(), w.owner, "s", none); len(v.NextRuns) != 0 {
		t.Fatalf("none still has next runs %v", v.NextRuns)
	}
}
