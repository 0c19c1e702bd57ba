package engine_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/scope"
)

// Issue 16, data shape: a run's skipped count is the sum of its skip
// reasons, each with a stable code, in the run returned and the run
// stored alike; problems with users it imported are warnings, counted
// apart. The tenant is the demo's in small: devices, a contact and a
// service principal in groups (one device in two), a user out of scope,
// one with an oversized attribute, one with a phone that is no number.
func TestSkippedIsTheSumOfSkipReasons(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := sample()
		member := func(kind, id string) connector.Skipped {
			return connector.Skipped{Kind: kind, ExternalID: id, Code: directory.SkipNonDirectoryMember,
				Reason: "group member that is not a user or group (" + kind + ")"}
		}
		src.skips = []connector.Skipped{member("device", "d1"), member("device", "d2"), member("device", "d1"),
			member("orgContact", "c1"), member("servicePrincipal", "sp1")}
		src.users[1].Department = "Contractors"                       // u2: out of scope
		src.users[2].DisplayName = strings.Repeat("A", 1<<20)         // u3: refused
		src.users[3].MobilePhone, src.users[4].MobilePhone = "12", "" // u4: imported without its phone
		rule, err := scope.ParseRule("exclude department=Contractors")
		if err != nil {
			t.Fatal(err)
		}
		f.setSettings(scope.Settings{UserRules: []scope.Rule{rule}, ImportPhones: true, PhoneRegion: "US"})
		run := f.sync(src, engine.Options{})

		byCode := map[string]int{}
		for _, r := range run.SkipReasons {
			byCode[r.Code] += r.Count
		}
		wantCodes := map[string]int{directory.SkipNonDirectoryMember: 4, directory.SkipExcludedByRule: 1, directory.SkipAttributeTooLong: 1}
		if !reflect.DeepEqual(byCode, wantCodes) {
			t.Errorf("skip reasons by code %v, want %v (%+v)", byCode, wantCodes, run.SkipReasons)
		}
		sumSkips := 0
		for _, n := range run.Skips {
			sumSkips += n
		}
		if run.Counts.Skipped != 6 || run.SkipReasons.Total() != 6 || sumSkips != 6 {
			t.Errorf("skipped %d, skip reasons add up to %d, skips to %d; want 6", run.Counts.Skipped, run.SkipReasons.Total(), sumSkips)
		}
		wantWarn := directory.Reasons{{Code: directory.WarnInvalidPhone, Message: "mobile_phone not imported: not a valid phone number", Count: 1}}
		if run.Counts.Warnings != 1 || !reflect.DeepEqual(run.Warnings, wantWarn) {
			t.Errorf("warnings %d %+v, want 1 %+v", run.Counts.Warnings, run.Warnings, wantWarn)
		}
		if run.Counts.Created != 20 {
			t.Errorf("created %d, want 20 (18 of the 20 users, and two groups)", run.Counts.Created)
		}

		stored, err := f.st.Run(f.ctx, f.acc.ID, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Counts != run.Counts || !reflect.DeepEqual(stored.SkipReasons, run.SkipReasons) ||
			!reflect.DeepEqual(stored.Warnings, run.Warnings) || !reflect.DeepEqual(stored.Skips, run.Skips) {
			t.Errorf("stored run %+v %+v %+v %v\ndiffers from the run %+v %+v %+v %v", stored.Counts, stored.SkipReasons, stored.Warnings, stored.Skips,
				run.Counts, run.SkipReasons, run.Warnings, run.Skips)
		}
	})
}
