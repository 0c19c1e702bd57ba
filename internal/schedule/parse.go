package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Parse reads a schedule written the way String writes it:
//
//	none
//	every 30m                 (also "every 30 minutes", "every 30min")
//	every 6h from 02:00       (also "every 6 hours from 2:00"; no "from" means 00:00)
//	daily 03:15               (also "daily at 03:15")
//	weekly mon,thu 08:00      (also full day names, "mon, thu", "at 08:00")
//	monthly 1,31 23:00        (one or two dates; beyond a month's end means its last day)
//
// each optionally followed by " in ZONE" with an IANA zone name. Keywords
// and day names are case-insensitive; zone names are not. Times are on a
// 24-hour clock. Errors are *Error values naming the part that is wrong.
func Parse(spec string) (Schedule, error) {
	s, err := parse(spec)
	if err == nil {
		// The grammar checks the form; Validate checks ranges, repeats and
		// the zone, with the same messages the JSON form gets.
		err = s.Validate()
	}
	if err != nil {
		e := err.(*Error)
		e.Spec = spec
		return Schedule{}, e
	}
	return s, nil
}

const examples = `"none", "every 30m", "every 6h from 02:00", "daily 03:15", "weekly mon,thu 08:00" or "monthly 1,15 23:00"`

// parse reads the grammar; every error it returns is an *Error.
func parse(spec string) (Schedule, error) {
	// "mon, thu" and "1 , 15" are one list: glue the commas to their items
	// before splitting on blanks.
	var b strings.Builder
	for i, f := range strings.Fields(spec) {
		if i > 0 && !strings.HasPrefix(f, ",") && !strings.HasSuffix(b.String(), ",") {
			b.WriteByte(' ')
		}
		b.WriteString(f)
	}
	words := strings.Fields(b.String())
	if len(words) == 0 {
		return Schedule{}, invalid("kind", "empty; want %s", examples)
	}
	var s Schedule
	if n := len(words); n >= 2 && strings.EqualFold(words[n-2], "in") {
		s.TimeZone = words[n-1]
		words = words[:n-2]
		if _, err := loadLocation(s.TimeZone); err != nil {
			return Schedule{}, err
		}
	} else if strings.EqualFold(words[n-1], "in") {
		return Schedule{}, invalid("time_zone", `"in" must be followed by a time zone such as Europe/Berlin`)
	}
	if len(words) == 0 {
		return Schedule{}, invalid("kind", "no schedule before the time zone; want %s", examples)
	}
	kw := strings.ToLower(words[0])
	rest := words[1:]
	switch kw {
	case "none":
		s.Kind = None
		if len(rest) > 0 {
			return Schedule{}, invalid("kind", "unexpected %q after none", strings.Join(rest, " "))
		}
		return s, nil
	case "every":
		return parseEvery(s, rest)
	case "daily":
		s.Kind = Daily
		at, err := parseAt(s.Kind, rest)
		s.At = at
		return s, err
	case "weekly":
		s.Kind = Weekly
		if len(rest) == 0 || (len(rest) == 1 && strings.Contains(rest[0], ":")) {
			return Schedule{}, invalid("weekdays", "weekly needs days and a time, as in \"weekly mon,thu 08:00\"")
		}
		for _, name := range splitList(rest[0]) {
			d, ok := parseWeekday(name)
			if !ok {
				return Schedule{}, invalid("weekdays", "unknown weekday %q (want mon, tue, wed, thu, fri, sat or sun)", name)
			}
			s.Weekdays = append(s.Weekdays, d)
		}
		at, err := parseAt(s.Kind, rest[1:])
		s.At = at
		return s, err
	case "monthly":
		s.Kind = Monthly
		if len(rest) == 0 || (len(rest) == 1 && strings.Contains(rest[0], ":")) {
			return Schedule{}, invalid("days", "monthly needs one or two dates and a time, as in \"monthly 1,15 23:00\"")
		}
		for _, item := range splitList(rest[0]) {
			d, ok := atoi(item)
			if !ok || len(item) > 2 {
				return Schedule{}, invalid("days", "date %q is not a day of the month (want 1-31)", item)
			}
			s.Days = append(s.Days, d)
		}
		at, err := parseAt(s.Kind, rest[1:])
		s.At = at
		return s, err
	default:
		return Schedule{}, invalid("kind", "unknown schedule %q; want %s", words[0], examples)
	}
}

// parseEvery reads what follows "every": an interval with its unit, glued
// or not ("30m", "30 minutes"), and for hours an optional "from HH:MM".
func parseEvery(s Schedule, rest []string) (Schedule, error) {
	if len(rest) == 0 {
		return Schedule{}, invalid("every", `"every" needs an interval, as in "every 30m" or "every 6h from 02:00"`)
	}
	num, unit := rest[0], ""
	if i := strings.IndexFunc(num, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		num, unit = num[:i], num[i:]
		rest = rest[1:]
	} else if len(rest) >= 2 {
		unit = rest[1]
		rest = rest[2:]
	} else {
		return Schedule{}, invalid("every", "interval %q needs a unit: m (minutes) or h (hours)", num)
	}
	n, ok := atoi(num)
	if !ok {
		return Schedule{}, invalid("every", "interval %q is not a whole number of minutes (1-%d) or hours (1-%d)", num+unit, MaxMinutes, MaxHours)
	}
	s.Every = n
	switch strings.ToLower(unit) {
	case "m", "min", "mins", "minute", "minutes":
		s.Kind = Minutes
		if len(rest) > 0 {
			if strings.EqualFold(rest[0], "from") {
				return Schedule{}, invalid("at", `every N minutes runs on the clock's multiples of N since midnight UTC; "from" applies only to hours`)
			}
			return Schedule{}, invalid("kind", "unexpected %q after the interval", strings.Join(rest, " "))
		}
		return s, nil
	case "h", "hr", "hrs", "hour", "hours":
		s.Kind = Hours
		s.At = "00:00"
		if len(rest) == 0 {
			return s, nil
		}
		if !strings.EqualFold(rest[0], "from") {
			return Schedule{}, invalid("at", "unexpected %q; want \"from HH:MM\" after the interval", strings.Join(rest, " "))
		}
		if len(rest) != 2 {
			return Schedule{}, invalid("at", `"from" needs one start time, as in "from 02:00"`)
		}
		hh, mm, err := parseClock(rest[1], false)
		if err != nil {
			return Schedule{}, invalid("at", "%s", err)
		}
		s.At = fmt.Sprintf("%02d:%02d", hh, mm)
		return s, nil
	case "d", "day", "days":
		return Schedule{}, invalid("every", `for whole days use "daily HH:MM", "weekly DAYS HH:MM" or "monthly DATES HH:MM"`)
	default:
		return Schedule{}, invalid("every", "unknown unit %q (want m for minutes or h for hours)", unit)
	}
}

// atoi reads a short unsigned decimal number; unlike strconv.Atoi it
// refuses signs, and it caps the length so huge numbers are not a
// different error from large ones.
func atoi(v string) (int, bool) {
	if v == "" || len(v) > 6 {
		return 0, false
	}
	n := 0
	for _, r := range v {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, true
}

// parseAt reads the time that ends daily, weekly and monthly schedules,
// optionally preceded by "at".
func parseAt(k Kind, rest []string) (string, error) {
	if len(rest) > 0 && strings.EqualFold(rest[0], "at") {
		rest = rest[1:]
	}
	switch len(rest) {
	case 0:
		return "", invalid("at", "%s needs a time of day, HH:MM", k)
	case 1:
	default:
		return "", invalid("at", "unexpected %q after the time of day", strings.Join(rest[1:], " "))
	}
	hh, mm, err := parseClock(rest[0], false)
	if err != nil {
		return "", invalid("at", "%s", err)
	}
	return fmt.Sprintf("%02d:%02d", hh, mm), nil
}

// parseClock reads a 24-hour "HH:MM". Parse also takes "H:MM"; Validate
// (strict) wants exactly the form String writes, so that JSON and text agree.
func parseClock(v string, strict bool) (hh, mm int, err error) {
	h, m, ok := strings.Cut(v, ":")
	bad := fmt.Errorf("time %q is not a 24-hour HH:MM", v)
	if !ok || len(m) != 2 || len(h) < 1 || len(h) > 2 || (strict && len(h) != 2) {
		return 0, 0, bad
	}
	for _, r := range h + m {
		if r < '0' || r > '9' {
			return 0, 0, bad
		}
	}
	hh, _ = strconv.Atoi(h)
	mm, _ = strconv.Atoi(m)
	if hh > 23 {
		return 0, 0, fmt.Errorf("time %q: hour %d is out of range 00-23", v, hh)
	}
	if mm > 59 {
		return 0, 0, fmt.Errorf("time %q: minute %d is out of range 00-59", v, mm)
	}
	return hh, mm, nil
}

// splitList splits "a,b" into its items; empty items are kept so that
// "mon,,thu" is reported rather than silently read as "mon,thu".
func splitList(v string) []string {
	return strings.Split(v, ",")
}

func parseWeekday(name string) (time.Weekday, bool) {
	name = strings.ToLower(name)
	for d := time.Sunday; d <= time.Saturday; d++ {
		full := strings.ToLower(d.String())
		if name == dayNames[d] || name == full {
			return d, true
		}
	}
	return 0, false
}
