package ldap

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestIdentityAgainstSamba: an AD domain is identified by its objectSid,
// whatever base DN under it a source reads, and the identity carries the
// domain's DNS name.
func TestIdentityAgainstSamba(t *testing.T) {
	dc := testDC(t)
	a := dc.Admin(t)
	ou := a.AddOU(dc.BaseDN, "IdentityOU")
	whole := open(t, dc, baseCfg(dc), Options{})
	id, err := whole.Identity(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ad:s-1-5-21-\d+-\d+-\d+$`).MatchString(id.Key) {
		t.Fatalf("identity %+v: want ad: and the domain's SID", id)
	}
	if dns := dnsName(dc.BaseDN); dns == "" || !slices.Contains(id.Names, dns) || !slices.Contains(id.Names, strings.TrimPrefix(id.Key, "ad:")) {
		t.Fatalf("names %q: want the DNS name %q and the SID", id.Names, dns)
	}
	cfg := baseCfg(dc)
	cfg.BaseDN = ou
	under, err := open(t, dc, cfg, Options{}).Identity(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if under.Key != id.Key {
		t.Fatalf("an OU of the domain is %q, the domain %q", under.Key, id.Key)
	}
}

func TestSIDString(t *testing.T) {
	sid := []byte{1, 4, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0xe9, 3, 0, 0}
	if got := sidString(sid); got != "S-1-5-21-1-2-1001" {
		t.Fatalf("%q", got)
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0, 0, 0, 0, 0, 0, 5}, sid[:len(sid)-1]} {
		if got := sidString(bad); got != "" {
			t.Errorf("%v: %q, want none", bad, got)
		}
	}
}
