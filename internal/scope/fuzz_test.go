package scope

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
)

// FuzzParseRule feeds ParseRule what an administrator may type: it never
// panics; what it accepts prints back (String) to a text that parses to
// the same rule, describes itself, and can be evaluated.
func FuzzParseRule(f *testing.F) {
	for _, seed := range []string{
		"include department=Sales", "exclude user_type!=Member", "exclude job_title~intern", "include upn^=adm-",
		"include dn$=OU=Staff,DC=corp", "include domain in a.com,b.com", `exclude department=""`, `include display_name=" Ann "`,
		"include enabled=true", "include enabled=maybe", "include index=1", "include domain in", "include domain in a,,b",
		"exclude", "include =x", "include dept=Sales", `include department="unterminated`, "include upn^=", "INCLUDE UPN=X",
		"include mail=\"a\\\"b\"", "include license in \x00,\xff",
	} {
		f.Add(seed)
	}
	user := directory.SourceUser{ExternalID: "1", Enabled: true, UserAttributes: directory.UserAttributes{Username: "ann@a.com", Email: "ann@b.com",
		DisplayName: " Ann ", Department: "Sales", UserType: "Member", Licenses: []string{"sku"}, ProxyAddresses: []string{"smtp:ann@a.com"}, DN: "CN=Ann,OU=Staff,DC=corp"}}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseRule(text)
		if err != nil {
			return
		}
		again, err := ParseRule(r.String())
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", text, r, r.String(), again, err)
		}
		_ = r.Condition()
		_ = r.Matches(user)
		_ = r.Matches(directory.SourceUser{})
	})
}

// FuzzParseSettings feeds Parse the settings JSON a source is given (by
// the API or a file): it never panics, and what it accepts is valid and
// reads back the same after being written out.
func FuzzParseSettings(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `{"groups":{"mode":"all"}}`,
		`{"groups":{"mode":"flatten","selected":["g1"]},"user_rules":[{"action":"exclude","attribute":"user_type","op":"equals","values":["Guest"]}]}`,
		`{"import_phones":true,"phone_region":"US","tags":["a"],"tag_mode":"replace","require_email":true}`,
		`{"groups":{"mode":"nested","selected":[]}}`, `{"groups":{"mode":"flatten","selected":["g1","g1"]}}`,
		`{"user_rules":[{"action":"include","attribute":"nope","op":"equals","values":["x"]}]}`,
		`{"unknown":1}`, `{} {}`, `{"max_cursor_age":"7d"}`, `{"max_cursor_age":"-1h"}`, `{"picked_users":[""]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("%s parsed to invalid settings: %v", data, err)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%s: marshal: %v", data, err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("%s -> %s, which Parse refuses: %v", data, out, err)
		}
		if out2, _ := json.Marshal(again); string(out2) != string(out) {
			t.Fatalf("%s -> %s -> %s", data, out, out2)
		}
		_ = s.Describe()
	})
}

// FuzzParseCursorAge: no panic, and what is accepted is within bounds.
func FuzzParseCursorAge(f *testing.F) {
	for _, seed := range []string{"", "off", "OFF", "36h", "90m", "7d", "0d", "-1d", "99999999999999999999d", "1e9h", "d", " 7d "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		d, err := ParseCursorAge(text)
		if err == nil && d != 0 && (d < minCursorAge || d > maxCursorAge) {
			t.Fatalf("%q accepted as %s", text, d)
		}
	})
}

// FuzzParseRunTime: no panic, and what is accepted is within bounds.
func FuzzParseRunTime(f *testing.F) {
	for _, seed := range []string{"", "90m", "4h", "1m", "48h", "59s", "49h", "-1h", "1e9h", "h", " 2h ", "3h0m0s"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		d, err := ParseRunTime(text)
		if err == nil && d != 0 && (d < minRunTime || d > maxRunTime) {
			t.Fatalf("%q accepted as %s", text, d)
		}
		if s := (Settings{MaxRunTime: text}); err == nil && (s.RunTime() < minRunTime || s.RunTime() > maxRunTime) {
			t.Fatalf("%q gives a run time of %s", text, s.RunTime())
		}
	})
}
