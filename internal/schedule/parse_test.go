package schedule

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		spec string
		want Schedule
		str  string // String of the result; "" means spec itself
	}{
		{"none", Schedule{Kind: None}, ""},
		{"NONE in Europe/Berlin", Schedule{Kind: None, TimeZone: "Europe/Berlin"}, "none in Europe/Berlin"},
		{"every 30m", Schedule{Kind: Minutes, Every: 30}, ""},
		{"every 30 minutes", Schedule{Kind: Minutes, Every: 30}, "every 30m"},
		{"every 1 minute", Schedule{Kind: Minutes, Every: 1}, "every 1m"},
		{"Every 90min in UTC", Schedule{Kind: Minutes, Every: 90, TimeZone: "UTC"}, "every 90m in UTC"},
		{"every 1440m", Schedule{Kind: Minutes, Every: 1440}, ""},
		{"every 6h from 02:00", Schedule{Kind: Hours, Every: 6, At: "02:00"}, ""},
		{"every 6 hours from 2:00 in Europe/Berlin", Schedule{Kind: Hours, Every: 6, At: "02:00", TimeZone: "Europe/Berlin"}, "every 6h from 02:00 in Europe/Berlin"},
		{"every 1 hour", Schedule{Kind: Hours, Every: 1, At: "00:00"}, "every 1h from 00:00"},
		{"every 24h from 23:59", Schedule{Kind: Hours, Every: 24, At: "23:59"}, ""},
		{"daily 03:15", Schedule{Kind: Daily, At: "03:15"}, ""},
		{"  daily   at  3:15   in   America/New_York ", Schedule{Kind: Daily, At: "03:15", TimeZone: "America/New_York"}, "daily 03:15 in America/New_York"},
		{"daily 00:00", Schedule{Kind: Daily, At: "00:00"}, ""},
		{"weekly mon,thu 08:00", Schedule{Kind: Weekly, Weekdays: []time.Weekday{time.Monday, time.Thursday}, At: "08:00"}, ""},
		{"weekly Thursday, Monday at 08:00", Schedule{Kind: Weekly, Weekdays: []time.Weekday{time.Thursday, time.Monday}, At: "08:00"}, "weekly thu,mon 08:00"},
		{"weekly sun,mon,tue,wed,thu,fri,sat 23:59", Schedule{Kind: Weekly, Weekdays: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, At: "23:59"}, ""},
		{"weekly SAT ,SUN 06:00", Schedule{Kind: Weekly, Weekdays: []time.Weekday{time.Saturday, time.Sunday}, At: "06:00"}, "weekly sat,sun 06:00"},
		{"monthly 1,31 23:00", Schedule{Kind: Monthly, Days: []int{1, 31}, At: "23:00"}, ""},
		{"monthly 15 at 12:00 in Asia/Tokyo", Schedule{Kind: Monthly, Days: []int{15}, At: "12:00", TimeZone: "Asia/Tokyo"}, "monthly 15 12:00 in Asia/Tokyo"},
		{"monthly 31, 1 00:00", Schedule{Kind: Monthly, Days: []int{31, 1}, At: "00:00"}, "monthly 31,1 00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := Parse(tt.spec)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse = %#v, want %#v", got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.spec
			}
			if got.String() != str {
				t.Errorf("String = %q, want %q", got.String(), str)
			}
			again, err := Parse(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("Parse(String()) = %#v, %v; want %#v", again, err, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		spec  string
		field string
		msg   string // a part of the message
	}{
		{"", "kind", "empty"},
		{"   ", "kind", "empty"},
		{"hourly", "kind", `unknown schedule "hourly"`},
		{"none please", "kind", `unexpected "please" after none`},
		{"every", "every", "needs an interval"},
		{"every 30", "every", "needs a unit"},
		{"every m", "every", `interval "m" is not a whole number`},
		{"every -5m", "every", `interval "-5m" is not a whole number`},
		{"every 1.5h", "every", `unknown unit ".5h"`},
		{"every 0m", "every", "every 0 minutes is out of range 1-1440"},
		{"every 1441m", "every", "out of range 1-1440"},
		{"every 99999999m", "every", "not a whole number"},
		{"every 25h", "every", "every 25 hours is out of range 1-24"},
		{"every 0h from 02:00", "every", "out of range 1-24"},
		{"every 2d", "every", `use "daily HH:MM"`},
		{"every 3 weeks", "every", `unknown unit "weeks"`},
		{"every 30m from 01:00", "at", `"from" applies only to hours`},
		{"every 30m sharp", "kind", `unexpected "sharp"`},
		{"every 6h at 02:00", "at", `want "from HH:MM"`},
		{"every 6h from", "at", `"from" needs one start time`},
		{"every 6h from 02:00 daily", "at", `"from" needs one start time`},
		{"every 6h from 2am", "at", `time "2am" is not a 24-hour HH:MM`},
		{"daily", "at", "daily needs a time of day"},
		{"daily at", "at", "daily needs a time of day"},
		{"daily 24:00", "at", "hour 24 is out of range"},
		{"daily 12:60", "at", "minute 60 is out of range"},
		{"daily 12:5", "at", `time "12:5" is not a 24-hour HH:MM`},
		{"daily 123:00", "at", "is not a 24-hour HH:MM"},
		{"daily 12:00 13:00", "at", `unexpected "13:00"`},
		{"daily 12:00 in", "time_zone", `"in" must be followed by a time zone`},
		{"daily 12:00 in Mars/Olympus", "time_zone", `unknown time zone "Mars/Olympus"`},
		{"daily 12:00 in europe/berlin", "time_zone", `unknown time zone "europe/berlin"`},
		{"daily 12:00 in Local", "time_zone", "depends on the server"},
		{"daily 12:00 in ../../etc/passwd", "time_zone", "unknown time zone"},
		{"in Europe/Berlin", "kind", "no schedule before the time zone"},
		{"weekly 08:00", "weekdays", "weekly needs days and a time"},
		{"weekly mon,thu", "at", "weekly needs a time of day"},
		{"weekly xyz 08:00", "weekdays", `unknown weekday "xyz"`},
		{"weekly mon,,thu 08:00", "weekdays", `unknown weekday ""`},
		{"weekly mon,mon 08:00", "weekdays", "mon is given twice"},
		{"monthly 10:00", "days", "monthly needs one or two dates"},
		{"monthly 1,2,3 10:00", "days", "needs one or two dates, not 3"},
		{"monthly 0 10:00", "days", "date 0 is out of range 1-31"},
		{"monthly 32 10:00", "days", "date 32 is out of range 1-31"},
		{"monthly 1st 10:00", "days", `date "1st" is not a day of the month`},
		{"monthly 5,5 10:00", "days", "date 5 is given twice"},
		{"monthly 1,15", "at", "monthly needs a time of day"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse = %#v, want an error", s)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			if e.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", e.Field, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if e.Spec != tt.spec || (tt.spec != "" && !strings.Contains(err.Error(), tt.spec)) {
				t.Errorf("error %q does not quote the spec %q", err, tt.spec)
			}
			if !reflect.DeepEqual(s, Schedule{}) {
				t.Errorf("Parse returned %#v with its error, want the zero Schedule", s)
			}
		})
	}
}

// TestValidate covers the structures the JSON API can send, which Parse
// never produces.
func TestValidate(t *testing.T) {
	tests := []struct {
		s     Schedule
		field string // "" for valid
	}{
		{Schedule{Kind: Daily, At: "03:15"}, ""},
		{Schedule{Kind: Weekly, Weekdays: []time.Weekday{time.Friday}, At: "03:15", TimeZone: "Europe/Berlin"}, ""},
		{Schedule{}, "kind"},
		{Schedule{Kind: "yearly", At: "03:15"}, "kind"},
		{Schedule{Kind: "Daily", At: "03:15"}, "kind"},
		{Schedule{Kind: None, Every: 5}, "every"},
		{Schedule{Kind: None, At: "03:15"}, "at"},
		{Schedule{Kind: Minutes, Every: 30, At: "03:15"}, "at"},
		{Schedule{Kind: Minutes, Every: -1}, "every"},
		{Schedule{Kind: Daily, Every: 1, At: "03:15"}, "every"},
		{Schedule{Kind: Hours, Every: 6}, "at"},
		{Schedule{Kind: Daily}, "at"},
		{Schedule{Kind: Daily, At: "3:15"}, "at"}, // Parse's shorthand, not the stored form
		{Schedule{Kind: Daily, At: "03:15:00"}, "at"},
		{Schedule{Kind: Daily, At: "03:15", Weekdays: []time.Weekday{1}}, "weekdays"},
		{Schedule{Kind: Daily, At: "03:15", Days: []int{1}}, "days"},
		{Schedule{Kind: Weekly, At: "03:15"}, "weekdays"},
		{Schedule{Kind: Weekly, At: "03:15", Weekdays: []time.Weekday{7}}, "weekdays"},
		{Schedule{Kind: Weekly, At: "03:15", Weekdays: []time.Weekday{-1}}, "weekdays"},
		{Schedule{Kind: Weekly, At: "03:15", Weekdays: []time.Weekday{2, 2}}, "weekdays"},
		{Schedule{Kind: Monthly, At: "03:15"}, "days"},
		{Schedule{Kind: Monthly, At: "03:15", Days: []int{1, 2, 3}}, "days"},
		{Schedule{Kind: Monthly, At: "03:15", Days: []int{1, 1}}, "days"},
		{Schedule{Kind: Monthly, At: "03:15", Days: []int{0}}, "days"},
		{Schedule{Kind: Daily, At: "03:15", TimeZone: "Europe/Nowhere"}, "time_zone"},
	}
	for _, tt := range tests {
		err := tt.s.Validate()
		if tt.field == "" {
			if err != nil {
				t.Errorf("%#v: Validate = %v, want nil", tt.s, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Field != tt.field || !errors.Is(err, ErrInvalid) {
			t.Errorf("%#v: Validate = %v, want an *Error for field %q", tt.s, err, tt.field)
		}
	}
}

func TestJSON(t *testing.T) {
	s := mustParse(t, "weekly mon,thu 08:00 in Europe/Berlin")
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"kind":"weekly","at":"08:00","weekdays":[1,4],"time_zone":"Europe/Berlin"}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	var back Schedule
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("JSON round trip = %#v, want %#v", back, s)
	}
}

// FuzzParse checks that whatever Parse accepts is valid, prints back to a
// text that parses to the same schedule, and has strictly increasing run
// times that Next finds again from just before each one.
func FuzzParse(f *testing.F) {
	for _, spec := range []string{
		"none", "every 30m", "every 7 minutes in Asia/Kolkata", "every 6h from 02:00 in Europe/Berlin",
		"every 5h from 23:30 in America/New_York", "daily 02:30 in Europe/Berlin", "daily 01:30 in America/New_York",
		"daily 00:00 in America/Santiago", "daily 12:00 in Pacific/Apia", "weekly sun 02:30 in Australia/Lord_Howe",
		"weekly mon,thu 08:00", "monthly 30,31 12:00", "monthly 29 02:30 in Europe/Berlin", "monthly 31,1 00:00 in Antarctica/Troll",
	} {
		f.Add(spec, int64(1711846800)) // 2024-03-31, Europe's spring forward
		f.Add(spec, int64(1730595600)) // 2024-11-03, America's fall back
	}
	f.Fuzz(func(t *testing.T, spec string, unix int64) {
		s, err := Parse(spec)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v is not ErrInvalid", spec, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse(%q) = %#v, which Validate refuses: %v", spec, s, err)
		}
		str := s.String()
		again, err := Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q, which does not parse: %v", spec, str, err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q) = %#v", spec, s, str, again)
		}
		if again.String() != str {
			t.Fatalf("String is not stable: %q then %q", str, again.String())
		}

		// Start anywhere between 1900 and 2200.
		const lo, span = -2208988800, 300 * 365 * 24 * 3600
		at := time.Unix(lo+((unix%span)+span)%span, unix&(1<<30-1))
		for i := range 20 {
			next, ok := s.Next(at)
			if s.Kind == None {
				if ok {
					t.Fatalf("%q: Next(%v) = %v for none", str, at, next)
				}
				return
			}
			if !ok || !next.After(at) {
				t.Fatalf("%q: Next #%d (%v) = %v, %v; want a later time", str, i, at, next, ok)
			}
			if again, _ := s.Next(next.Add(-time.Nanosecond)); !again.Equal(next) {
				t.Fatalf("%q: Next(%v) = %v but Next(1ns earlier) = %v", str, at, next, again)
			}
			at = next
		}
	})
}
