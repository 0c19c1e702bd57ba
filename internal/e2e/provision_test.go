package e2e

// Active Directory to Entra ID: a Samba AD DC, read by the LDAP connector
// into dirsync's directory (an OU filter and a UPN suffix map), exported by
// package provision into the emulated tenant. The expected tenant is
// computed from what the test did to AD, never from dirsync's directory.

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/provision"
	"github.com/dirsync/dirsync/internal/sambatest"
	"github.com/dirsync/dirsync/internal/store"
)

// cloudState is what the test compares of the tenant: users by anchor
// (UPN, display name, enabled) and groups by name (members' UPNs).
type cloudState struct {
	users  map[string]string
	groups map[string][]string
}

func tenantState(tn *entraemu.Tenant) cloudState {
	s := cloudState{users: map[string]string{}, groups: map[string][]string{}}
	for _, u := range tn.Users() {
		if u.OnPremisesImmutableID == "" {
			continue // the tenant's own users
		}
		s.users[u.OnPremisesImmutableID] = strings.Join([]string{u.UserPrincipalName, u.DisplayName, map[bool]string{true: "on", false: "off"}[u.AccountEnabled]}, "|")
	}
	for _, g := range tn.Groups() {
		if !strings.HasPrefix(g.DisplayName, "AD ") {
			continue
		}
		var ms []string
		for _, m := range tn.DirectMembers(g.ID) {
			if u, ok := tn.User(m.ID); ok {
				ms = append(ms, u.UserPrincipalName)
			}
		}
		slices.Sort(ms)
		s.groups[g.DisplayName] = ms
	}
	return s
}

func TestADToEntraProvisioning(t *testing.T) {
	dc := sharedDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Prov")
	staff := a.AddOU(root, "Staff")
	gone := a.AddOU(root, "Leavers") // outside the OU filter
	tenant, err := entraemu.New(entraemu.Options{Users: 3, Groups: 1, Seed: 12})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dom, initial := tenant.Domain(), tenant.InitialDomain()
	// The tenant's own users, some of them synced from elsewhere (anchored),
	// are not the test's: they stay as they are.
	own := tenantState(tenant)
	state := func() cloudState {
		s := tenantState(tenant)
		for k, v := range own.users {
			if s.users[k] == v {
				delete(s.users, k)
			}
		}
		return s
	}

	// corp.example UPNs map to the tenant's domain; corp.local ones are
	// not routable and go to its .onmicrosoft.com domain.
	ann := a.AddUser(staff, sambatest.User{SAMAccountName: "pann", UPN: "ann@corp.example", GivenName: "Ann", Surname: "Lee", DisplayName: "Ann Lee", Title: "Engineer"})
	bob := a.AddUser(staff, sambatest.User{SAMAccountName: "pbob", UPN: "bob@corp.local", DisplayName: "Bob Stone"})
	cid := a.AddUser(staff, sambatest.User{SAMAccountName: "pcid", UPN: "cid@corp.example", DisplayName: "Cid Moss"})
	dan := a.AddUser(staff, sambatest.User{SAMAccountName: "pdan", UPN: "dan@corp.example", DisplayName: "Dan Roe", Disabled: true})
	a.AddUser(gone, sambatest.User{SAMAccountName: "pout", UPN: "out@corp.example", DisplayName: "Out Side"})
	eng := a.AddGroup(staff, sambatest.Group{CN: "AD Engineering", Members: []string{ann, bob}})
	a.AddGroup(staff, sambatest.Group{CN: "AD All", Members: []string{ann, bob, cid, dan}})
	a.AddGroup(staff, sambatest.Group{CN: "AD News", Distribution: true, Members: []string{ann}})

	cfg := adConfig(dc, root)
	cfg.IncludeOUs = []string{staff}
	cfg.UPNSuffixMap = map[string]string{"corp.example": dom}
	d := newADSync(t, dc, cfg, time.Now)
	d.sync(engine.Options{})

	creds := srv.Credentials()
	tcfg := entra.Config{Tenant: creds.TenantID, ClientID: creds.WriteApp.ClientID, Cloud: "custom", AuthorityURL: creds.AuthorityURL,
		GraphURL: creds.GraphURL, CAPEM: string(srv.CAPEM())}
	conn, err := provision.Open(tcfg, []byte(creds.WriteApp.ClientSecret), provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	settings, _ := json.Marshal(provision.Settings{Sources: []string{d.src.ID}, UsageLocation: "US"})
	target := directory.Target{AccountID: d.src.AccountID, Name: "cloud", Kind: directory.TargetEntra, Settings: settings, Enabled: true}
	if err := d.st.Update(d.ctx, func(tx store.Tx) error { return tx.CreateTarget(d.ctx, &target) }); err != nil {
		t.Fatal(err)
	}
	x := &provision.Exporter{Store: d.st}
	cycle := func(full bool) provision.Result {
		t.Helper()
		res, err := x.Cycle(d.ctx, target, conn, provision.CycleOptions{Full: full})
		if err != nil || (res.Run.Outcome != provision.RunSucceeded && res.Run.Outcome != provision.RunPartial) {
			t.Fatalf("cycle: %v %s %q", err, res.Run.Outcome, res.Run.Reason)
		}
		if res.Summary.Failed > 0 {
			raw, _ := json.Marshal(res.Steps)
			t.Fatalf("failed steps: %s", raw)
		}
		return res
	}
	anchor := func(dn string) string { return base64.StdEncoding.EncodeToString(a.GUID(dn)) }

	cycle(false)
	want := cloudState{users: map[string]string{
		anchor(ann): "ann@" + dom + "|Ann Lee|on",
		anchor(bob): "bob@" + initial + "|Bob Stone|on",
		anchor(cid): "cid@" + dom + "|Cid Moss|on",
		anchor(dan): "dan@" + dom + "|Dan Roe|off",
	}, groups: map[string][]string{
		"AD Engineering": {"ann@" + dom, "bob@" + initial},
		"AD All":         sorted([]string{"ann@" + dom, "bob@" + initial, "cid@" + dom, "dan@" + dom}),
	}}
	if got := state(); !equalState(got, want) {
		t.Fatalf("after the first cycle the tenant has\n%v\nwant\n%v", got, want)
	}
	if u, _ := tenant.User("ann@" + dom); u.JobTitle != "Engineer" || u.UsageLocation != "US" || u.GivenName != "Ann" {
		t.Errorf("Ann's attributes in the tenant: %+v", u)
	}

	// Rename Ann (UPN and display name) and move her to another OU in
	// scope, disable Cid, move Bob out of the OU filter, delete Dan, add
	// Cid to Engineering and take Bob out.
	annCloud, _ := tenant.User("ann@" + dom)
	a.Replace(ann, "userPrincipalName", "ann.lee@corp.example")
	a.Replace(ann, "displayName", "Ann Lee-Smith")
	ann = a.Move(ann, "Ann Lee", a.AddOU(staff, "Moved"))
	a.SetEnabled(cid, false)
	a.AddMembers(eng, cid)
	a.RemoveMembers(eng, bob)
	a.Move(bob, "Bob Stone", gone)
	a.Delete(dan)
	d.sync(engine.Options{AllowDeletes: true}) // 3 of 7 objects leave: past the import's own limit
	res := cycle(false)
	if res.Summary.ReadFull {
		t.Errorf("the second cycle read the tenant from scratch, not by delta")
	}
	want = cloudState{users: map[string]string{
		anchor(ann): "ann.lee@" + dom + "|Ann Lee-Smith|on",
		anchor(cid): "cid@" + dom + "|Cid Moss|off",
	}, groups: map[string][]string{
		"AD Engineering": sorted([]string{"ann.lee@" + dom, "cid@" + dom}),
		"AD All":         sorted([]string{"ann.lee@" + dom, "cid@" + dom}),
	}}
	if got := state(); !equalState(got, want) {
		t.Fatalf("after the delta cycle the tenant has\n%v\nwant\n%v", got, want)
	}
	if u, _ := tenant.User("ann.lee@" + dom); u.ID != annCloud.ID {
		t.Errorf("Ann is a new cloud user after her rename and move (%s, was %s)", u.ID, annCloud.ID)
	}
	// The delta cycle left the tenant as an initial cycle would: one finds
	// nothing to do.
	if res := cycle(true); len(res.Steps) != 1 || res.Steps[0].Op != provision.OpSkip {
		raw, _ := json.Marshal(res.Steps)
		t.Fatalf("an initial cycle after the delta one plans %s", raw)
	}
}

func equalState(a, b cloudState) bool {
	if len(a.users) != len(b.users) || len(a.groups) != len(b.groups) {
		return false
	}
	for k, v := range a.users {
		if b.users[k] != v {
			return false
		}
	}
	for k, v := range a.groups {
		if !slices.Equal(v, b.groups[k]) {
			return false
		}
	}
	return true
}
