package scope

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
)

func mustRules(t *testing.T, texts ...string) []Rule {
	t.Helper()
	var rs []Rule
	for _, text := range texts {
		r, err := ParseRule(text)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

func user(id string, edit func(u *directory.SourceUser)) directory.SourceUser {
	u := directory.SourceUser{
		ExternalID: id,
		Enabled:    true,
		UserAttributes: directory.UserAttributes{
			Username:   id + "@contoso.com",
			Email:      id + "@contoso.com",
			Department: "Sales",
			UserType:   "Member",
			Licenses:   []string{"sku-e3"},
		},
	}
	if edit != nil {
		edit(&u)
	}
	return u
}

func TestDecide(t *testing.T) {
	guest := func(u *directory.SourceUser) { u.UserType = "Guest" }
	noMail := func(u *directory.SourceUser) { u.Email = "" }
	noLicense := func(u *directory.SourceUser) { u.Licenses = nil }
	marketing := func(u *directory.SourceUser) { u.Department = "Marketing" }
	selected := GroupFilter{Mode: ModeFlatten, Selected: []string{"g1"}}

	tests := []struct {
		name     string
		s        Settings
		u        directory.SourceUser
		inGroups bool
		want     string // the reason; "" means in scope
	}{
		{"zero settings take everyone", Settings{}, user("a", nil), false, ""},
		{"disabled users stay in scope", Settings{}, user("a", func(u *directory.SourceUser) { u.Enabled = false }), false, ""},
		{"email may be required", Settings{RequireEmail: true}, user("a", noMail), false, "no email address"},
		{"blank email is no email", Settings{RequireEmail: true}, user("a", func(u *directory.SourceUser) { u.Email = "  " }), false, "no email address"},
		{"no email is fine by default", Settings{}, user("a", noMail), false, ""},
		{"no license by default is fine", Settings{}, user("a", noLicense), false, ""},
		{"license required", Settings{RequireLicense: true}, user("a", noLicense), false, "no active license"},
		{"license checked before email", Settings{RequireLicense: true, RequireEmail: true}, user("a", func(u *directory.SourceUser) { noLicense(u); noMail(u) }), false, "no active license"},
		{"group filter ignores inGroups with mode all", Settings{}, user("a", nil), false, ""},
		{"not in a selected group", Settings{Groups: selected}, user("a", nil), false, "not in a selected group"},
		{"in a selected group", Settings{Groups: selected}, user("a", nil), true, ""},
		{"nested mode too", Settings{Groups: GroupFilter{Mode: ModeNested, Selected: []string{"g1"}}}, user("a", nil), false, "not in a selected group"},
		{"group filter before rules", Settings{Groups: selected, UserRules: mustRules(t, "exclude user_type=Guest")}, user("a", guest), false, "not in a selected group"},
		{"exclude rule", Settings{UserRules: mustRules(t, "include department=Sales", "exclude user_type=Guest")}, user("a", guest), false, "excluded by rule 2: user_type equals Guest"},
		{"first matching exclude named", Settings{UserRules: mustRules(t, "exclude department=Sales", "exclude user_type=Guest")}, user("a", guest), false, "excluded by rule 1: department equals Sales"},
		{"exclude wins over include", Settings{UserRules: mustRules(t, "include user_type=Guest", "exclude user_type=Guest")}, user("a", guest), false, "excluded by rule 2: user_type equals Guest"},
		{"include matched", Settings{UserRules: mustRules(t, "include department=Sales")}, user("a", nil), false, ""},
		{"one include of several matched", Settings{UserRules: mustRules(t, "include department=HR", "include domain in contoso.com")}, user("a", marketing), false, ""},
		{"no include matched", Settings{UserRules: mustRules(t, "include department=Sales")}, user("a", marketing), false, "matches no include rule (rule 1)"},
		{"no include of several matched", Settings{UserRules: mustRules(t, "include department=Sales", "exclude user_type=Guest", "include department=HR")}, user("a", marketing), false, "matches no include rule (rules 1, 3)"},
		{"excludes alone keep the rest", Settings{UserRules: mustRules(t, "exclude user_type=Guest")}, user("a", nil), false, ""},
		{"rules before license", Settings{RequireLicense: true, UserRules: mustRules(t, "exclude user_type=Guest")}, user("a", func(u *directory.SourceUser) { guest(u); noLicense(u) }), false, "excluded by rule 1: user_type equals Guest"},
		{"rules before email", Settings{UserRules: mustRules(t, "include department=HR")}, user("a", noMail), false, "matches no include rule (rule 1)"},
		{"exclude disabled users by rule", Settings{UserRules: mustRules(t, "exclude enabled=false")}, user("a", func(u *directory.SourceUser) { u.Enabled = false }), false, "excluded by rule 1: enabled equals false"},
		{"pick beats the group filter", Settings{Groups: selected, PickedUsers: []string{"a"}}, user("a", nil), false, ""},
		{"pick beats exclude rules", Settings{PickedUsers: []string{"a"}, UserRules: mustRules(t, "exclude user_type=Guest")}, user("a", guest), false, ""},
		{"pick beats include rules", Settings{PickedUsers: []string{"a"}, UserRules: mustRules(t, "include department=HR")}, user("a", nil), false, ""},
		{"pick still needs an email", Settings{PickedUsers: []string{"a"}, RequireEmail: true}, user("a", noMail), false, "no email address"},
		{"pick still needs a license", Settings{PickedUsers: []string{"a"}, RequireLicense: true}, user("a", noLicense), false, "no active license"},
		{"picks of others change nothing", Settings{Groups: selected, PickedUsers: []string{"b"}}, user("a", nil), false, "not in a selected group"},
		{"picks-only scope", Settings{Groups: GroupFilter{Mode: ModeNested}, PickedUsers: []string{"b"}}, user("b", nil), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, code, reason := tt.s.Decide(tt.u, tt.inGroups)
			if reason != tt.want || in != (tt.want == "") {
				t.Errorf("Decide = %v, %q; want %v, %q", in, reason, tt.want == "", tt.want)
			}
			if wantCode := decideCode(tt.want); code != wantCode {
				t.Errorf("Decide code = %q, want %q", code, wantCode)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	f := false
	many := make([]string, MaxSelectedGroups+1)
	for i := range many {
		many[i] = fmt.Sprintf("g%03d", i)
	}
	tests := []struct {
		name string
		s    Settings
		want []string // parts of the message; none means valid
	}{
		{"zero", Settings{}, nil},
		{"full", Settings{
			Groups:             GroupFilter{Mode: ModeFlatten, Selected: []string{"g1", "g2"}},
			UserRules:          mustRules(t, "exclude user_type=Guest", "include domain in a.com,b.com"),
			PickedUsers:        []string{"u1"},
			RequireLicense:     true,
			NormalizeUsernames: true,
			ImportPhones:       true, PhoneRegion: "us",
			Tags: []string{"Azure", "Staff"}, TagMode: TagReplace,
			UpdateExisting: &f, ProcessDeletions: &f,
			MatchOrder:    []string{"email", "username"},
			DeletionLimit: DeletionLimit{MaxObjects: 10, MaxPercent: 100},
		}, nil},
		{"exactly 400 groups", Settings{Groups: GroupFilter{Mode: ModeNested, Selected: many[:MaxSelectedGroups]}}, nil},
		{"picks only", Settings{Groups: GroupFilter{Mode: ModeNested}, PickedUsers: []string{"u1"}}, nil},
		{"401 groups", Settings{Groups: GroupFilter{Mode: ModeNested, Selected: many}}, []string{"groups.selected: 401 groups selected; at most 400"}},
		{"unknown mode", Settings{Groups: GroupFilter{Mode: "some"}}, []string{`groups.mode: unknown mode "some"`}},
		{"selection with mode all", Settings{Groups: GroupFilter{Selected: []string{"g1"}}}, []string{"groups.selected: 1 groups selected but groups.mode is all"}},
		{"filter selecting nobody", Settings{Groups: GroupFilter{Mode: ModeFlatten}}, []string{"groups.selected: mode flatten with no selected group and no picked user puts nobody in scope"}},
		{"duplicate and empty group", Settings{Groups: GroupFilter{Mode: ModeNested, Selected: []string{"g1", "", "g1"}}}, []string{"groups.selected[1]: empty id", `groups.selected[2]: "g1" repeats groups.selected[0]`}},
		{"bad rule", Settings{UserRules: []Rule{
			{Include, "department", Equals, []string{"Sales"}},
			{Exclude, "dept", Equals, []string{"x"}},
			{"keep", "department", "like", nil},
		}}, []string{
			`user_rules[1] (rule 2): attribute: unknown attribute "dept"; known: upn, email, domain,`,
			`user_rules[2] (rule 3): action: unknown action "keep"`,
			`user_rules[2] (rule 3): op: unknown operator "like"`,
			`user_rules[2] (rule 3): values: none given`,
		}},
		{"several values without in", Settings{UserRules: []Rule{{Include, "department", Equals, []string{"a", "b"}}}}, []string{"user_rules[0] (rule 1): values: equals takes one value, got 2; use in for a list"}},
		{"comma in an in value", Settings{UserRules: []Rule{{Include, "dn", In, []string{"OU=A,DC=x"}}}}, []string{`user_rules[0] (rule 1): values[0]: "OU=A,DC=x": a value of in must be non-empty and hold no comma`}},
		{"duplicate pick", Settings{PickedUsers: []string{"u1", "u1"}}, []string{`picked_users[1]: "u1" repeats picked_users[0]`}},
		{"bad region", Settings{ImportPhones: true, PhoneRegion: "XX"}, []string{`phone_region: unknown region "XX"`}},
		{"bad tags", Settings{Tags: []string{"a", "", " b", "A"}}, []string{"tags[1]: empty tag", `tags[2]: " b" has leading or trailing spaces`, `tags[3]: "A" repeats tags[0]`}},
		{"replace with no tags", Settings{TagMode: TagReplace}, []string{"tag_mode: replace with no tags"}},
		{"unknown tag mode", Settings{TagMode: "merge"}, []string{`tag_mode: unknown mode "merge"`}},
		{"bad match order", Settings{MatchOrder: []string{"email", "upn", "email"}}, []string{`match_order[1]: unknown key "upn"`, `match_order[2]: "email" listed twice`}},
		{"bad limits", Settings{DeletionLimit: DeletionLimit{MaxObjects: -1, MaxPercent: 101}}, []string{"deletion_limit.max_objects: -1 is negative", "deletion_limit.max_percent: 101 is not between 0 and 100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "scope: invalid settings: ") {
				t.Errorf("message %q lacks the scope prefix", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q\nlacks %q", msg, w)
				}
			}
			// One line for each problem: all are reported at once.
			if got := strings.Count(msg, "\n") + 1; got != len(tt.want) {
				t.Errorf("%d problems reported, want %d:\n%s", got, len(tt.want), msg)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	var s Settings
	if !s.UpdatesExisting() || !s.ProcessesDeletions() {
		t.Error("zero settings must update existing users and process deletions")
	}
	if got := s.Matching(); !reflect.DeepEqual(got, []string{"username", "email"}) {
		t.Errorf("Matching = %v", got)
	}
	if s.DeletionLimit.Objects() != 500 || s.DeletionLimit.Percent() != 20 {
		t.Errorf("limits = %d, %d", s.DeletionLimit.Objects(), s.DeletionLimit.Percent())
	}
	if !s.Groups.All() || s.Groups.EffectiveMode() != ModeAll {
		t.Error("zero group filter must take all")
	}
	f := false
	s = Settings{UpdateExisting: &f, ProcessDeletions: &f, MatchOrder: []string{"email"}}
	if s.UpdatesExisting() || s.ProcessesDeletions() {
		t.Error("explicit false ignored")
	}
	m := s.Matching()
	m[0] = "changed"
	if s.MatchOrder[0] != "email" {
		t.Error("Matching must return a copy")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	f, tr := false, true
	full := Settings{
		Groups:             GroupFilter{Mode: ModeNested, Selected: []string{"g1", "g2"}},
		UserRules:          mustRules(t, "exclude user_type=Guest", "include domain in a.com,b.com", `exclude department=""`),
		PickedUsers:        []string{"u1"},
		RequireLicense:     true,
		RequireEmail:       true,
		NormalizeUsernames: true,
		ImportPhones:       true,
		PhoneRegion:        "GB",
		Tags:               []string{"azure"},
		TagMode:            TagReplace,
		UpdateExisting:     &f,
		ProcessDeletions:   &tr,
		MatchOrder:         []string{"email", "username"},
		DeletionLimit:      DeletionLimit{MaxObjects: 50, MaxPercent: 5},
	}
	for _, s := range []Settings{{}, full} {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(data)
		if err != nil {
			t.Fatalf("Parse(%s): %v", data, err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("round trip of %s\ngot  %#v\nwant %#v", data, back, s)
		}
	}
	// The stored form uses the documented names.
	data, _ := json.Marshal(full)
	for _, key := range []string{`"groups":{"mode":"nested","selected":["g1","g2"]}`, `"user_rules":[{"action":"exclude","attribute":"user_type","op":"equals","values":["Guest"]}`,
		`"picked_users"`, `"require_license":true`, `"require_email":true`, `"normalize_usernames":true`, `"import_phones":true`,
		`"phone_region":"GB"`, `"tags":["azure"]`, `"tag_mode":"replace"`, `"update_existing":false`, `"process_deletions":true`,
		`"match_order"`, `"deletion_limit":{"max_objects":50,"max_percent":5}`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON %s lacks %s", data, key)
		}
	}
}

func TestParse(t *testing.T) {
	for _, empty := range []string{"", "  \n", "{}"} {
		s, err := Parse([]byte(empty))
		if err != nil || !reflect.DeepEqual(s, Settings{}) {
			t.Errorf("Parse(%q) = %#v, %v; want zero settings", empty, s, err)
		}
	}
	tests := []struct{ in, want string }{
		{`{"group":{"mode":"flatten"}}`, `unknown field "group"`},
		{`{"groups":{"mode":"flatten","selected":["g1"],"nested":true}}`, `unknown field "nested"`},
		{`{"require_license":"yes"}`, "cannot unmarshal"},
		{`{} {}`, "trailing data"},
		{`{"user_rules":[{"action":"include","attribute":"dept","op":"equals","values":["x"]}]}`, `user_rules[0] (rule 1): attribute: unknown attribute "dept"`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	zero := Settings{}.Describe()
	for _, want := range []string{
		"1. Picked users: none.",
		"2. Groups: all users and groups of the source.",
		"3. User rules: none.",
		"4. Requirements: no license needed; users without an email address come in.",
		"Usernames: the UPN as the source reports it.",
		"Phones: kept as the source spells them, not validated.",
		"Tags: none added.",
		"Existing users: updated.",
		"Matching: by source anchor, then username, then email.",
		"Deletions: users and groups gone from the source or out of scope go to the trash.",
		"Deletion limit: a run that would disable or delete more than 500 objects or more than 20% of the source's objects stops and applies nothing.",
		"Full reconciliation: at least every 24h for a source whose incremental reads do not report deletions (generic LDAP), every 7d for the others (Entra ID, Active Directory).",
		"Run time: a run still going after 3h fails and applies nothing.",
	} {
		if !slices.Contains(zero, want) {
			t.Errorf("Describe of zero settings lacks %q:\n%s", want, strings.Join(zero, "\n"))
		}
	}

	f := false
	groups := make([]string, 12)
	for i := range groups {
		groups[i] = "g" + string(rune('a'+i))
	}
	s := Settings{
		Groups:             GroupFilter{Mode: ModeFlatten, Selected: groups},
		UserRules:          mustRules(t, "include department=Sales", "exclude user_type=Guest"),
		PickedUsers:        []string{"u1", "u2"},
		RequireLicense:     true,
		RequireEmail:       true,
		NormalizeUsernames: true,
		ImportPhones:       true, PhoneRegion: "us",
		Tags: []string{"azure", "staff"}, TagMode: TagReplace,
		UpdateExisting: &f, ProcessDeletions: &f,
		MatchOrder:    []string{"email"},
		DeletionLimit: DeletionLimit{MaxObjects: 30, MaxPercent: 10},
		MaxCursorAge:  "36h",
		MaxRunTime:    "90m",
	}
	got := s.Describe()
	want := []string{
		"1. Picked users are in scope whatever the group filter and rules say (2: u1, u2); they still need the requirements below.",
		"2. Groups: only members of the 12 selected groups (ga, gb, gc, gd, ge, gf, gg, gh, gi, gj and 2 more), nested groups included; only the selected groups are created, each with all those members as direct members (flatten).",
		"3. User rules: a user matching any exclude rule is out; then, if there are include rules, a user must match one of them.",
		"   Rule 1: include users whose department equals Sales.  [include department=Sales]",
		"   Rule 2: exclude users whose user_type equals Guest.  [exclude user_type=Guest]",
		"4. Requirements: users without an active license are left out; users without an email address are skipped.",
		"Usernames: the UPN's prefix, before the @ (before #EXT# for guests).",
		"Phones: mobile and business phones imported as E.164; numbers without + are read as US numbers; invalid numbers are dropped and reported.",
		"Tags: azure, staff, replacing each imported user's tags.",
		"Existing users: left as they are; only new users are created.",
		"Matching: by source anchor, then email.",
		"Deletions: not processed; users and groups gone from the source or out of scope are kept.",
		"Deletion limit: a run that would disable or delete more than 30 objects or more than 10% of the source's objects stops and applies nothing.",
		"Full reconciliation: at least every 36h.",
		"Run time: a run still going after 1h30m fails and applies nothing.",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Describe:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s.String() != strings.Join(want, "\n") {
		t.Error("String differs from Describe")
	}
	nested := Settings{Groups: GroupFilter{Mode: ModeNested, Selected: []string{"g1"}}, Tags: []string{"x"}, ImportPhones: true}.Describe()
	for _, w := range []string{
		"2. Groups: only members of the 1 selected groups (g1), nested groups included; the selected groups and the groups nested in them are created with their structure kept (nested).",
		"Tags: x, added to each imported user's tags.",
		"Phones: mobile and business phones imported as E.164; numbers without + and invalid numbers are dropped and reported.",
	} {
		if !slices.Contains(nested, w) {
			t.Errorf("Describe lacks %q:\n%s", w, strings.Join(nested, "\n"))
		}
	}
}

func TestCursorAge(t *testing.T) {
	for _, tc := range []struct {
		text        string
		deletions   time.Duration // reports deletions
		blind       time.Duration // does not
		invalidWith string
	}{
		{"", DefaultCursorAge, DefaultCursorAgeBlind, ""},
		{"off", 0, 0, ""},
		{"OFF", 0, 0, ""},
		{"36h", 36 * time.Hour, 36 * time.Hour, ""},
		{"7d", 7 * 24 * time.Hour, 7 * 24 * time.Hour, ""},
		{"90m", 90 * time.Minute, 90 * time.Minute, ""},
		{"10m", 0, 0, "between 1h and 365d"},
		{"400d", 0, 0, "between 1h and 365d"},
		{"-2h", 0, 0, "between"},
		{"daily", 0, 0, "want a duration such as 24h or 7d, or off"},
		{"xd", 0, 0, "want a duration"},
	} {
		s := Settings{MaxCursorAge: tc.text}
		err := s.Validate()
		if tc.invalidWith != "" {
			if err == nil || !strings.Contains(err.Error(), "max_cursor_age") || !strings.Contains(err.Error(), tc.invalidWith) {
				t.Errorf("%q: Validate = %v, want an error on max_cursor_age with %q", tc.text, err, tc.invalidWith)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
		}
		if got := s.CursorAge(true); got != tc.deletions {
			t.Errorf("%q: CursorAge(reports deletions) = %v, want %v", tc.text, got, tc.deletions)
		}
		if got := s.CursorAge(false); got != tc.blind {
			t.Errorf("%q: CursorAge(blind) = %v, want %v", tc.text, got, tc.blind)
		}
	}
	if _, err := Parse([]byte(`{"max_cursor_age":"12h"}`)); err != nil {
		t.Errorf("Parse max_cursor_age: %v", err)
	}
}

// decideCode is the code Decide must give with a reason.
func decideCode(reason string) string {
	switch {
	case reason == "":
		return ""
	case reason == "not in a selected group":
		return directory.SkipNotInSelectedGroup
	case strings.HasPrefix(reason, "excluded by rule "):
		return directory.SkipExcludedByRule
	case strings.HasPrefix(reason, "matches no include rule "):
		return directory.SkipNoIncludeRuleMatch
	case reason == "no active license":
		return directory.SkipUnlicensed
	case reason == "no email address":
		return directory.SkipNoEmail
	}
	return "unknown reason " + reason
}
