package schedule

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestNextAgainstOracle checks Next around real zone transitions against a
// brute-force reading of the package's rule, "a slot runs at the first
// instant at which the local clock shows its date and time or later",
// computed by stepping through every minute and looking at the clock. It
// covers zones whose changes are unusual: at midnight (Santiago), by half an
// hour (Lord Howe), by two hours (Troll), negative DST (Dublin), Ramadan
// reversals (Casablanca), a skipped day (Apia 2011), and rules beyond the
// tables' explicit transitions (2100).
func TestNextAgainstOracle(t *testing.T) {
	zones := []struct {
		name string
		year int
	}{
		{"Europe/Berlin", 2024},
		{"America/New_York", 2024},
		{"America/Santiago", 2024},
		{"Australia/Lord_Howe", 2024},
		{"Antarctica/Troll", 2024},
		{"Europe/Dublin", 2024},
		{"Africa/Casablanca", 2024},
		{"America/St_Johns", 2024},
		{"Pacific/Apia", 2011},
		{"Europe/Berlin", 2100},
	}
	specs := []string{"every 1h from 00:00", "every 1h from 00:15", "every 1h from 00:30", "every 1h from 00:45", "every 5h from 01:30"}
	windows := 0
	for _, z := range zones {
		loc, err := time.LoadLocation(z.name)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range transitions(loc, z.year) {
			windows++
			for _, spec := range specs {
				s := mustParse(t, spec+" in "+z.name)
				checkWindow(t, s, loc, tr.Add(-48*time.Hour).Truncate(time.Hour), tr.Add(48*time.Hour).Truncate(time.Hour))
			}
		}
	}
	if windows < 15 {
		t.Fatalf("found only %d zone transitions to test; the zone data is not what the test expects", windows)
	}
}

// transitions returns the instants (to the hour) at which loc's UTC offset
// changes during year, found by looking at the clock hour by hour rather
// than with ZoneBounds, which Next itself uses.
func transitions(loc *time.Location, year int) []time.Time {
	var out []time.Time
	t := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC)
	_, prev := t.In(loc).Zone()
	for ; t.Before(end); t = t.Add(time.Hour) {
		if _, off := t.In(loc).Zone(); off != prev {
			out = append(out, t)
			prev = off
		}
	}
	return out
}

func checkWindow(t *testing.T, s Schedule, loc *time.Location, lo, hi time.Time) {
	t.Helper()
	// The clock reading of every minute of the window, in minutes since the
	// epoch as if the reading were UTC.
	n := int(hi.Sub(lo) / time.Minute)
	walls := make([]int64, n)
	for i := range n {
		u := lo.Add(time.Duration(i) * time.Minute).In(loc)
		_, off := u.Zone()
		walls[i] = (u.Unix() + int64(off)) / 60
	}
	// The slots' clock readings: the spec's times of day on every date the
	// window could show.
	every, at := s.Every, mustClock(t, s.At)
	var mins []int
	for m := 0; m < 24*60; m += every * 60 {
		mins = append(mins, (at+m)%(24*60))
	}
	var runs []time.Time
	first := time.Date(lo.In(loc).Year(), lo.In(loc).Month(), lo.In(loc).Day()-2, 0, 0, 0, 0, time.UTC)
	for d := first; d.Before(hi.Add(72 * time.Hour)); d = d.AddDate(0, 0, 1) {
		for _, m := range mins {
			w := d.Unix()/60 + int64(m)
			i := slices.IndexFunc(walls, func(v int64) bool { return v >= w })
			if i <= 0 {
				continue // before the window's first reading or after its last: unknown
			}
			runs = append(runs, lo.Add(time.Duration(i)*time.Minute))
		}
	}
	slices.SortFunc(runs, func(a, b time.Time) int { return a.Compare(b) })
	runs = slices.CompactFunc(runs, func(a, b time.Time) bool { return a.Equal(b) })

	// Only the middle of the window is fully known to the oracle.
	from, to := lo.Add(26*time.Hour), hi.Add(-26*time.Hour)
	expect := func(x time.Time) time.Time {
		for _, r := range runs {
			if r.After(x) {
				return r
			}
		}
		return time.Time{}
	}
	describe := func(x time.Time) string { return fmt.Sprintf("%q: Next(%v)", s.String(), x.In(loc)) }
	for x := from; x.Before(to); x = x.Add(17 * time.Minute) {
		want := expect(x)
		got, ok := s.Next(x)
		if !ok || !got.Equal(want) {
			t.Fatalf("%s = %v, want %v", describe(x), got, want.In(loc))
		}
		// Just before and at the run: the same run, then the one after.
		if g, _ := s.Next(got.Add(-time.Nanosecond)); !g.Equal(got) {
			t.Fatalf("%s = %v, want %v", describe(got.Add(-time.Nanosecond)), g, got)
		}
		if g, _ := s.Next(got); !g.Equal(expect(got)) {
			t.Fatalf("%s = %v, want %v", describe(got), g, expect(got).In(loc))
		}
	}
}

func mustClock(t testing.TB, at string) int {
	t.Helper()
	h, m, err := parseClock(at, true)
	if err != nil {
		t.Fatal(err)
	}
	return h*60 + m
}
