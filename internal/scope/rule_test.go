package scope

import (
	"reflect"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
)

// alice is a member of the tenant with every attribute a rule can test.
var alice = directory.SourceUser{
	ExternalID: "u-alice",
	Enabled:    true,
	UserAttributes: directory.UserAttributes{
		Username:       "alice@contoso.com",
		Email:          "Alice.Smith@Contoso-Mail.com",
		DisplayName:    "Alice Smith",
		GivenName:      "Alice",
		Surname:        "Smith",
		JobTitle:       "Sales Intern",
		Department:     "Sales",
		UserType:       "Member",
		Licenses:       []string{"sku-e3", "sku-teams"},
		ProxyAddresses: []string{"SMTP:alice@contoso.com", "smtp:asmith@contoso.com"},
		AccountName:    "asmith",
		DN:             "CN=Alice Smith,OU=Staff,DC=corp,DC=contoso,DC=com",
	},
}

func TestRuleMatches(t *testing.T) {
	rule := func(attr string, op Op, vals ...string) Rule {
		return Rule{Action: Include, Attribute: attr, Op: op, Values: vals}
	}
	tests := []struct {
		rule Rule
		want bool
	}{
		// One case that matches and one that does not for each attribute.
		{rule("upn", Equals, "ALICE@contoso.com"), true},
		{rule("upn", Equals, "alice@contoso"), false},
		{rule("email", EndsWith, "@contoso-mail.com"), true},
		{rule("email", EndsWith, "@contoso.com"), false},
		{rule("domain", Equals, "contoso.com"), true},      // the UPN's domain
		{rule("domain", Equals, "contoso-mail.com"), true}, // the mail's domain
		{rule("domain", Equals, "fabrikam.com"), false},
		{rule("domain", NotEquals, "fabrikam.com"), true},
		{rule("domain", NotEquals, "contoso-mail.com"), false}, // one of its domains equals
		{rule("domain", In, "fabrikam.com", "CONTOSO.COM"), true},
		{rule("domain", In, "fabrikam.com", "example.com"), false},
		{rule("display_name", Contains, "ice sm"), true},
		{rule("display_name", Contains, "bob"), false},
		{rule("given_name", StartsWith, "al"), true},
		{rule("given_name", StartsWith, "lice"), false},
		{rule("surname", Equals, "smith"), true},
		{rule("surname", NotEquals, "smith"), false},
		{rule("department", Equals, "sales"), true},
		{rule("department", Equals, "Sale"), false},
		{rule("department", NotEquals, "Marketing"), true},
		{rule("department", In, "Marketing", "Sales"), true},
		{rule("job_title", Contains, "intern"), true},
		{rule("job_title", Contains, "manager"), false},
		{rule("user_type", Equals, "member"), true},
		{rule("user_type", Equals, "Guest"), false},
		{rule("enabled", Equals, "true"), true},
		{rule("enabled", Equals, "false"), false},
		{rule("enabled", NotEquals, "false"), true},
		{rule("license", Equals, "sku-teams"), true},
		{rule("license", Equals, "sku-e5"), false},
		{rule("license", NotEquals, "sku-e5"), true},
		{rule("proxy_address", StartsWith, "smtp:asmith"), true},
		{rule("proxy_address", Contains, "fabrikam"), false},
		{rule("account_name", Equals, "ASMITH"), true},
		{rule("account_name", StartsWith, "adm-"), false},
		{rule("dn", EndsWith, "ou=staff,dc=corp,dc=contoso,dc=com"), true},
		{rule("dn", EndsWith, "OU=Disabled,DC=corp,DC=contoso,DC=com"), false},
		{rule("id", Equals, "u-alice"), true},
		{rule("id", Equals, "u-bob"), false},
		// An unknown attribute never matches, whatever the operator.
		{rule("dept", NotEquals, "x"), false},
		// A value longer than the attribute is no prefix nor suffix.
		{rule("given_name", StartsWith, "Alice Smith"), false},
		{rule("given_name", EndsWith, "Big Alice"), false},
	}
	for _, tt := range tests {
		if got := tt.rule.Matches(alice); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.rule.Condition(), got, tt.want)
		}
	}
}

func TestRuleMatchesEmptyAttribute(t *testing.T) {
	u := directory.SourceUser{ExternalID: "u1", UserAttributes: directory.UserAttributes{Username: "nomail"}}
	tests := []struct {
		rule Rule
		want bool
	}{
		{Rule{Include, "department", Equals, []string{""}}, true},
		{Rule{Include, "department", NotEquals, []string{""}}, false},
		{Rule{Include, "department", NotEquals, []string{"Sales"}}, true},
		// No UPN or mail domain: no domain equals, so not_equals holds.
		{Rule{Include, "domain", Equals, []string{"contoso.com"}}, false},
		{Rule{Include, "domain", NotEquals, []string{"contoso.com"}}, true},
		{Rule{Include, "license", In, []string{"sku-e3"}}, false},
		{Rule{Include, "enabled", Equals, []string{"false"}}, true},
	}
	for _, tt := range tests {
		if got := tt.rule.Matches(u); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.rule.Condition(), got, tt.want)
		}
	}
}

func TestParseRule(t *testing.T) {
	tests := []struct {
		text string
		want Rule
		// canon is what String gives back, when it differs from text.
		canon string
	}{
		{"include department=Sales", Rule{Include, "department", Equals, []string{"Sales"}}, ""},
		{"exclude user_type=Guest", Rule{Exclude, "user_type", Equals, []string{"Guest"}}, ""},
		{"exclude user_type!=Member", Rule{Exclude, "user_type", NotEquals, []string{"Member"}}, ""},
		{"exclude job_title~intern", Rule{Exclude, "job_title", Contains, []string{"intern"}}, ""},
		{"include upn^=adm-", Rule{Include, "upn", StartsWith, []string{"adm-"}}, ""},
		{"include dn$=OU=Staff,DC=corp,DC=com", Rule{Include, "dn", EndsWith, []string{"OU=Staff,DC=corp,DC=com"}}, ""},
		{"include domain in a.com,b.com", Rule{Include, "domain", In, []string{"a.com", "b.com"}}, ""},
		{"include domain in a.com, b.com ,c.com", Rule{Include, "domain", In, []string{"a.com", "b.com", "c.com"}}, "include domain in a.com,b.com,c.com"},
		{"  Exclude   Department = Sales Ops  ", Rule{Exclude, "department", Equals, []string{"Sales Ops"}}, "exclude department=Sales Ops"},
		{`exclude department=""`, Rule{Exclude, "department", Equals, []string{""}}, ""},
		{`exclude department=`, Rule{Exclude, "department", Equals, []string{""}}, `exclude department=""`},
		{`include job_title=" Lead "`, Rule{Include, "job_title", Equals, []string{" Lead "}}, ""},
		{"exclude enabled=false", Rule{Exclude, "enabled", Equals, []string{"false"}}, ""},
		{"include mail$=@contoso.com", Rule{Include, "email", EndsWith, []string{"@contoso.com"}}, "include email$=@contoso.com"},
		{"exclude userType=Guest", Rule{Exclude, "user_type", Equals, []string{"Guest"}}, "exclude user_type=Guest"},
		{"include username~admin", Rule{Include, "upn", Contains, []string{"admin"}}, "include upn~admin"},
		{"exclude id in u1,u2", Rule{Exclude, "id", In, []string{"u1", "u2"}}, ""},
	}
	for _, tt := range tests {
		got, err := ParseRule(tt.text)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tt.text, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseRule(%q) = %#v, want %#v", tt.text, got, tt.want)
		}
		canon := tt.canon
		if canon == "" {
			canon = tt.text
		}
		if s := got.String(); s != canon {
			t.Errorf("ParseRule(%q).String() = %q, want %q", tt.text, s, canon)
		}
		// What String writes, ParseRule reads back to the same rule.
		again, err := ParseRule(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseRule(%q) = %#v, %v; want %#v", got.String(), again, err, got)
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	tests := []struct {
		text string
		want string // a part of the message
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"keep department=Sales", `unknown action "keep"`},
		{"include", "missing attribute"},
		{"include =Sales", "missing attribute"},
		{"include dept=Sales", `unknown attribute "dept"; known: upn, email, domain`},
		{"include department", "missing operator"},
		{"include department>Sales", `unknown operator at ">Sales"`},
		{"include department in", "needs a comma-separated list"},
		{"include department in(a,b)", `unknown operator at "in(a,b)"`},
		{"include domain in a.com,,b.com", "without empty items"},
		{"include domain in a.com,", "without empty items"},
		{"include job_title~", "matches everyone"},
		{"include upn^=", "matches everyone"},
		{"include upn$=", "matches everyone"},
		{`include department="Sales`, "bad quoted value"},
		{"exclude enabled=maybe", `"maybe": enabled is true or false`},
		{"exclude enabled~tru", "enabled takes only equals or not_equals"},
		{"exclude enabled in true,false", "enabled takes only equals or not_equals"},
	}
	for _, tt := range tests {
		_, err := ParseRule(tt.text)
		if err == nil {
			t.Errorf("ParseRule(%q): no error, want one containing %q", tt.text, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseRule(%q) = %q, want it to contain %q", tt.text, err, tt.want)
		}
		if !strings.HasPrefix(err.Error(), "scope: rule ") {
			t.Errorf("ParseRule(%q) = %q, want the scope: rule prefix", tt.text, err)
		}
	}
}

func TestAttributesDocumented(t *testing.T) {
	for _, a := range Attributes() {
		if a.Doc == "" {
			t.Errorf("attribute %s has no doc", a.Name)
		}
		if _, err := ParseRule("include " + a.Name + "=x"); err != nil && !strings.Contains(err.Error(), "true or false") {
			t.Errorf("attribute %s: %v", a.Name, err)
		}
	}
	for alias, canon := range aliases {
		if _, ok := lookupAttribute(canon); !ok {
			t.Errorf("alias %s names unknown attribute %s", alias, canon)
		}
	}
}
