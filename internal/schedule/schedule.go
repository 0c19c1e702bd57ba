// Package schedule describes when a source synchronizes and computes its
// run times. It is pure: no I/O beyond loading time zones (from the system
// zoneinfo, or the copy embedded by time/tzdata), no goroutines, and every
// function takes the current time as an argument, so the service's scheduler
// and its tests decide what "now" is.
//
// # Kinds
//
// A Schedule is one of the kinds the seed products offer:
//
//	none                          manual only (Sophos "None")
//	every 30m                     every N minutes (Azure AD Connect's default is 30)
//	every 6h from 02:00           every N hours from a local start time (Sophos "Hourly")
//	daily 03:15                   once a day at a local time (Duo, Sophos "Daily")
//	weekly mon,thu 08:00          on chosen weekdays at a local time (Sophos "Weekly")
//	monthly 1,31 23:00            on up to two dates at a local time (Sophos "Monthly")
//
// Each may end with " in ZONE", an IANA time zone such as Europe/Berlin; with
// no zone the schedule runs in UTC. DefaultDaily spreads new sources' daily
// runs over the day, as Duo's "once a day at a set time chosen at random".
//
// # Local time and daylight saving
//
// Every kind except minutes is a set of wall-clock slots: times of day on the
// days the kind selects, in the schedule's zone. A slot runs at the first
// instant at which the local clock shows the slot's date and time or later.
// That one rule settles both daylight-saving changes:
//
//   - Spring forward (the clock skips an hour): a slot inside the skipped hour
//     runs once, at the first instant after the gap. In Europe/Berlin on
//     2024-03-31 the clock jumps from 02:00 CET to 03:00 CEST, so a 02:30 run
//     happens at 03:00 CEST. Two slots that land on the same instant run once.
//   - Fall back (the clock repeats an hour): a slot inside the repeated hour
//     runs once, at its first occurrence. In Europe/Berlin on 2024-10-27 a
//     02:30 run happens at 02:30 CEST, not again at 02:30 CET.
//
// "Every N hours from HH:MM" follows Sophos: its slots are the times of day
// HH:MM, HH:MM+N, HH:MM+2N, ... taken modulo 24 hours, the same every day, so
// "every 6h from 08:00" runs at 02:00, 08:00, 14:00 and 20:00 local time. The
// series restarts at the start time each day: when N does not divide 24, the
// interval that crosses the start time is shorter (every 5h from 02:00 runs
// at 02, 07, 12, 17, 22, then 02 again). Because the slots are on the wall
// clock, the elapsed time between two runs across a daylight-saving change
// is N-1 or N+1 hours; the runs keep reading the same on the clock.
//
// "Every N minutes" is not local: its slots are the multiples of N minutes
// since the Unix epoch, in UTC, so it is unaffected by daylight saving, and
// every 30m runs at :00 and :30 in every zone whose offset is a whole or half
// hour. The zone of such a schedule only affects how times are shown.
//
// # Short months
//
// A monthly date beyond the end of a month runs on the month's last day: the
// 31st runs on the 30th in April and on February 28th (29th in a leap year),
// and the 29th and 30th likewise in February. When both chosen dates fall on
// the same day that way ("monthly 30,31" in February) the run happens once.
//
// # Downtime
//
// Due compares the last run with now: however many slots were missed while
// the service was down, the schedule is due once, and the next time it
// reports is the first slot after now.
package schedule

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	// The embedded zone database makes IANA zones work on machines (and
	// minimal containers) without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// Kind names a kind of schedule.
type Kind string

// The kinds of schedule.
const (
	None    Kind = "none"    // manual only
	Minutes Kind = "minutes" // every Every minutes, aligned to the Unix epoch
	Hours   Kind = "hours"   // every Every hours from At, restarting at At each day
	Daily   Kind = "daily"   // every day at At
	Weekly  Kind = "weekly"  // on Weekdays at At
	Monthly Kind = "monthly" // on Days of the month at At
)

// Limits on a schedule's fields.
const (
	MaxMinutes = 24 * 60 // largest Every for Minutes
	MaxHours   = 24      // largest Every for Hours
	MaxDays    = 2       // most Days for Monthly, as Sophos allows
)

// Schedule says when a source synchronizes. The zero value is invalid (its
// Kind is empty); use None for manual-only sources.
type Schedule struct {
	Kind Kind `json:"kind"`
	// Every is the interval in minutes (Minutes) or hours (Hours); zero for
	// the other kinds.
	Every int `json:"every,omitempty"`
	// At is a local time of day, "HH:MM" on a 24-hour clock: the start time
	// for Hours, the time of the run for Daily, Weekly and Monthly; empty for
	// None and Minutes.
	At string `json:"at,omitempty"`
	// Weekdays are the days a Weekly schedule runs, without repeats.
	Weekdays []time.Weekday `json:"weekdays,omitempty"`
	// Days are the dates (1..31) a Monthly schedule runs, one or two.
	Days []int `json:"days,omitempty"`
	// TimeZone is the IANA zone the times are in; empty means UTC.
	TimeZone string `json:"time_zone"`
}

// ErrInvalid is matched (with errors.Is) by every error this package returns
// for a bad schedule or schedule text, so callers can answer with a 4xx.
var ErrInvalid = errors.New("invalid schedule")

// Error says what is wrong with a schedule or the text given to Parse.
type Error struct {
	// Spec is the text given to Parse; empty when the error comes from
	// Validate.
	Spec string
	// Field is the JSON name of the field at fault ("kind", "every", "at",
	// "weekdays", "days", "time_zone"), for an API's error shape.
	Field string
	// Msg says what is wrong, for a person.
	Msg string
}

func (e *Error) Error() string {
	if e.Spec != "" {
		return fmt.Sprintf("schedule %q: %s", e.Spec, e.Msg)
	}
	return fmt.Sprintf("schedule: %s: %s", e.Field, e.Msg)
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) *Error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate reports whether s is a complete, consistent schedule whose time
// zone exists. String and Parse round-trip every schedule Validate accepts.
func (s Schedule) Validate() error {
	switch s.Kind {
	case None, Minutes, Hours, Daily, Weekly, Monthly:
	case "":
		return invalid("kind", "kind is required (none, minutes, hours, daily, weekly or monthly)")
	default:
		return invalid("kind", "unknown kind %q (want none, minutes, hours, daily, weekly or monthly)", string(s.Kind))
	}
	switch s.Kind {
	case Minutes:
		if s.Every < 1 || s.Every > MaxMinutes {
			return invalid("every", "every %d minutes is out of range 1-%d", s.Every, MaxMinutes)
		}
	case Hours:
		if s.Every < 1 || s.Every > MaxHours {
			return invalid("every", "every %d hours is out of range 1-%d", s.Every, MaxHours)
		}
	default:
		if s.Every != 0 {
			return invalid("every", "every applies only to minutes and hours schedules, not %s", s.Kind)
		}
	}
	switch s.Kind {
	case None, Minutes:
		if s.At != "" {
			return invalid("at", "a time of day does not apply to %s schedules", s.Kind)
		}
	default:
		if s.At == "" {
			return invalid("at", "a time of day (HH:MM) is required for %s schedules", s.Kind)
		}
		if _, _, err := parseClock(s.At, true); err != nil {
			return invalid("at", "%s", err)
		}
	}
	if s.Kind == Weekly {
		if len(s.Weekdays) == 0 {
			return invalid("weekdays", "a weekly schedule needs at least one weekday")
		}
		for i, d := range s.Weekdays {
			if d < time.Sunday || d > time.Saturday {
				return invalid("weekdays", "weekday %d is out of range 0 (Sunday) - 6 (Saturday)", int(d))
			}
			if slices.Contains(s.Weekdays[:i], d) {
				return invalid("weekdays", "%s is given twice", dayName(d))
			}
		}
	} else if len(s.Weekdays) != 0 {
		return invalid("weekdays", "weekdays apply only to weekly schedules, not %s", s.Kind)
	}
	if s.Kind == Monthly {
		if len(s.Days) == 0 || len(s.Days) > MaxDays {
			return invalid("days", "a monthly schedule needs one or two dates, not %d", len(s.Days))
		}
		for i, d := range s.Days {
			if d < 1 || d > 31 {
				return invalid("days", "date %d is out of range 1-31", d)
			}
			if slices.Contains(s.Days[:i], d) {
				return invalid("days", "date %d is given twice", d)
			}
		}
	} else if len(s.Days) != 0 {
		return invalid("days", "dates apply only to monthly schedules, not %s", s.Kind)
	}
	if _, err := s.Location(); err != nil {
		return err
	}
	return nil
}

// locations caches loaded zones: LoadLocation reads and parses a zoneinfo
// file each time, and Next is called for every source on every tick.
var locations sync.Map // string -> *time.Location

// Location returns the schedule's time zone, UTC when TimeZone is empty.
func (s Schedule) Location() (*time.Location, error) {
	return loadLocation(s.TimeZone)
}

func loadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	// "Local" is whatever the host is set to, so the same schedule would
	// mean different times on different servers.
	if name == "Local" {
		return nil, invalid("time_zone", "time zone %q depends on the server; name an IANA zone such as Europe/Berlin", name)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalid("time_zone", "unknown time zone %q (want an IANA name such as Europe/Berlin or America/New_York)", name)
	}
	locations.Store(name, l)
	return l, nil
}

// String returns the schedule in the text form Parse reads, such as
// "weekly mon,thu 08:00 in Europe/Berlin".
func (s Schedule) String() string {
	var b strings.Builder
	switch s.Kind {
	case None:
		b.WriteString("none")
	case Minutes:
		fmt.Fprintf(&b, "every %dm", s.Every)
	case Hours:
		fmt.Fprintf(&b, "every %dh from %s", s.Every, s.At)
	case Daily:
		fmt.Fprintf(&b, "daily %s", s.At)
	case Weekly:
		b.WriteString("weekly ")
		for i, d := range s.Weekdays {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(dayName(d))
		}
		fmt.Fprintf(&b, " %s", s.At)
	case Monthly:
		b.WriteString("monthly ")
		for i, d := range s.Days {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&b, " %s", s.At)
	default:
		fmt.Fprintf(&b, "invalid kind %q", string(s.Kind))
	}
	if s.TimeZone != "" {
		b.WriteString(" in ")
		b.WriteString(s.TimeZone)
	}
	return b.String()
}

var dayNames = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func dayName(d time.Weekday) string {
	if d < time.Sunday || d > time.Saturday {
		return strconv.Itoa(int(d))
	}
	return dayNames[d]
}

// DefaultDaily returns the schedule of a new source: daily, at a time of day
// derived from a hash of sourceID, so that many sources' syncs (and their
// Graph traffic) are spread over the day the way Duo picks "a set time chosen
// at random", yet a source keeps its time across restarts. tz is the IANA
// zone; empty means UTC.
func DefaultDaily(sourceID string, tz string) Schedule {
	h := fnv.New32a()
	h.Write([]byte(sourceID))
	m := h.Sum32() % (24 * 60)
	return Schedule{Kind: Daily, At: fmt.Sprintf("%02d:%02d", m/60, m%60), TimeZone: tz}
}

// Next returns the first run time strictly after after, in the schedule's
// time zone. It returns false for None and for a schedule Validate refuses.
func (s Schedule) Next(after time.Time) (time.Time, bool) {
	if s.Validate() != nil || s.Kind == None {
		return time.Time{}, false
	}
	loc, _ := s.Location()
	if s.Kind == Minutes {
		// Slots are k*period seconds since the epoch; floor division so
		// that instants before 1970 work too. Sub-second parts of after
		// only move it later within its second, so the slot after its
		// whole second is the answer either way.
		period := int64(s.Every) * 60
		sec := after.Unix()
		k := sec / period
		if sec%period < 0 {
			k--
		}
		return time.Unix((k+1)*period, 0).In(loc), true
	}
	hh, mm, _ := parseClock(s.At, true)
	at := hh*60 + mm
	// Begin two civil days early: a slot of an earlier date can land after
	// `after` when a gap pushes it forward (zones have skipped whole days).
	// Each date's slots are in clock order and resolve is monotonic, so the
	// first resolved slot after `after` is the earliest one.
	la := after.In(loc)
	y, mo, d := la.Date()
	for i := -2; i <= 400; i++ {
		date := time.Date(y, mo, d+i, 0, 0, 0, 0, time.UTC)
		for _, m := range s.slotsOn(date, at) {
			dy, dm, dd := date.Date()
			t := resolve(loc, dy, dm, dd, m/60, m%60)
			if t.After(after) {
				return t, true
			}
		}
	}
	return time.Time{}, false // not reached for a valid schedule
}

// slotsOn returns the minutes after local midnight at which s runs on the
// civil date date (a UTC midnight), in increasing order.
func (s Schedule) slotsOn(date time.Time, at int) []int {
	switch s.Kind {
	case Daily:
		return []int{at}
	case Hours:
		var ms []int
		for k := 0; k*s.Every < 24; k++ {
			ms = append(ms, (at+k*s.Every*60)%(24*60))
		}
		slices.Sort(ms)
		return ms
	case Weekly:
		if slices.Contains(s.Weekdays, date.Weekday()) {
			return []int{at}
		}
	case Monthly:
		y, m, d := date.Date()
		last := daysIn(y, m)
		for _, want := range s.Days {
			if min(want, last) == d {
				return []int{at}
			}
		}
	}
	return nil
}

// daysIn returns the number of days in month m of year y.
func daysIn(y int, m time.Month) int {
	// Day 0 of the next month normalizes to the last day of this one.
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// resolve returns the first instant at which the clock in loc shows the
// civil date and time y-m-d hh:mm or later: the instant itself when it
// occurs once, its first occurrence when the clock repeats it, and the end
// of the gap when the clock skips it. time.Date does not do this: for a
// skipped time it picks an instant on the far side of the gap (02:30 on a
// spring-forward day becomes 03:30), and for a repeated one it does not
// promise which occurrence.
func resolve(loc *time.Location, y int, m time.Month, d, hh, mm int) time.Time {
	// wall is the wanted clock reading expressed as if it were UTC, so that
	// the instant showing it under offset off is wall - off.
	wall := time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
	// Offsets have never exceeded ±16h, so every instant that could show
	// wall lies within a day of it. Walk the zone periods of that window in
	// time order; the first hit is the earliest.
	const window = 26 * time.Hour
	t := wall.Add(-window).In(loc)
	limit := wall.Add(window)
	for {
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		u := wall.Add(-time.Duration(off) * time.Second)
		if (start.IsZero() || !u.Before(start)) && (end.IsZero() || u.Before(end)) {
			return u.In(loc)
		}
		if end.IsZero() || end.After(limit) {
			break
		}
		// Does the clock jump over wall at the end of this period?
		next := end.In(loc)
		_, noff := next.Zone()
		before := end.Add(time.Duration(off) * time.Second).UTC() // clock just before the change
		after := end.Add(time.Duration(noff) * time.Second).UTC() // clock just after it
		if !wall.Before(before) && wall.Before(after) {
			return next
		}
		t = next
	}
	// Unreachable for real zones; fall back to the standard library's
	// choice rather than fail.
	return time.Date(y, m, d, hh, mm, 0, 0, loc)
}

// Due reports whether a run is due at now, given when the last scheduled run
// started, and when the next one is. However many slots passed since
// lastRun (the service was down for days), due is true once: after running,
// the caller records now as the new lastRun and the missed slots are gone.
// next is the first slot after now, whether or not one is due now; it is the
// time to show and to wake up at.
//
// A zero lastRun means the schedule has never run: nothing is due until its
// first slot after now. Callers that want a source's first slot counted from
// its creation pass the creation time instead. For None, or an invalid
// schedule, Due returns false and a zero next.
func Due(s Schedule, lastRun, now time.Time) (due bool, next time.Time) {
	if lastRun.IsZero() {
		n, _ := s.Next(now)
		return false, n
	}
	n, ok := s.Next(lastRun)
	if !ok {
		return false, time.Time{}
	}
	if n.After(now) {
		return false, n
	}
	n, _ = s.Next(now)
	return true, n
}
