package scope

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
)

func TestNormalizeUsername(t *testing.T) {
	tests := []struct{ in, want string }{
		{"narroway@example.com", "narroway"},
		{"Alice.Smith@contoso.onmicrosoft.com", "Alice.Smith"},
		// Guests: the part before #EXT#, which keeps the home domain and so
		// does not collide with the member "alice".
		{"alice_contoso.com#EXT#@fabrikam.onmicrosoft.com", "alice_contoso.com"},
		{"bob_gmail.com#ext#@fabrikam.onmicrosoft.com", "bob_gmail.com"},
		{`"odd@name"@contoso.com`, `"odd@name"`}, // the last @ separates the domain
		{"asmith", "asmith"},                     // no @: an LDAP account name stays
		{"", ""},
		{"@contoso.com", ""},
	}
	for _, tt := range tests {
		if got := NormalizeUsername(tt.in); got != tt.want {
			t.Errorf("NormalizeUsername(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestShape(t *testing.T) {
	in := directory.SourceUser{
		ExternalID: "u1",
		UserAttributes: directory.UserAttributes{
			Username:       "narroway@example.com",
			Email:          "n.arroway@example.com",
			MobilePhone:    "(425) 555-0100",
			BusinessPhones: []string{"+44 161 715 0105", "12345", "+4401617150105", "+1 425 555 0101 ext. 9"},
		},
	}
	orig := in
	orig.BusinessPhones = append([]string(nil), in.BusinessPhones...)

	t.Run("defaults keep the UPN and the phones as spelled", func(t *testing.T) {
		got, ps := Settings{}.Shape(in, phones)
		problems := details(ps)
		want := in
		if !reflect.DeepEqual(got, want) || problems != nil {
			t.Errorf("Shape = %#v, %q; want %#v, no problems", got, problems, want)
		}
	})
	t.Run("normalize and import phones", func(t *testing.T) {
		s := Settings{NormalizeUsernames: true, ImportPhones: true, PhoneRegion: "us"}
		got, ps := s.Shape(in, phones)
		problems := details(ps)
		want := in
		want.Username = "narroway"
		want.MobilePhone = "+14255550100"
		// The second spelling of the UK number is one phone; 12345 is dropped.
		want.BusinessPhones = []string{"+441617150105", "+14255550101"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Shape = %#v\nwant %#v", got, want)
		}
		wantProblems := []string{
			`business_phones[1] "12345": not a valid number for region US; not imported`,
			`business_phones[3] "+1 425 555 0101 ext. 9": extension 9 dropped; imported as +14255550101`,
		}
		if !reflect.DeepEqual(problems, wantProblems) {
			t.Errorf("problems = %q\nwant %q", problems, wantProblems)
		}
		want0 := Problem{directory.WarnInvalidPhone, "business_phones not imported: not a valid phone number", wantProblems[0]}
		want1 := Problem{directory.WarnPhoneExtensionDropped, "business_phones imported without its extension", wantProblems[1]}
		if len(ps) != 2 || ps[0] != want0 || ps[1] != want1 {
			t.Errorf("problems = %+v\nwant %+v, %+v", ps, want0, want1)
		}
	})
	t.Run("without a region national numbers are reported", func(t *testing.T) {
		got, ps := Settings{ImportPhones: true}.Shape(in, phones)
		problems := details(ps)
		if got.MobilePhone != "" {
			t.Errorf("mobile = %q, want dropped", got.MobilePhone)
		}
		if len(problems) == 0 || problems[0] != `mobile_phone "(425) 555-0100": no country code (+) and no phone_region set; not imported` {
			t.Errorf("problems = %q", problems)
		}
		if !reflect.DeepEqual(got.BusinessPhones, []string{"+441617150105", "+14255550101"}) {
			t.Errorf("business = %q", got.BusinessPhones)
		}
	})
	t.Run("an invalid mobile is dropped", func(t *testing.T) {
		u := in
		u.MobilePhone = "+1 555 555 5555"
		got, ps := Settings{ImportPhones: true, PhoneRegion: "US"}.Shape(u, phones)
		problems := details(ps)
		if got.MobilePhone != "" || !slices.Contains(problems, `mobile_phone "+1 555 555 5555": not a valid number; not imported`) {
			t.Errorf("mobile = %q, problems %q", got.MobilePhone, problems)
		}
	})
	t.Run("an empty prefix is kept and reported", func(t *testing.T) {
		u := in
		u.Username = "@example.com"
		got, ps := Settings{NormalizeUsernames: true}.Shape(u, phones)
		problems := details(ps)
		if got.Username != "@example.com" || len(problems) != 1 || !strings.Contains(problems[0], "empty prefix") {
			t.Errorf("username = %q, problems %q", got.Username, problems)
		}
	})
	if !reflect.DeepEqual(in, orig) {
		t.Errorf("Shape modified its input: %#v", in)
	}
}

func TestApplyTags(t *testing.T) {
	tests := []struct {
		name    string
		s       Settings
		current []string
		want    []string
	}{
		{"no tags change nothing", Settings{}, []string{"vip"}, []string{"vip"}},
		{"append", Settings{Tags: []string{"azure", "staff"}}, []string{"vip"}, []string{"vip", "azure", "staff"}},
		{"append explicit", Settings{Tags: []string{"azure"}, TagMode: TagAppend}, []string{"vip"}, []string{"vip", "azure"}},
		{"append keeps no duplicate", Settings{Tags: []string{"azure", "VIP"}}, []string{"vip", "Azure"}, []string{"vip", "Azure"}},
		{"append dedupes current", Settings{Tags: []string{"azure"}}, []string{"vip", "vip", "VIP"}, []string{"vip", "azure"}},
		{"append to none", Settings{Tags: []string{"azure"}}, nil, []string{"azure"}},
		{"append twice is stable", Settings{Tags: []string{"azure"}}, []string{"vip", "azure"}, []string{"vip", "azure"}},
		{"replace", Settings{Tags: []string{"azure", "staff"}, TagMode: TagReplace}, []string{"vip", "azure"}, []string{"azure", "staff"}},
		{"replace dedupes", Settings{Tags: []string{"azure", "Azure"}, TagMode: TagReplace}, []string{"vip"}, []string{"azure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := append([]string(nil), tt.current...)
			got := tt.s.ApplyTags(cur)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ApplyTags(%q) = %q, want %q", tt.current, got, tt.want)
			}
			if !reflect.DeepEqual(cur, tt.current) && tt.current != nil {
				t.Errorf("ApplyTags modified its input: %q", cur)
			}
		})
	}
}

// phones is a stand-in for package phone (which scope must not import,
// even in tests, to stay pure): it knows the few numbers these tests use.
var phones = fakePhones{
	"+44 161 715 0105": {"+441617150105", ""}, "+4401617150105": {"+441617150105", ""}, "0161 715 0105@GB": {"+441617150105", ""},
	"+1 425 555 0101 ext. 9": {"+14255550101", "extension 9 dropped; imported as +14255550101"},
	"(425) 555-0100@US":      {"+14255550100", ""}, "+1 425 555 0100": {"+14255550100", ""},
}

type fakePhones map[string][2]string

func (f fakePhones) Format(raw, region string) (string, string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", nil
	}
	if region == "" && !strings.HasPrefix(raw, "+") {
		return "", "", errors.New("no country code (+) and no phone_region set")
	}
	for _, k := range []string{raw, raw + "@" + region} {
		if v, ok := f[k]; ok {
			return v[0], v[1], nil
		}
	}
	if region != "" && !strings.HasPrefix(raw, "+") {
		return "", "", fmt.Errorf("not a valid number for region %s", region)
	}
	return "", "", errors.New("not a valid number")
}

// details are the problems' details, the words a run's warning changes carry.
func details(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Detail)
	}
	return out
}
