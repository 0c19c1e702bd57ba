package ldap

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
)

func TestFormatGUID(t *testing.T) {
	// The GUID Microsoft's documentation uses as its example, in the byte
	// order AD stores it: the first three fields little-endian.
	raw := []byte{0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11, 0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01}
	if got, want := FormatGUID(raw), "3f2504e0-4f89-11d3-9a0c-0305e82c3301"; got != want {
		t.Fatalf("FormatGUID = %s, want %s", got, want)
	}
	back, ok := ParseGUID("{3F2504E0-4F89-11D3-9A0C-0305E82C3301}")
	if !ok || string(back) != string(raw) {
		t.Fatalf("ParseGUID = %x, %v; want %x", back, ok, raw)
	}
	if _, ok := ParseGUID("3f2504e0-4f89-11d3-9a0c"); ok {
		t.Fatal("ParseGUID accepted a short GUID")
	}
}

func TestAccountExpires(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	past := TimeToFiletime(now.Add(-time.Hour))
	future := TimeToFiletime(now.Add(time.Hour))
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"0", false}, {"9223372036854775807", false}, {"", false},
		{itoa(past), true}, {itoa(future), false},
	} {
		if got := expired(tc.v, now); got != tc.want {
			t.Errorf("expired(%s) = %v, want %v", tc.v, got, tc.want)
		}
	}
	// 130000000000000000 less the 1601-1970 offset is 1355526400 s after
	// 1970, which date -u -d @1355526400 reads as 2012-12-14 23:06:40.
	if got := FiletimeToTime(130000000000000000); !got.Equal(time.Date(2012, 12, 14, 23, 6, 40, 0, time.UTC)) {
		t.Errorf("FiletimeToTime = %v", got)
	}
	sc := &schema{clk: clock.NewFake(now)}
	if sc.enabled("514", "0") || !sc.enabled("512", "0") || sc.enabled("512", itoa(past)) || sc.enabled("66050", itoa(future)) {
		t.Error("enabled() does not follow ACCOUNTDISABLE and accountExpires")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestPrimarySMTP(t *testing.T) {
	got := primarySMTP([]string{"smtp:alias@corp.example.com", "X500:/o=corp", "SMTP:Primary@corp.example.com", "sip:a@b"})
	if got != "Primary@corp.example.com" {
		t.Fatalf("primarySMTP = %q", got)
	}
	if got := primarySMTP([]string{"smtp:only-secondary@corp.example.com"}); got != "" {
		t.Fatalf("a lower-case smtp: address is not primary, got %q", got)
	}
}

func TestUsernameSuffixMap(t *testing.T) {
	sc := &schema{flavor: FlavorAD, domain: "corp.example.com", suffixMap: map[string]string{"corp.local": "corp.example.com"}}
	for in, want := range map[[2]string]string{
		{"alice@corp.local", "alice"}:      "alice@corp.example.com",
		{"Bob@CORP.LOCAL", "bob"}:          "Bob@corp.example.com",
		{"carol@other.example", "carol"}:   "carol@other.example",
		{"", "dave"}:                       "dave@corp.example.com",
		{"odd@corp.local.evil.com", "odd"}: "odd@corp.local.evil.com",
	} {
		if got := sc.username(in[0], in[1]); got != want {
			t.Errorf("username(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

func TestParseExtendedDN(t *testing.T) {
	guid, dn := parseExtendedDN("<GUID=dd150879a7448d4babeb890a12ba068d>;<SID=0105000000000005150000>;CN=team,OU=Staff,DC=corp,DC=example,DC=com")
	if FormatGUID(guid) != "790815dd-44a7-4b8d-abeb-890a12ba068d" || dn != "CN=team,OU=Staff,DC=corp,DC=example,DC=com" {
		t.Fatalf("parseExtendedDN = %s %q", FormatGUID(guid), dn)
	}
	if g, dn := parseExtendedDN("CN=plain,DC=x"); g != nil || dn != "CN=plain,DC=x" {
		t.Fatalf("plain DN: %x %q", g, dn)
	}
}

func TestScope(t *testing.T) {
	cfg := Config{BaseDN: "DC=corp,DC=example,DC=com",
		IncludeOUs: []string{"OU=Staff,DC=corp,DC=example,DC=com", "ou=sales,ou=staff,dc=corp,dc=example,dc=com", "OU=Ops,DC=corp,DC=example,DC=com"},
		ExcludeOUs: []string{"OU=Contractors,OU=Staff,DC=corp,DC=example,DC=com"}}
	s := &source{cfg: cfg, clk: clock.System}
	sc, err := s.schema(&session{flavor: FlavorAD})
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.searchBases(); len(got) != 2 {
		t.Errorf("searchBases = %q: the nested Sales OU must not be searched twice", got)
	}
	for dn, want := range map[string]bool{
		"CN=a,OU=Staff,DC=corp,DC=example,DC=com":                     true,
		"CN=a,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com":            true,
		"cn=a,ou=STAFF,dc=corp,dc=example,dc=com":                     true,
		"CN=a,OU=Contractors,OU=Staff,DC=corp,DC=example,DC=com":      false,
		"CN=a,OU=X,OU=Contractors,OU=Staff,DC=corp,DC=example,DC=com": false,
		"CN=a,OU=Staffing,DC=corp,DC=example,DC=com":                  false,
		"CN=a,OU=Ops,DC=corp,DC=example,DC=com":                       true,
		"CN=a,CN=Users,DC=corp,DC=example,DC=com":                     false,
		"CN=a,OU=Staff,DC=other,DC=com":                               false,
	} {
		if got := sc.inScope(dn); got != want {
			t.Errorf("inScope(%s) = %v, want %v", dn, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Config{URLs: []string{"ldaps://dc1.corp.example.com"}, BaseDN: "DC=corp,DC=example,DC=com", BindDN: "svc@corp.example.com"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, tc := range map[string]struct {
		mut  func(*Config)
		want string
	}{
		"no url":          {func(c *Config) { c.URLs = nil }, "at least one server URL"},
		"plain ldap":      {func(c *Config) { c.URLs = []string{"ldap://dc1"} }, "in clear"},
		"starttls ldaps":  {func(c *Config) { c.StartTLS = true }, "StartTLS applies to ldap://"},
		"bad scheme":      {func(c *Config) { c.URLs = []string{"http://dc1"} }, "scheme"},
		"bad base":        {func(c *Config) { c.BaseDN = "corp.example.com" }, "base DN"},
		"no bind":         {func(c *Config) { c.BindDN = "" }, "bind DN"},
		"ou outside base": {func(c *Config) { c.IncludeOUs = []string{"OU=X,DC=other,DC=com"} }, "not under the base DN"},
		"bad filter":      {func(c *Config) { c.UserFilter = "(department=Sales" }, "RFC 4515"},
		"bad attribute":   {func(c *Config) { c.Attributes = map[string]string{"nickname": "cn"} }, "unknown field"},
		"bad suffix":      {func(c *Config) { c.UPNSuffixMap = map[string]string{"corp.local": ""} }, "UPN suffix"},
		"bad flavor":      {func(c *Config) { c.Flavor = "openldap" }, "flavor"},
		"bad ca":          {func(c *Config) { c.CAPEM = "not a certificate" }, "no PEM certificate"},
	} {
		c := good
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || connector.KindOf(err) != connector.KindInvalid {
			t.Errorf("%s: Validate = %v, want KindInvalid mentioning %q", name, err, tc.want)
		}
	}
	// A filter given without its parentheses is accepted as one term.
	c := good
	c.UserFilter = "department=Sales"
	if err := c.Validate(); err != nil {
		t.Errorf("unparenthesized filter: %v", err)
	}
}

func TestClassifyBindADCodes(t *testing.T) {
	seen := map[string]bool{}
	for data, want := range map[string]string{
		"52e": "password is wrong", "533": "disabled", "775": "locked out", "532": "password has expired",
		"701": "has expired", "773": "must change its password", "525": "does not exist",
	} {
		diag := "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data " + data + ", v4563"
		err := classifyBind("svc", "ldaps://dc1", &goldap.Error{ResultCode: goldap.LDAPResultInvalidCredentials, Err: errors.New(diag)})
		ce := asConnectorError(err)
		if ce == nil || ce.Kind != connector.KindAuth || !strings.Contains(ce.Message, want) || !strings.Contains(ce.Code, data) {
			t.Errorf("data %s: %v, want KindAuth mentioning %q", data, err, want)
			continue
		}
		if seen[ce.Message] {
			t.Errorf("data %s: message %q is not its own", data, ce.Message)
		}
		seen[ce.Message] = true
	}
}

func TestLookupFilterEscapes(t *testing.T) {
	sc := &schema{flavor: FlavorAD, attrs: DefaultAttributes(FlavorAD), domain: "corp.example.com",
		suffixMap: map[string]string{"corp.local": "corp.example.com"}}
	f := sc.lookupFilter("*)(objectClass=*")
	if strings.Contains(f, "(objectClass=*)") || !strings.Contains(f, `\2a\29\28objectClass=\2a`) {
		t.Fatalf("input not escaped: %s", f)
	}
	if _, err := goldap.CompileFilter(f); err != nil {
		t.Fatalf("lookup filter does not compile: %v", err)
	}
	f = sc.lookupFilter("alice@corp.example.com")
	for _, want := range []string{"(userPrincipalName=alice@corp.example.com)", "(userPrincipalName=alice@corp.local)", "(sAMAccountName=alice)"} {
		if !strings.Contains(f, want) {
			t.Errorf("lookup filter %s lacks %s", f, want)
		}
	}
	f = sc.lookupFilter("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
	if !strings.Contains(f, `(objectGUID=\e0\04\25\3f\89\4f\d3\11\9a\0c\03\05\e8\2c\33\01)`) {
		t.Errorf("GUID lookup filter %s", f)
	}
}

func TestCursorRefusals(t *testing.T) {
	s := &source{cfg: Config{BaseDN: "DC=corp,DC=example,DC=com"}}
	for name, cur := range map[string]string{
		"garbage":       "not base64 !!",
		"other version": encodeCursor(&cursorState{V: 99, Mode: modeDirSync, Scope: s.cfg.scopeHash()}),
		"other scope":   encodeCursor(&cursorState{V: cursorVersion, Mode: modeDirSync, Scope: "0000"}),
		"full mode":     encodeCursor(&cursorState{V: cursorVersion, Mode: modeFull, Scope: s.cfg.scopeHash(), Reason: "no right"}),
	} {
		_, err := s.Changes(t.Context(), cur, newRecorder())
		if connector.KindOf(err) != connector.KindCursor {
			t.Errorf("%s: Changes = %v, want KindCursor", name, err)
		}
	}
	cookie := append([]byte("MSDS"), make([]byte, 104)...)
	cookie[44] = 0x6b
	cookie[45] = 0x0f
	if usn, ok := cookieUSN(cookie); !ok || usn != 3947 {
		t.Errorf("cookieUSN = %d %v", usn, ok)
	}
}
