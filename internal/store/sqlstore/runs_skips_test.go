package sqlstore

import (
	"reflect"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
)

// A run recorded before skip codes keeps its counts by message; one
// recorded with them reads back its reasons, warnings and the counts by
// message they make.
func TestReadSkips(t *testing.T) {
	var old directory.Run
	if err := readSkips(`{"device":3,"no email address":1}`, &old); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"device": 3, "no email address": 1}; !reflect.DeepEqual(old.Skips, want) || len(old.SkipReasons) != 2 {
		t.Errorf("old run: skips %v, reasons %v; want %v and two", old.Skips, old.SkipReasons, want)
	}
	var r directory.Run
	r.Skip(directory.SkipNonDirectoryMember, "device", 2)
	r.Skip(directory.SkipNoEmail, "no email address", 1)
	r.Warn(directory.WarnInvalidPhone, "mobile_phone not imported: not a valid phone number", 1)
	args, err := runArgs(&r)
	if err != nil {
		t.Fatal(err)
	}
	var got directory.Run
	if err := readSkips(args[11].(string), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.SkipReasons, r.SkipReasons) || !reflect.DeepEqual(got.Warnings, r.Warnings) || !reflect.DeepEqual(got.Skips, r.Skips) {
		t.Errorf("read back %+v / %+v / %v\nwant %+v / %+v / %v", got.SkipReasons, got.Warnings, got.Skips, r.SkipReasons, r.Warnings, r.Skips)
	}
}

// TestOlderRunsSkippedIsTheSumOfTheirSkips: a run recorded before skip
// codes reads back with counts.skipped equal to the sum of its skips and
// of its skip reasons (code other), whichever of the two it undercounted;
// a run since is read as written.
func TestOlderRunsSkippedIsTheSumOfTheirSkips(t *testing.T) {
	for _, c := range []struct {
		name    string
		skipped int
		column  string
		want    int
		reasons directory.Reasons
	}{
		// 77 skips (members that are not users, users out of scope), counted 0.
		{"skips undercounted", 0, `{"device":70,"excluded by rule 1: department equals Ops":7}`, 77, directory.Reasons{
			{Code: directory.SkipOther, Message: "device", Count: 70},
			{Code: directory.SkipOther, Message: "excluded by rule 1: department equals Ops", Count: 7}}},
		// Refused objects counted, without a reason.
		{"no skips, some counted", 3, ``, 3, directory.Reasons{{Code: directory.SkipOther, Message: olderSkipsUnexplained, Count: 3}}},
		{"more counted than skips", 5, `{"device":2}`, 5, directory.Reasons{
			{Code: directory.SkipOther, Message: "device", Count: 2},
			{Code: directory.SkipOther, Message: olderSkipsUnexplained, Count: 3}}},
		{"nothing skipped", 0, ``, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r directory.Run
			r.Counts.Skipped = c.skipped
			if err := readSkips(c.column, &r); err != nil {
				t.Fatal(err)
			}
			sum := 0
			for _, n := range r.Skips {
				sum += n
			}
			if r.Counts.Skipped != c.want || sum != c.want || r.SkipReasons.Total() != c.want || !reflect.DeepEqual(r.SkipReasons, c.reasons) {
				t.Fatalf("counts.skipped %d, skips %v (sum %d), reasons %+v; want %d and %+v", r.Counts.Skipped, r.Skips, sum, r.SkipReasons, c.want, c.reasons)
			}
		})
	}
	// A run since reads as written, whatever its counts say.
	var r directory.Run
	r.Skip(directory.SkipNoEmail, "no email address", 2)
	args, err := runArgs(&r)
	if err != nil {
		t.Fatal(err)
	}
	var got directory.Run
	got.Counts.Skipped = 2
	if err := readSkips(args[11].(string), &got); err != nil || got.Counts.Skipped != 2 || len(got.SkipReasons) != 1 {
		t.Fatalf("a run since: %+v (%v)", got, err)
	}
}
