package phone

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/dirsync/dirsync/internal/scope"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		raw, region string
		want        string // E.164; "" with err set means refused
		err         string
		note        string
	}{
		{raw: "+44 161 715 0105", want: "+441617150105"},
		// Duo's own example: the UK trunk 0 after +44 is dropped.
		{raw: "+4401617150105", want: "+441617150105"},
		{raw: "+1 (425) 555-0100", region: "GB", want: "+14255550100"}, // + wins over the region
		{raw: "(425) 555-0100", region: "US", want: "+14255550100"},
		{raw: "0161 715 0105", region: "GB", want: "+441617150105"},
		{raw: "030 901820", region: "DE", want: "+4930901820"},
		{raw: "0044 161 715 0105", region: "GB", want: "+441617150105"}, // international prefix of the region
		{raw: "011 44 161 715 0105", region: "US", want: "+441617150105"},
		{raw: "+1 425 555 0100 x123", want: "+14255550100", note: "extension 123 dropped; imported as +14255550100"},
		{raw: "  ", want: ""},
		{raw: "(425) 555-0100", err: "no country code (+) and no phone_region set"},
		{raw: "12345", region: "US", err: "not a valid number for region US"},
		{raw: "0161 715 0105", region: "US", err: "not a valid number for region US"},
		{raw: "+1 555 555 5555", err: "not a valid number"},
		{raw: "call me", region: "US", err: "not a phone number"},
		{raw: "+999 123", err: "not a phone number"},
	}
	for _, tt := range tests {
		got, note, err := Numbers{}.Format(tt.raw, tt.region)
		if got != tt.want || note != tt.note {
			t.Errorf("Format(%q, %q) = %q, %q; want %q, %q", tt.raw, tt.region, got, note, tt.want, tt.note)
		}
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Format(%q, %q): %v", tt.raw, tt.region, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Format(%q, %q) error = %v, want %q", tt.raw, tt.region, err, tt.err)
		}
	}
}

func TestKnownRegion(t *testing.T) {
	for region, want := range map[string]bool{"US": true, "gb": true, "De": true, "XX": false, "": false, "USA": false} {
		if got := (Numbers{}).KnownRegion(region); got != want {
			t.Errorf("KnownRegion(%q) = %v, want %v", region, got, want)
		}
	}
}

// TestScopeKnowsTheLibrarysRegions keeps scope's list of phone regions
// (which spares scope the library) equal to the library's.
func TestScopeKnowsTheLibrarysRegions(t *testing.T) {
	want := slices.Sorted(maps.Keys(phonenumbers.GetSupportedRegions()))
	if got := scope.PhoneRegions(); !slices.Equal(got, want) {
		t.Fatalf("scope.PhoneRegions() = %v\nthe library's: %v\n(update phoneRegions in internal/scope/phones.go)", got, want)
	}
}

var _ scope.Phones = Numbers{}
