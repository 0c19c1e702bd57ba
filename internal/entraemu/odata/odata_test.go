package odata

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// object is a property bag for the tests.
type object map[string]Value

func (o object) get(name string) (Value, bool) {
	for k, v := range o {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return Value{}, false
}

func str(s string) Value      { return Value{Kind: String, S: s} }
func strs(ss ...string) Value { return Value{Kind: Strings, SS: ss} }
func boolean(b bool) Value    { return Value{Kind: Bool, B: b} }
func nullable(b bool) Value   { return Value{Kind: NullableBool, B: b} }
func licenses(ids ...string) Value {
	v := Value{Kind: Complex}
	for _, id := range ids {
		v.Complex = append(v.Complex, map[string]string{"skuid": id})
	}
	return v
}

var zoe = object{
	"id":                    str("0b8a8a1e-5f4f-4c47-9f57-6a0a2f2c0a11"),
	"displayName":           str("Zoë O'Brien"),
	"userPrincipalName":     str("zoe.o'brien@contoso.example"),
	"mail":                  str("Zoe.O'brien@contoso.example"),
	"jobTitle":              str(""),
	"accountEnabled":        boolean(true),
	"onPremisesSyncEnabled": nullable(false),
	"businessPhones":        strs("+1 425 555 0100"),
	"proxyAddresses":        strs("SMTP:zoe@contoso.example", "smtp:zoe@contoso.onmicrosoft.com"),
	"groupTypes":            strs(),
	"assignedLicenses":      licenses("05e9a617-0261-4cee-bb44-138d3ef5d965"),
	"createdDateTime":       {Kind: Time, S: "2021-03-04T09:12:40Z"},
}

func TestFilter(t *testing.T) {
	for _, tc := range []struct {
		filter   string
		match    bool
		advanced string
	}{
		{"displayName eq 'Zoë O''Brien'", true, ""},
		{"displayName eq 'zoë o''brien'", true, ""}, // case-insensitive
		{"displayName eq 'Zoe'", false, ""},
		{"startsWith(displayName,'zo')", true, ""},
		{"startswith(userPrincipalName, 'ZOE.')", true, ""},
		{"endsWith(mail,'@contoso.example')", true, "endsWith"},
		{"jobTitle eq null", true, ""},
		{"jobTitle ne null", false, "ne"},
		{"mail ne null", true, "ne"},
		{"accountEnabled eq true", true, ""},
		{"accountEnabled eq false", false, ""},
		{"onPremisesSyncEnabled eq null", true, ""},
		{"onPremisesSyncEnabled eq true", false, ""},
		{"not(accountEnabled eq true)", false, "not"},
		{"accountEnabled eq true and startsWith(displayName,'Z')", true, ""},
		{"accountEnabled eq false or startsWith(displayName,'Z')", true, ""},
		{"(accountEnabled eq false or displayName eq 'x') and mail ne null", false, "ne"},
		{"id in ('0B8A8A1E-5F4F-4C47-9F57-6A0A2F2C0A11', 'x')", true, ""},
		{"displayName in ('a', 'b')", false, ""},
		{"proxyAddresses/any(p:startsWith(p,'smtp:zoe@contoso.onmicrosoft'))", true, ""},
		{"proxyAddresses/any(p:p eq 'SMTP:zoe@contoso.example')", true, ""},
		{"proxyAddresses/any(p:endsWith(p,'.example'))", true, "endsWith"},
		{"groupTypes/any(c:c eq 'Unified')", false, ""},
		{"assignedLicenses/any(x:x/skuId eq 05e9a617-0261-4cee-bb44-138d3ef5d965)", true, ""},
		{"assignedLicenses/any(x:x/skuId eq 06ebc4ee-1bb5-47dd-8120-11324bc54e06)", false, ""},
		{"businessPhones/$count eq 1", true, "$count"},
		{"proxyAddresses/$count gt 1", true, "$count"},
		{"assignedLicenses/$count eq 0", false, "$count"},
		{"createdDateTime ge 2021-01-01T00:00:00Z", true, ""},
		{"createdDateTime lt 2021-01-01T00:00:00Z", false, ""},
		{"nosuchProperty eq 'x'", false, ""},
	} {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		if got := f.Match(zoe.get); got != tc.match {
			t.Errorf("%s: match %v, want %v", tc.filter, got, tc.match)
		}
		if f.Advanced != tc.advanced {
			t.Errorf("%s: advanced %q, want %q", tc.filter, f.Advanced, tc.advanced)
		}
	}
}

func TestFilterSyntaxErrors(t *testing.T) {
	for _, bad := range []string{
		"", "displayName", "displayName eq", "displayName eq 'x", "displayName like 'x'", "(displayName eq 'x'",
		"displayName eq 'x' extra", "proxyAddresses/all(p:p eq 'x')", "proxyAddresses/any(p:p gt 'x')",
		"businessPhones/$count eq many", "startsWith(displayName 'x')", "id in ()", "displayName eq 'x' and",
	} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestFilterIDs(t *testing.T) {
	for _, tc := range []struct {
		filter string
		ids    []string
		ok     bool
	}{
		{"id eq 'A'", []string{"a"}, true},
		{"id eq 'a' or id eq 'b' or id in ('c','d')", []string{"a", "b", "c", "d"}, true},
		{"id eq 'a' and id eq 'b'", nil, false},
		{"displayName eq 'a'", nil, false},
		{"id ne 'a'", nil, false},
	} {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		ids, ok := f.IDs()
		if ok != tc.ok || ok && !slices.Equal(ids, tc.ids) {
			t.Errorf("%s: %v %v, want %v %v", tc.filter, ids, ok, tc.ids, tc.ok)
		}
	}
}

func TestSearch(t *testing.T) {
	for _, tc := range []struct {
		search string
		match  bool
	}{
		{`"displayName:zoe"`, false}, // tokens keep their diacritics
		{`"displayName:zoë"`, true},
		{`"displayName:brien"`, true},
		{`"displayName:obrien"`, true}, // words joined by symbols also match joined
		{`"displayName:o'bri"`, true},
		{`"displayName:brien zo"`, true}, // every token, any order
		{`"displayName:smith"`, false},
		{`"mail:zoe.o"`, true}, // startsWith on other properties
		{`"mail:contoso"`, false},
		{`"proxyAddresses:smtp:zoe@contoso.onmicrosoft"`, true},
		{`"displayName:smith" OR "mail:zoe"`, true},
		{`"displayName:zoë" AND "mail:nobody"`, false},
	} {
		s, err := ParseSearch(tc.search)
		if err != nil {
			t.Errorf("%s: %v", tc.search, err)
			continue
		}
		if got := s.Match(zoe.get); got != tc.match {
			t.Errorf("%s: match %v, want %v", tc.search, got, tc.match)
		}
	}
	for _, bad := range []string{`displayName:zoe`, `"displayName:zoe`, `"zoe"`, `"displayName:zoe" NEAR "mail:x"`, `"displayName:zoe" AND`} {
		if _, err := ParseSearch(bad); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}

func TestTokens(t *testing.T) {
	for in, want := range map[string][]string{
		"helloWorld":    {"hello", "world", "helloworld"},
		"Project 42":    {"project", "42", "project", "42"},
		"hello.world":   {"hello", "world", "helloworld"},
		"Équipe2Paris":  {"équipe", "2", "paris", "équipe2paris"},
		"東京オフィス":        {"東京オフィス", "東京オフィス"},
		"O'Neill-Smith": {"o", "neill", "smith", "oneillsmith"},
	} {
		if got := Tokens(in); !slices.Equal(got, want) {
			t.Errorf("Tokens(%q) = %q, want %q", in, got, want)
		}
	}
}

var users = Collection{
	Resource:   "User",
	Filterable: func(name string) bool { return name != "createdDateTime" },
	Sortable:   []string{"displayName", "userPrincipalName"},
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		query    string
		eventual bool
		code     string // "" when accepted
		message  string // a prefix
	}{
		{"$top=999", false, "", ""},
		{"$top=0", false, "Request_UnsupportedQuery", "Invalid page size specified: '0'. Must be between 1 and 999 inclusive."},
		{"$top=1000", false, "Request_UnsupportedQuery", "Invalid page size specified"},
		{"$search=\"displayName:x\"", false, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"},
		{"$search=\"displayName:x\"", true, "", ""},
		{"$search=\"createdDateTime:x\"", true, "Request_UnsupportedQuery", "Unsupported or invalid query search clause specified for property 'createdDateTime' of resource 'User'."},
		{"$filter=endsWith(mail,'x')", false, "Request_UnsupportedQuery", "Operator 'endsWith' is not supported because the required parameters might be missing. " + AdvancedHint},
		{"$filter=endsWith(mail,'x')", true, "Request_UnsupportedQuery", "Operator 'endsWith'"},
		{"$filter=endsWith(mail,'x')&$count=true", true, "", ""},
		{"$filter=createdDateTime ge 2021-01-01", true, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'createdDateTime' of resource 'User'."},
		{"$filter=displayName eq", false, "BadRequest", "Invalid filter clause: "},
		{"$orderby=displayName desc", false, "", ""},
		{"$orderby=mail", false, "Request_UnsupportedQuery", "Sorting not supported for property 'mail' of resource 'User'."},
		{"$orderby=displayName&$filter=startsWith(displayName,'a')", false, "Request_UnsupportedQuery", "Sorting not supported for current query."},
		{"$orderby=displayName&$filter=startsWith(displayName,'a')&$count=true", true, "", ""},
		{"$skiptoken=garbage", false, "Request_BadRequest", "The specified page token value has expired"},
	} {
		q, _ := NormalizeQuery(tc.query)
		_, err := ParseQuery(q, tc.eventual, users)
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: %v", tc.query, err)
		case tc.code != "" && err == nil:
			t.Errorf("%s: accepted", tc.query)
		case tc.code != "" && (err.Code != tc.code || err.Status != 400 || !strings.HasPrefix(err.Message, tc.message)):
			t.Errorf("%s: %d %s %q, want %s %q", tc.query, err.Status, err.Code, err.Message, tc.code, tc.message)
		}
	}
}

func TestNormalizeQuery(t *testing.T) {
	q, err := NormalizeQuery("$Select=id&top=5&$FILTER=x&other=1")
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("$select") != "id" || q.Get("$top") != "5" || q.Get("$filter") != "x" || q.Get("other") != "1" {
		t.Errorf("normalized %v", q)
	}
}

func TestPage(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e", "f", "g"}
	even := func(id string) bool { return id != "b" && id != "d" }
	q := &Query{Top: 2, Count: true}
	var got []string
	pages := 0
	for {
		page, next, total := q.Page(ids, even, nil)
		if total != 5 {
			t.Errorf("total %d", total)
		}
		got = append(got, page...)
		pages++
		if next == "" {
			break
		}
		v, _ := url.ParseQuery("$skiptoken=" + next)
		if err := q.parseSkipToken(v.Get("$skiptoken")); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, []string{"a", "c", "e", "f", "g"}) || pages != 3 {
		t.Errorf("pages %d: %v", pages, got)
	}
	// The last page that ends a list exactly has no nextLink.
	q = &Query{Top: 5}
	if _, next, _ := q.Page(ids, even, nil); next != "" {
		t.Errorf("a full last page gives a nextLink")
	}
	// $orderby pages by position.
	q = &Query{Top: 3, OrderBy: "displayName", Desc: true}
	page, next, _ := q.Page(ids, even, strings.ToUpper)
	if !slices.Equal(page, []string{"g", "f", "e"}) || next == "" {
		t.Errorf("sorted page %v next %q", page, next)
	}
}

func TestNextLink(t *testing.T) {
	got := NextLink("https://h/v1.0", "/users", "$top=5&%24skiptoken=old&$select=id", "NEW")
	if got != "https://h/v1.0/users?$top=5&$select=id&$skiptoken=NEW" {
		t.Errorf("nextLink %s", got)
	}
}
