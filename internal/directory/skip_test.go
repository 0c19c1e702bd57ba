package directory

import (
	"reflect"
	"testing"
)

// A run's skips agree however they are counted, and its reasons read in
// one order whatever order they came in.
func TestRunSkipsAgree(t *testing.T) {
	var r Run
	r.Skip(SkipNonDirectoryMember, "group member that is not a user or group (device)", 2)
	r.Skip(SkipExcludedByRule, "excluded by rule 1: user_type equals Guest", 1)
	r.Skip(SkipNonDirectoryMember, "group member that is not a user or group (device)", 1)
	r.Skip(SkipNonDirectoryMember, "group member that is not a user or group (orgContact)", 1)
	r.Warn(WarnInvalidPhone, "mobile_phone not imported: not a valid phone number", 1)
	want := Reasons{
		{SkipExcludedByRule, "excluded by rule 1: user_type equals Guest", 1},
		{SkipNonDirectoryMember, "group member that is not a user or group (device)", 3},
		{SkipNonDirectoryMember, "group member that is not a user or group (orgContact)", 1},
	}
	if !reflect.DeepEqual(r.SkipReasons, want) {
		t.Errorf("skip reasons %+v\nwant %+v", r.SkipReasons, want)
	}
	sum := 0
	for _, n := range r.Skips {
		sum += n
	}
	if r.Counts.Skipped != 5 || r.SkipReasons.Total() != 5 || sum != 5 {
		t.Errorf("skipped %d, reasons %d, skips %d; want 5", r.Counts.Skipped, r.SkipReasons.Total(), sum)
	}
	if r.Counts.Warnings != 1 || r.Warnings.Total() != 1 {
		t.Errorf("warnings %d, %+v", r.Counts.Warnings, r.Warnings)
	}
	if b, _ := (Run{}).SkipReasons.MarshalJSON(); string(b) != "[]" {
		t.Errorf("no reasons marshal as %s, want []", b)
	}
}
