package ldap

import (
	"bytes"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

const fuzzUserClass = "(&(objectCategory=person)(objectClass=user))"

// FuzzUserFilter feeds the settings' user and group filter fragments (an
// administrator's text): a fragment Validate accepts stays one operand of
// the AND with the object class, so it can narrow the scope and never
// widen it or break out of it.
func FuzzUserFilter(f *testing.F) {
	for _, seed := range []string{
		"(department=Sales)", "department=Sales", "(&(department=Sales)(!(title=intern)))", "(|(a=1)(b=2))",
		"a=b)(|(objectClass=*)", "a=b))(|(objectClass=*", "(a=b)(c=d)", "(cn=*\\2a*)", "(cn=\\28)", "cn=a\\", "",
		"(memberOf:1.2.840.113556.1.4.1941:=CN=G,DC=corp)", "(!(userAccountControl:1.2.840.113556.1.4.803:=2))", " (a=b) ",
		"(objectClass=*)", "(&)", "(|)", "((a=b))", "(a=\x00)",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, frag string) {
		cfg := Config{URLs: []string{"ldaps://dc.corp.example"}, BaseDN: "DC=corp,DC=example", BindDN: "svc@corp.example", UserFilter: frag}
		if cfg.Validate() != nil {
			return
		}
		full, custom := andFilter(fuzzUserClass, frag)
		p, err := goldap.CompileFilter(full)
		if err != nil {
			t.Fatalf("fragment %q accepted, but %q does not compile: %v", frag, full, err)
		}
		if !custom {
			if full != fuzzUserClass {
				t.Fatalf("an empty fragment %q changed the filter to %q", frag, full)
			}
			return
		}
		if p.Tag != goldap.FilterAnd || len(p.Children) != 2 {
			t.Fatalf("fragment %q: %q is not the class AND one filter", frag, full)
		}
		class, _ := goldap.DecompileFilter(p.Children[0])
		want, _ := goldap.CompileFilter(fuzzUserClass)
		wantText, _ := goldap.DecompileFilter(want)
		if class != wantText {
			t.Fatalf("fragment %q changed the class filter to %q", frag, class)
		}
	})
}

// FuzzLookupFilter feeds the single-user lookup what an administrator may
// type (a UPN, an account name, a GUID): every piece of it is data, never
// filter syntax, so the filter always compiles to an OR of equality tests
// of the lookup's own attributes.
func FuzzLookupFilter(f *testing.F) {
	for _, seed := range []string{
		"alice@corp.example.com", "alice", "alice@corp.local", "*", "*)(objectClass=*", "a)(|(cn=*", "\\", "\x00",
		"{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "(", "ann@", "@corp.example.com",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, flavor := range []string{FlavorAD, FlavorGeneric} {
			sc := &schema{flavor: flavor, attrs: DefaultAttributes(flavor), domain: "corp.example.com",
				suffixMap: map[string]string{"corp.local": "corp.example.com"}}
			filter := sc.lookupFilter(q)
			p, err := goldap.CompileFilter(filter)
			if err != nil {
				t.Fatalf("%s: %q gives %q, which does not compile: %v", flavor, q, filter, err)
			}
			if p.Tag != goldap.FilterOr {
				t.Fatalf("%s: %q gives %q, not an OR", flavor, q, filter)
			}
			checkEqualities(t, flavor, q, p)
		}
	})
}

// checkEqualities checks that every leaf under p is an equality test of an
// attribute the lookup uses, against a value taken from q.
func checkEqualities(t *testing.T, flavor, q string, p *ber.Packet) {
	t.Helper()
	if p.Tag == goldap.FilterOr {
		for _, c := range p.Children {
			checkEqualities(t, flavor, q, c)
		}
		return
	}
	if p.Tag != goldap.FilterEqualityMatch || len(p.Children) != 2 {
		text, _ := goldap.DecompileFilter(p)
		t.Fatalf("%s: %q gives the test %q, not an equality", flavor, q, text)
	}
	attr := p.Children[0].Data.String()
	value := p.Children[1].Data.Bytes()
	known := false
	for _, a := range DefaultAttributes(flavor) {
		known = known || strings.EqualFold(a, attr)
	}
	if !known && !strings.EqualFold(attr, attrConsistencyGUID) {
		t.Fatalf("%s: %q tests attribute %q", flavor, q, attr)
	}
	if g, ok := ParseGUID(q); ok && bytes.Equal(value, g) {
		return
	}
	if !strings.Contains(q, string(value)) && !strings.HasSuffix(string(value), "@corp.local") {
		t.Fatalf("%s: %q tests %s against %q, which it did not give", flavor, q, attr, value)
	}
}

// FuzzParseGUID: what ParseGUID accepts prints back the same.
func FuzzParseGUID(f *testing.F) {
	for _, seed := range []string{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}", "3f2504e0-4f89-11d3-9a0c-0305e82c330", "zz2504e0-4f89-11d3-9a0c-0305e82c3301", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, ok := ParseGUID(s)
		if !ok {
			return
		}
		want := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}"))
		if got := FormatGUID(b); got != want {
			t.Fatalf("%q -> %x -> %q", s, b, got)
		}
	})
}
