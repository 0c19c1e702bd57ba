package entra_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/graph/graphtest"
)

// These tests run the connector against dirsync's emulated tenant, in
// process on 127.0.0.1. The documented-response tests above check the
// client against Microsoft's examples; these check that the whole read
// gives exactly the tenant's state, through splits, throttling and resets.

func startEmulator(t *testing.T, opts entraemu.Options) (*entraemu.Tenant, entra.Config, string, *graphtest.Clock, func(entra.Config, string) connector.Connector) {
	t.Helper()
	tenant, err := entraemu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	creds := srv.Credentials()
	cfg := entra.Config{
		Tenant: creds.TenantID, ClientID: creds.ClientID, Cloud: "custom",
		AuthorityURL: creds.AuthorityURL, GraphURL: creds.GraphURL, CAPEM: string(srv.CAPEM()),
	}
	clock := graphtest.NewClock()
	open := func(cfg entra.Config, secret string) connector.Connector {
		c, err := entra.Open(cfg, []byte(secret), entra.Options{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return tenant, cfg, creds.ClientSecret, clock, open
}

// expectSnapshot compares what the connector read with the tenant itself.
func expectSnapshot(t *testing.T, tenant *entraemu.Tenant, s *sink) {
	t.Helper()
	users := tenant.Users()
	if len(s.users) != len(users) {
		t.Errorf("read %d users, the tenant has %d", len(s.users), len(users))
	}
	for _, u := range users {
		got, ok := s.users[u.ID]
		if !ok {
			t.Errorf("user %s (%s) missing", u.ID, u.UserPrincipalName)
			continue
		}
		if got.Username != u.UserPrincipalName || got.Email != u.Mail || got.Enabled != u.AccountEnabled ||
			got.DisplayName != u.DisplayName || got.UserType != u.UserType || got.Department != u.Department ||
			len(got.Licenses) != len(u.AssignedLicenses) || !slices.Equal(got.ProxyAddresses, nilIfEmpty(u.ProxyAddresses)) {
			t.Errorf("user %s: read %+v, tenant has %+v", u.ID, got, u)
		}
	}
	groups := tenant.Groups()
	if len(s.groups) != len(groups) {
		t.Errorf("read %d groups, the tenant has %d", len(s.groups), len(groups))
	}
	skips := map[string]int{}
	for _, k := range s.skips {
		skips[k.Kind]++
		if k.Code != directory.SkipNonDirectoryMember {
			t.Errorf("skipped %s %s: code %q, want %q", k.Kind, k.ExternalID, k.Code, directory.SkipNonDirectoryMember)
		}
	}
	wantSkips := map[string]int{}
	for _, g := range groups {
		got, ok := s.groups[g.ID]
		if !ok || got.Name != g.DisplayName || got.SecurityEnabled != g.SecurityEnabled || got.MailEnabled != g.MailEnabled || got.Mail != g.Mail {
			t.Errorf("group %s: read %+v, tenant has %+v", g.ID, got, g)
		}
		var want []string
		for _, m := range tenant.DirectMembers(g.ID) {
			switch m.Kind {
			case entraemu.KindUser, entraemu.KindGroup:
				want = append(want, m.Kind+":"+m.ID)
			default:
				wantSkips[m.Kind]++
			}
		}
		have := slices.Clone(s.members[g.ID])
		slices.Sort(have)
		have = slices.Compact(have) // a member may be reported in two slices
		slices.Sort(want)
		if !slices.Equal(have, want) {
			t.Errorf("group %s (%s): read %d members, the tenant has %d", g.ID, g.DisplayName, len(have), len(want))
		}
	}
	for k, n := range wantSkips {
		if skips[k] < n {
			t.Errorf("%d %s members skipped, the tenant has %d", skips[k], k, n)
		}
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestEmulatorCheckAndSnapshot(t *testing.T) {
	// Small delta pages, so that groups split over several pages.
	tenant, cfg, secret, _, open := startEmulator(t, entraemu.Options{
		Users: 300, Groups: 30, Seed: 42, DeltaGroupPageSize: 4, DeltaMemberPageSize: 25,
	})
	c := open(cfg, secret)
	results, err := c.Check(ctx(t))
	if err != nil {
		t.Fatalf("check: %v (%+v)", err, results)
	}
	s := newSink()
	if err := c.Snapshot(ctx(t), s); err != nil {
		t.Fatal(err)
	}
	expectSnapshot(t, tenant, s)
	var guests, noMail, disabled int
	for _, u := range s.users {
		if strings.Contains(u.Username, "#EXT#") {
			guests++
		}
		if u.Email == "" {
			noMail++
		}
		if !u.Enabled {
			disabled++
		}
	}
	t.Logf("%d users (%d guests, %d without mail, %d disabled), %d groups, %d skipped members, %+v",
		len(s.users), guests, noMail, disabled, len(s.groups), len(s.skips), c.(connector.Counter).Stats())
}

func TestEmulatorThrottlingAndResets(t *testing.T) {
	tenant, cfg, secret, clock, open := startEmulator(t, entraemu.Options{Users: 120, Groups: 12, Seed: 7, DeltaGroupPageSize: 3})
	tenant.InjectFault(entraemu.Fault{PathPrefix: "/v1.0/groups/delta", Every: 3, Status: 429, RetryAfter: 2 * time.Second})
	tenant.InjectFault(entraemu.Fault{PathPrefix: "/v1.0/users", Every: 2, Times: 1, Reset: true})
	tenant.InjectFault(entraemu.Fault{PathPrefix: "/v1.0/groups/delta", Every: 4, Times: 2, Status: 503})
	c := open(cfg, secret)
	s := newSink()
	if err := c.Snapshot(ctx(t), s); err != nil {
		t.Fatal(err)
	}
	expectSnapshot(t, tenant, s)
	st := c.(connector.Counter).Stats()
	if st.Throttled == 0 || st.Retries < st.Throttled+1 {
		t.Errorf("stats %+v: the faults were not met", st)
	}
	var waited time.Duration
	for _, d := range clock.Sleeps() {
		waited += d
	}
	if waited < time.Duration(st.Throttled)*2*time.Second {
		t.Errorf("waited %v in all for %d throttled answers with Retry-After 2s", waited, st.Throttled)
	}
}

func TestEmulatorDeltaAfterChanges(t *testing.T) {
	tenant, cfg, secret, _, open := startEmulator(t, entraemu.Options{Users: 60, Groups: 6, Seed: 3})
	c := open(cfg, secret)
	inc := incremental(t, c)
	cur, err := inc.Cursor(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	users := tenant.Users()
	groups := tenant.Groups()
	changed, gone := users[0], users[1]
	if _, err := tenant.UpdateUser(changed.ID, func(u *entraemu.User) { u.JobTitle = "Chief Tester" }); err != nil {
		t.Fatal(err)
	}
	if err := tenant.DeleteUser(gone.ID); err != nil {
		t.Fatal(err)
	}
	created, err := tenant.CreateUser(entraemu.User{UserPrincipalName: "new.person@" + strings.SplitN(changed.UserPrincipalName, "@", 2)[1], DisplayName: "New Person", AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	g := groups[0]
	if err := tenant.AddMember(g.ID, created.ID); err != nil {
		t.Fatal(err)
	}
	var leaving string
	for _, m := range tenant.DirectMembers(g.ID) {
		if m.Kind == entraemu.KindUser && m.ID != created.ID && m.ID != gone.ID {
			leaving = m.ID
			break
		}
	}
	if leaving != "" {
		if err := tenant.RemoveMember(g.ID, leaving); err != nil {
			t.Fatal(err)
		}
	}

	s := newSink()
	next, err := inc.Changes(ctx(t), cur, s)
	if err != nil {
		t.Fatal(err)
	}
	if next == "" || next == cur {
		t.Errorf("cursor did not move: %s", next)
	}
	patched := func(id, field string) bool {
		for _, p := range s.patches {
			if strings.HasPrefix(p, "user:"+id+":") && slices.Contains(strings.Split(strings.SplitN(p, ":", 3)[2], ","), field) {
				return true
			}
		}
		return false
	}
	if !patched(changed.ID, "job_title") || s.patchedUser[changed.ID].JobTitle != "Chief Tester" {
		t.Errorf("job title change not seen: %v", s.patches)
	}
	if !patched(created.ID, "username") || s.patchedUser[created.ID].Username != created.UserPrincipalName {
		t.Errorf("new user not seen: %v", s.patches)
	}
	if !slices.Contains(s.removed, fmt.Sprintf("user:%s:false", gone.ID)) {
		t.Errorf("soft delete not seen: %v", s.removed)
	}
	if !slices.Contains(s.members[g.ID], "user:"+created.ID) {
		t.Errorf("new membership not seen: %v", s.members[g.ID])
	}
	if leaving != "" && !slices.Contains(s.memRemoved, g.ID+"/user:"+leaving) {
		t.Errorf("removed membership not seen: %v", s.memRemoved)
	}

	// A second round from the new cursor has nothing new.
	s2 := newSink()
	if _, err := inc.Changes(ctx(t), next, s2); err != nil {
		t.Fatal(err)
	}
	if len(s2.patches)+len(s2.removed)+len(s2.memRemoved) != 0 {
		t.Errorf("second round not empty: %v %v %v", s2.patches, s2.removed, s2.memRemoved)
	}
}

func TestEmulatorCheckFailures(t *testing.T) {
	tenant, cfg, secret, _, open := startEmulator(t, entraemu.Options{Users: 5, Groups: 1, Seed: 1})
	app := tenant.DefaultApp()
	expired := entraemu.App{ClientID: "11111111-2222-3333-4444-555555555555", DisplayName: "expired", Secret: "expired-secret-value", SecretExpired: true, Roles: entraemu.ReadRoles}
	noRoles := entraemu.App{ClientID: "22222222-3333-4444-5555-666666666666", DisplayName: "no consent", Secret: "no-roles-secret-value"}
	for _, a := range []entraemu.App{expired, noRoles} {
		if err := tenant.AddApp(a); err != nil {
			t.Fatal(err)
		}
	}
	with := func(edit func(*entra.Config)) entra.Config {
		c := cfg
		edit(&c)
		return c
	}
	for _, tc := range []struct {
		name   string
		cfg    entra.Config
		secret string
		kind   connector.ErrorKind
		code   string
	}{
		{"secret id instead of value", cfg, app.SecretID, connector.KindAuth, "AADSTS7000215"},
		{"wrong secret", cfg, "not-the-secret", connector.KindAuth, "AADSTS7000215"},
		{"expired secret", with(func(c *entra.Config) { c.ClientID = expired.ClientID }), expired.Secret, connector.KindAuth, "AADSTS7000222"},
		{"unknown application", with(func(c *entra.Config) { c.ClientID = "33333333-4444-5555-6666-777777777777" }), secret, connector.KindAuth, "AADSTS700016"},
		{"unknown tenant", with(func(c *entra.Config) { c.Tenant = "44444444-5555-6666-7777-888888888888" }), secret, connector.KindNotFound, "AADSTS90002"},
		{"no admin consent", with(func(c *entra.Config) { c.ClientID = noRoles.ClientID }), noRoles.Secret, connector.KindPermission, "Authorization_RequestDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := open(tc.cfg, tc.secret).Check(ctx(t))
			var ce *connector.Error
			if !errors.As(err, &ce) || ce.Kind != tc.kind || ce.Code != tc.code {
				t.Fatalf("err = %v, want %s %s", err, tc.kind, tc.code)
			}
			t.Log(ce.Message)
		})
	}
}

// TestParentGroupsAgainstTheEmulator: the groups a group is a direct member
// of, for several groups in one call; a group gone since has none.
func TestParentGroupsAgainstTheEmulator(t *testing.T) {
	tenant, cfg, secret, _, open := startEmulator(t, entraemu.Options{Users: 5, Groups: 0, Seed: 3})
	inner, err := tenant.CreateGroup(entraemu.Group{DisplayName: "Inner", SecurityEnabled: true, MailNickname: "inner"})
	if err != nil {
		t.Fatal(err)
	}
	mid, _ := tenant.CreateGroup(entraemu.Group{DisplayName: "Mid", SecurityEnabled: true, MailNickname: "mid"}, inner.ID)
	top, _ := tenant.CreateGroup(entraemu.Group{DisplayName: "Top", SecurityEnabled: true, MailNickname: "top"}, mid.ID, inner.ID)
	gone, _ := tenant.CreateGroup(entraemu.Group{DisplayName: "Gone", SecurityEnabled: true, MailNickname: "gone"})
	tenant.DeleteGroup(gone.ID)
	c := open(cfg, secret).(connector.GroupParents)
	edges, err := c.ParentGroups(t.Context(), []string{inner.ID, mid.ID, top.ID, gone.ID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range edges {
		if e.MemberKind != "group" {
			t.Errorf("edge %+v", e)
		}
		got = append(got, e.MemberExternalID+" in "+e.GroupExternalID)
	}
	slices.Sort(got)
	want := []string{inner.ID + " in " + mid.ID, inner.ID + " in " + top.ID, mid.ID + " in " + top.ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("ParentGroups = %v, want %v", got, want)
	}
}
