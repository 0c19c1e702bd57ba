package entraemu

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dirsync/dirsync/internal/entraemu/gen"
)

func TestGenerateDeterministic(t *testing.T) {
	a, err := New(Options{Users: 500, Groups: 60, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(Options{Users: 500, Groups: 60, Seed: 7})
	c, _ := New(Options{Users: 500, Groups: 60, Seed: 8})
	if a.ID() != b.ID() || a.DefaultApp().ClientID != b.DefaultApp().ClientID || a.Domain() != b.Domain() {
		t.Error("tenant identity differs for the same seed")
	}
	if !reflect.DeepEqual(a.Users(), b.Users()) || !reflect.DeepEqual(a.Groups(), b.Groups()) || !reflect.DeepEqual(a.Objects(), b.Objects()) {
		t.Fatal("the same seed generated different objects")
	}
	for _, g := range a.Groups() {
		if !reflect.DeepEqual(a.DirectMembers(g.ID), b.DirectMembers(g.ID)) {
			t.Fatalf("members of %s differ", g.DisplayName)
		}
	}
	if reflect.DeepEqual(a.Users(), c.Users()) || a.ID() == c.ID() {
		t.Error("another seed generated the same tenant")
	}
	if a.DefaultApp().Secret == b.DefaultApp().Secret {
		t.Error("the client secret is derived from the seed; it must be random")
	}
	if len(a.Users()) != 500 || len(a.Groups()) != 60 {
		t.Errorf("sizes %d/%d", len(a.Users()), len(a.Groups()))
	}
}

func TestGenerateRealistic(t *testing.T) {
	tn, err := New(Options{Users: 2000, Groups: 200, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var nonASCII, apostropheUPN, guests, noMail, disabled, unlicensed, invalidPhone, synced, cjk, titleCaseMail int
	for _, u := range tn.Users() {
		if u.DisplayName != "" && !isASCII(u.DisplayName) {
			nonASCII++
		}
		if strings.ContainsAny(u.DisplayName, "王李张佐鈴김이") {
			cjk++
		}
		if strings.Contains(u.UserPrincipalName, "'") {
			apostropheUPN++
		}
		if u.UserType == "Guest" {
			guests++
			if !strings.Contains(u.UserPrincipalName, "#EXT#@"+tn.InitialDomain()) || u.Mail == "" || u.CreationType != "Invitation" {
				t.Errorf("guest %+v", u)
			}
		} else if !strings.HasSuffix(u.UserPrincipalName, "@"+tn.Domain()) {
			t.Errorf("member UPN %s", u.UserPrincipalName)
		}
		if u.Mail == "" {
			noMail++
			if len(u.ProxyAddresses) != 0 {
				t.Errorf("user without mail has proxy addresses %v", u.ProxyAddresses)
			}
		} else if u.UserType == "Member" {
			if len(u.ProxyAddresses) == 0 || u.ProxyAddresses[0] != "SMTP:"+u.Mail {
				t.Errorf("primary proxy address of %s = %v", u.Mail, u.ProxyAddresses)
			}
			if u.Mail != u.UserPrincipalName {
				titleCaseMail++
			}
		}
		if !u.AccountEnabled {
			disabled++
		}
		if len(u.AssignedLicenses) == 0 {
			unlicensed++
		}
		for _, p := range append([]string{u.MobilePhone}, u.BusinessPhones...) {
			for _, bad := range gen.InvalidPhones {
				if p == bad {
					invalidPhone++
				}
			}
		}
		if u.OnPremisesImmutableID != "" {
			synced++
		}
		if !utf8.ValidString(u.DisplayName) {
			t.Errorf("invalid UTF-8 in %q", u.DisplayName)
		}
	}
	for name, n := range map[string]int{"non-ASCII names": nonASCII, "CJK names": cjk, "apostrophes in UPNs": apostropheUPN, "guests": guests, "users without mail": noMail,
		"disabled users": disabled, "unlicensed users": unlicensed, "invalid phones": invalidPhone, "synced users": synced, "mails cased apart from the UPN": titleCaseMail} {
		if n < 5 {
			t.Errorf("%d %s in 2,000 users", n, name)
		}
	}
	kinds := map[string]int{}
	unified, security, dl, dynamic, nested := 0, 0, 0, 0, 0
	for _, g := range tn.Groups() {
		switch {
		case g.IsUnified():
			unified++
		case len(g.GroupTypes) > 0 && g.GroupTypes[0] == "DynamicMembership":
			dynamic++
		case g.SecurityEnabled:
			security++
		case g.MailEnabled:
			dl++
		}
		for _, m := range tn.DirectMembers(g.ID) {
			kinds[m.Kind]++
			if m.Kind == KindGroup {
				nested++
			}
		}
		if g.SecurityIdentifier == "" || !strings.HasPrefix(g.SecurityIdentifier, "S-1-12-1-") {
			t.Errorf("securityIdentifier %q", g.SecurityIdentifier)
		}
	}
	if unified == 0 || security == 0 || dl == 0 || dynamic == 0 || nested < 3 {
		t.Errorf("groups: %d unified, %d security, %d distribution, %d dynamic, %d nestings", unified, security, dl, dynamic, nested)
	}
	for _, k := range []string{KindUser, KindGroup, KindDevice, KindOrgContact, KindServicePrincipal} {
		if kinds[k] == 0 {
			t.Errorf("no %s member in any group", k)
		}
	}
	// The nesting cycle.
	a, b := groupByName(t, tn, "Cycle A"), groupByName(t, tn, "Cycle B")
	if !contains(tn.MemberOf(a.ID), b.ID) || !contains(tn.MemberOf(b.ID), a.ID) {
		t.Error("Cycle A and Cycle B do not contain each other")
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// The first users carry the awkward traits even in a tiny tenant.
func TestGenerateSmallTenantHasEdgeCases(t *testing.T) {
	tn, err := New(Options{Users: 10, Groups: 3, Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	u := tn.Users()
	var guest, noMail, disabled, unlicensed, apostrophe bool
	for _, x := range u {
		guest = guest || x.UserType == "Guest"
		noMail = noMail || x.Mail == ""
		disabled = disabled || !x.AccountEnabled
		unlicensed = unlicensed || (x.UserType == "Member" && len(x.AssignedLicenses) == 0)
		apostrophe = apostrophe || strings.Contains(x.UserPrincipalName, "'")
	}
	if !guest || !noMail || !disabled || !unlicensed || !apostrophe {
		t.Errorf("guest %v, no mail %v, disabled %v, unlicensed %v, apostrophe %v", guest, noMail, disabled, unlicensed, apostrophe)
	}
	if g := tn.Groups(); len(g) != 3 || g[0].DisplayName == "" {
		t.Errorf("groups = %v", g)
	}
}

// A 100,000-user, 5,000-group tenant generates in seconds and holds its
// largest groups in the tens of thousands.
func TestGenerateLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large tenant")
	}
	began := time.Now()
	tn, err := New(Options{Users: 100000, Groups: 5000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// Its speed is BenchmarkGenerate100k's to measure.
	t.Logf("100,000 users and 5,000 groups in %v, heap %d MB", took, ms.HeapAlloc>>20)
	if ms.HeapAlloc > 600<<20 {
		t.Errorf("heap %d MB after generation", ms.HeapAlloc>>20)
	}
	if n := len(tn.DirectMembers(groupByName(t, tn, "All Employees").ID)); n < 50000 {
		t.Errorf("All Employees has %d members", n)
	}
}

func BenchmarkGenerate100k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := New(Options{Users: 100000, Groups: 5000, Seed: int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
