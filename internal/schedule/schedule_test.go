package schedule

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

func mustTime(t testing.TB, v string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, v)
	if err != nil {
		t.Fatalf("bad test time %q: %v", v, err)
	}
	return tm
}

func mustParse(t testing.TB, spec string) Schedule {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse(%q): %v", spec, err)
	}
	return s
}

// TestNext checks the run times of every kind, written out by hand with
// their UTC offsets, so that a DST mistake shows as a wrong offset or hour.
func TestNext(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		after string
		want  []string // successive Next results
	}{
		// Minutes: multiples of N minutes since the epoch, in UTC.
		{"minutes", "every 30m", "2024-01-01T00:10:00Z",
			[]string{"2024-01-01T00:30:00Z", "2024-01-01T01:00:00Z", "2024-01-01T01:30:00Z"}},
		{"minutes strictly after a slot", "every 30m", "2024-01-01T00:30:00Z",
			[]string{"2024-01-01T01:00:00Z"}},
		{"minutes just before a slot", "every 30m", "2024-01-01T00:29:59.999Z",
			[]string{"2024-01-01T00:30:00Z"}},
		{"minutes aligned to the epoch, not to after", "every 45m", "2024-01-01T00:50:00Z",
			[]string{"2024-01-01T01:30:00Z", "2024-01-01T02:15:00Z"}},
		{"minutes before 1970", "every 30m", "1969-12-31T23:40:00Z",
			[]string{"1970-01-01T00:00:00Z", "1970-01-01T00:30:00Z"}},
		{"minutes ignore spring forward", "every 30m in Europe/Berlin", "2024-03-31T01:45:00+01:00",
			[]string{"2024-03-31T03:00:00+02:00", "2024-03-31T03:30:00+02:00"}},
		{"minutes ignore fall back", "every 30m in America/New_York", "2024-11-03T01:15:00-04:00",
			[]string{"2024-11-03T01:30:00-04:00", "2024-11-03T01:00:00-05:00", "2024-11-03T01:30:00-05:00", "2024-11-03T02:00:00-05:00"}},
		{"minutes in a half-hour zone", "every 30m in Asia/Kolkata", "2024-06-01T10:05:00+05:30",
			[]string{"2024-06-01T10:30:00+05:30", "2024-06-01T11:00:00+05:30"}},

		// Hours: the same times of day every day, from the start time.
		{"hours from 02:00 (Sophos example)", "every 6h from 02:00 in Europe/Berlin", "2024-01-10T00:00:00+01:00",
			[]string{"2024-01-10T02:00:00+01:00", "2024-01-10T08:00:00+01:00", "2024-01-10T14:00:00+01:00", "2024-01-10T20:00:00+01:00", "2024-01-11T02:00:00+01:00"}},
		{"hours wrap past midnight", "every 6h from 08:00", "2024-01-10T00:00:00Z",
			[]string{"2024-01-10T02:00:00Z", "2024-01-10T08:00:00Z", "2024-01-10T14:00:00Z", "2024-01-10T20:00:00Z", "2024-01-11T02:00:00Z"}},
		{"hours not dividing 24 restart at the start time", "every 5h from 02:00", "2024-01-10T21:00:00Z",
			[]string{"2024-01-10T22:00:00Z", "2024-01-11T02:00:00Z", "2024-01-11T07:00:00Z"}},
		{"every 24h is once a day", "every 24h from 05:30", "2024-01-10T06:00:00Z",
			[]string{"2024-01-11T05:30:00Z", "2024-01-12T05:30:00Z"}},
		{"hours spring forward Berlin: 02:00 is skipped, runs at 03:00", "every 6h from 02:00 in Europe/Berlin", "2024-03-30T21:00:00+01:00",
			[]string{"2024-03-31T03:00:00+02:00", "2024-03-31T08:00:00+02:00", "2024-03-31T14:00:00+02:00"}},
		{"hours fall back Berlin: first 02:00 only", "every 6h from 02:00 in Europe/Berlin", "2024-10-26T21:00:00+02:00",
			[]string{"2024-10-27T02:00:00+02:00", "2024-10-27T08:00:00+01:00", "2024-10-27T14:00:00+01:00"}},
		{"hourly spring forward New York", "every 1h from 00:30 in America/New_York", "2024-03-10T00:45:00-05:00",
			[]string{"2024-03-10T01:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T03:30:00-04:00"}},
		{"hourly fall back New York", "every 1h from 00:30 in America/New_York", "2024-11-03T00:45:00-04:00",
			[]string{"2024-11-03T01:30:00-04:00", "2024-11-03T02:30:00-05:00", "2024-11-03T03:30:00-05:00"}},
		{"hourly on the hour across the gap runs 03:00 once", "every 1h from 00:00 in Europe/Berlin", "2024-03-31T00:30:00+01:00",
			[]string{"2024-03-31T01:00:00+01:00", "2024-03-31T03:00:00+02:00", "2024-03-31T04:00:00+02:00"}},

		// Daily.
		{"daily", "daily 03:15", "2024-05-01T03:14:59Z",
			[]string{"2024-05-01T03:15:00Z", "2024-05-02T03:15:00Z"}},
		{"daily strictly after", "daily 03:15", "2024-05-01T03:15:00Z",
			[]string{"2024-05-02T03:15:00Z"}},
		{"daily in a zone, after given in UTC", "daily 09:00 in Asia/Tokyo", "2024-05-01T00:30:00Z",
			[]string{"2024-05-02T09:00:00+09:00"}},
		{"daily spring forward Berlin: 02:30 runs at 03:00", "daily 02:30 in Europe/Berlin", "2024-03-30T12:00:00+01:00",
			[]string{"2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"}},
		{"daily fall back Berlin: 02:30 runs once, first", "daily 02:30 in Europe/Berlin", "2024-10-26T12:00:00+02:00",
			[]string{"2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"}},
		{"daily fall back Berlin: not again at the second 02:30", "daily 02:30 in Europe/Berlin", "2024-10-27T02:30:00+02:00",
			[]string{"2024-10-28T02:30:00+01:00"}},
		{"daily spring forward New York", "daily 02:30 in America/New_York", "2024-03-09T12:00:00-05:00",
			[]string{"2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"}},
		{"daily fall back New York: 01:30 runs once, first", "daily 01:30 in America/New_York", "2024-11-02T12:00:00-04:00",
			[]string{"2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"}},
		{"daily at a midnight that does not exist (Santiago)", "daily 00:00 in America/Santiago", "2024-09-07T12:00:00-04:00",
			[]string{"2024-09-08T01:00:00-03:00", "2024-09-09T00:00:00-03:00"}},
		{"daily on the day Samoa skipped runs when the gap ends", "daily 12:00 in Pacific/Apia", "2011-12-29T13:00:00-10:00",
			[]string{"2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00", "2012-01-01T12:00:00+14:00"}},
		{"daily spring forward in 2100 (zone rules beyond the tables)", "daily 02:30 in Europe/Berlin", "2100-03-27T12:00:00+01:00",
			[]string{"2100-03-28T03:00:00+02:00", "2100-03-29T02:30:00+02:00"}},

		// Weekly.
		{"weekly across spring forward", "weekly mon,thu 08:00 in America/New_York", "2024-03-07T09:00:00-05:00",
			[]string{"2024-03-11T08:00:00-04:00", "2024-03-14T08:00:00-04:00", "2024-03-18T08:00:00-04:00"}},
		{"weekly days in any order", "weekly thu,mon 08:00 in America/New_York", "2024-03-07T09:00:00-05:00",
			[]string{"2024-03-11T08:00:00-04:00", "2024-03-14T08:00:00-04:00"}},
		{"weekly sunday in the gap", "weekly sun 02:30 in Europe/Berlin", "2024-03-24T03:00:00+01:00",
			[]string{"2024-03-31T03:00:00+02:00", "2024-04-07T02:30:00+02:00"}},
		{"weekly sunday in the repeated hour", "weekly sun 02:30 in Europe/Berlin", "2024-10-20T03:00:00+02:00",
			[]string{"2024-10-27T02:30:00+02:00", "2024-11-03T02:30:00+01:00"}},

		// Monthly: a date past the month's end means its last day.
		{"monthly 31st in a non-leap year", "monthly 31 12:00", "2023-01-31T12:00:00Z",
			[]string{"2023-02-28T12:00:00Z", "2023-03-31T12:00:00Z", "2023-04-30T12:00:00Z", "2023-05-31T12:00:00Z"}},
		{"monthly 31st in a leap year", "monthly 31 12:00", "2024-01-31T12:00:00Z",
			[]string{"2024-02-29T12:00:00Z", "2024-03-31T12:00:00Z"}},
		{"monthly 29th, non-leap", "monthly 29 12:00", "2023-01-30T00:00:00Z",
			[]string{"2023-02-28T12:00:00Z", "2023-03-29T12:00:00Z"}},
		{"monthly 29th, leap", "monthly 29 12:00", "2024-01-30T00:00:00Z",
			[]string{"2024-02-29T12:00:00Z", "2024-03-29T12:00:00Z"}},
		{"monthly 29th, 2100 is not a leap year", "monthly 29 12:00", "2100-02-01T00:00:00Z",
			[]string{"2100-02-28T12:00:00Z"}},
		{"monthly 29th, 2000 is a leap year", "monthly 29 12:00", "2000-02-01T00:00:00Z",
			[]string{"2000-02-29T12:00:00Z"}},
		{"monthly 30,31 collapse to one run in short months", "monthly 30,31 12:00", "2023-01-31T12:00:00Z",
			[]string{"2023-02-28T12:00:00Z", "2023-03-30T12:00:00Z", "2023-03-31T12:00:00Z", "2023-04-30T12:00:00Z", "2023-05-30T12:00:00Z", "2023-05-31T12:00:00Z"}},
		{"monthly dates in any order", "monthly 31,1 00:00", "2024-04-29T00:00:00Z",
			[]string{"2024-04-30T00:00:00Z", "2024-05-01T00:00:00Z", "2024-05-31T00:00:00Z", "2024-06-01T00:00:00Z"}},
		{"monthly across spring forward", "monthly 1,15 23:00 in America/New_York", "2024-02-15T23:00:00-05:00",
			[]string{"2024-03-01T23:00:00-05:00", "2024-03-15T23:00:00-04:00"}},
		{"monthly year end", "monthly 31 23:59 in Europe/Berlin", "2024-12-01T00:00:00+01:00",
			[]string{"2024-12-31T23:59:00+01:00", "2025-01-31T23:59:00+01:00", "2025-02-28T23:59:00+01:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.spec)
			loc, _ := s.Location()
			at := mustTime(t, tt.after)
			for i, w := range tt.want {
				want := mustTime(t, w)
				got, ok := s.Next(at)
				if !ok {
					t.Fatalf("%q: Next #%d after %v: no run", tt.spec, i, at)
				}
				if !got.Equal(want) {
					t.Fatalf("%q: Next #%d after %v = %v, want %v", tt.spec, i, at, got, want.In(loc))
				}
				if got.Location() != loc {
					t.Errorf("%q: Next returned a time in %v, want the schedule's zone %v", tt.spec, got.Location(), loc)
				}
				at = got
			}
		})
	}
}

func TestNextNone(t *testing.T) {
	for _, s := range []Schedule{
		{Kind: None},
		{Kind: None, TimeZone: "Europe/Berlin"},
		{},                        // invalid: no kind
		{Kind: Daily, At: "7:00"}, // invalid: not HH:MM
		{Kind: Minutes, Every: 0}, // invalid: zero interval
		{Kind: Daily, At: "07:00", TimeZone: "Nowhere/Nothing"}, // invalid zone
	} {
		if got, ok := s.Next(mustTime(t, "2024-01-01T00:00:00Z")); ok || !got.IsZero() {
			t.Errorf("%+v: Next = %v, %v; want no run", s, got, ok)
		}
	}
}

// clock is the test's controllable time source: the scheduler loop below
// reads it and moves it, and never sleeps.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Set(t time.Time)         { c.now = t }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func TestDue(t *testing.T) {
	daily := mustParse(t, "daily 03:00")
	half := mustParse(t, "every 30m")
	tests := []struct {
		name     string
		s        Schedule
		lastRun  string // "" for never
		now      string
		wantDue  bool
		wantNext string // "" for none
	}{
		{"not yet", daily, "2024-05-01T03:00:05Z", "2024-05-01T12:00:00Z", false, "2024-05-02T03:00:00Z"},
		{"slot reached exactly", daily, "2024-05-01T03:00:05Z", "2024-05-02T03:00:00Z", true, "2024-05-03T03:00:00Z"},
		{"slot passed", daily, "2024-05-01T03:00:05Z", "2024-05-02T03:07:00Z", true, "2024-05-03T03:00:00Z"},
		{"3-day outage runs once", daily, "2024-05-01T03:00:05Z", "2024-05-04T10:00:00Z", true, "2024-05-05T03:00:00Z"},
		{"after the catch-up run nothing is due", daily, "2024-05-04T10:00:00Z", "2024-05-04T10:00:00Z", false, "2024-05-05T03:00:00Z"},
		{"3-day outage, every 30m, runs once", half, "2024-05-01T03:00:00Z", "2024-05-04T10:10:00Z", true, "2024-05-04T10:30:00Z"},
		{"never run waits for the first slot", daily, "", "2024-05-01T12:00:00Z", false, "2024-05-02T03:00:00Z"},
		{"clock set back: wait for the slot after the last run", daily, "2024-05-03T03:00:00Z", "2024-05-01T12:00:00Z", false, "2024-05-04T03:00:00Z"},
		{"none is never due", Schedule{Kind: None}, "2024-05-01T03:00:00Z", "2024-06-01T03:00:00Z", false, ""},
		{"invalid is never due", Schedule{Kind: "yearly"}, "2024-05-01T03:00:00Z", "2026-06-01T03:00:00Z", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last time.Time
			if tt.lastRun != "" {
				last = mustTime(t, tt.lastRun)
			}
			due, next := Due(tt.s, last, mustTime(t, tt.now))
			if due != tt.wantDue {
				t.Errorf("due = %v, want %v", due, tt.wantDue)
			}
			if tt.wantNext == "" {
				if !next.IsZero() {
					t.Errorf("next = %v, want none", next)
				}
			} else if want := mustTime(t, tt.wantNext); !next.Equal(want) {
				t.Errorf("next = %v, want %v", next, want)
			}
		})
	}
}

// TestDueSchedulerOutage drives a minimal scheduler loop with a
// controllable clock through ten days with a three-day outage, the way the
// service will: wake at next, ask Due, run when due, record the start as the
// last run. The outage must cost exactly one catch-up run.
func TestDueSchedulerOutage(t *testing.T) {
	tests := []struct {
		spec string
		want []string
	}{
		{"daily 03:00 in Europe/Berlin", []string{
			"2024-03-26T03:00:00+01:00", "2024-03-27T03:00:00+01:00",
			// down from the 27th at noon until the 30th at 15:20
			"2024-03-30T15:20:00+01:00",
			"2024-03-31T03:00:00+02:00", "2024-04-01T03:00:00+02:00", "2024-04-02T03:00:00+02:00",
		}},
		{"every 12h from 06:00", []string{
			"2024-03-25T18:00:00Z", "2024-03-26T06:00:00Z", "2024-03-26T18:00:00Z", "2024-03-27T06:00:00Z",
			"2024-03-30T14:20:00Z",
			"2024-03-30T18:00:00Z", "2024-03-31T06:00:00Z", "2024-03-31T18:00:00Z", "2024-04-01T06:00:00Z",
			"2024-04-01T18:00:00Z", "2024-04-02T06:00:00Z",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s := mustParse(t, tt.spec)
			start := mustTime(t, "2024-03-25T12:00:00Z")
			down := mustTime(t, "2024-03-27T11:00:00Z")
			up := mustTime(t, "2024-03-30T14:20:00Z")
			end := mustTime(t, "2024-04-02T12:00:00Z")

			c := &clock{now: start}
			lastRun := start // the source was created at start
			var runs []string
			for steps := 0; c.Now().Before(end); steps++ {
				if steps > 1000 {
					t.Fatal("scheduler loop did not finish")
				}
				due, next := Due(s, lastRun, c.Now())
				if due {
					runs = append(runs, c.Now().In(mustLoc(t, s)).Format(time.RFC3339))
					lastRun = c.Now()
				}
				if !next.After(c.Now()) {
					t.Fatalf("at %v next %v is not in the future", c.Now(), next)
				}
				if !next.Before(down) && next.Before(up) {
					c.Set(up) // the service was off; it wakes when it comes back
				} else {
					c.Set(next)
				}
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, mustTime(t, w).In(mustLoc(t, s)).Format(time.RFC3339))
			}
			if !slices.Equal(runs, want) {
				t.Errorf("runs:\n got %q\nwant %q", runs, want)
			}
		})
	}
}

func mustLoc(t testing.TB, s Schedule) *time.Location {
	t.Helper()
	l, err := s.Location()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDefaultDaily(t *testing.T) {
	a := DefaultDaily("src-1", "Europe/Berlin")
	if err := a.Validate(); err != nil {
		t.Fatalf("DefaultDaily is invalid: %v", err)
	}
	if a.Kind != Daily || a.TimeZone != "Europe/Berlin" {
		t.Errorf("DefaultDaily = %+v, want daily in Europe/Berlin", a)
	}
	if b := DefaultDaily("src-1", "Europe/Berlin"); b.At != a.At {
		t.Errorf("DefaultDaily is not deterministic: %q then %q", a.At, b.At)
	}
	if u := DefaultDaily("src-1", ""); u.At != a.At || u.TimeZone != "" {
		t.Errorf("DefaultDaily(src-1, \"\") = %+v, want the same time in UTC", u)
	}
	// Spread: many sources must not pile onto a few times.
	minutes := map[string]bool{}
	hours := map[string]bool{}
	for i := range 1000 {
		s := DefaultDaily("source-"+strconv.Itoa(i), "")
		if err := s.Validate(); err != nil {
			t.Fatalf("DefaultDaily(source-%d) invalid: %v", i, err)
		}
		minutes[s.At] = true
		hours[s.At[:2]] = true
	}
	if len(hours) != 24 {
		t.Errorf("1000 sources use %d hours of the day, want all 24", len(hours))
	}
	// 1000 ids over 1440 minutes: a uniform spread gives about 720 distinct.
	if len(minutes) < 600 {
		t.Errorf("1000 sources share only %d distinct times", len(minutes))
	}
}
