package schedule

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzScheduleJSON feeds Validate the JSON form the API takes (FuzzParse
// in parse_test.go covers the text form): whatever it accepts has a next
// run and round-trips through String and Parse.
func FuzzScheduleJSON(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"daily","at":"03:15","time_zone":"Europe/Berlin"}`,
		`{"kind":"weekly","weekdays":[1,4],"at":"08:00","time_zone":""}`,
		`{"kind":"monthly","days":[31],"at":"23:00"}`,
		`{"kind":"minutes","every":5}`, `{"kind":"hours","every":6,"at":"02:00"}`,
		`{"kind":"weekly","weekdays":[7],"at":"08:00"}`, `{"kind":"daily","at":"25:00"}`, `{"kind":"none"}`,
		`{"kind":"daily","at":"03:15","time_zone":"../../../etc/passwd"}`, `{"kind":"daily","at":"03:15","time_zone":"Local"}`,
		`{"kind":"monthly","days":[1,1],"at":"00:00"}`, `{"kind":"minutes","every":-5}`, `{"kind":"hours","every":6,"at":"2:00"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Schedule
		if json.Unmarshal(data, &s) != nil || s.Validate() != nil {
			return
		}
		back, err := Parse(s.String())
		if err != nil || back.String() != s.String() {
			t.Fatalf("%s -> %q -> %+v, %v", data, s.String(), back, err)
		}
		from := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
		if next, ok := s.Next(from); s.Kind != None && (!ok || !next.After(from)) {
			t.Fatalf("%s: next run after %s is %s (%v)", data, from, next, ok)
		}
	})
}
