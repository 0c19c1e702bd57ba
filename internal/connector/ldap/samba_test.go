package ldap

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/sambatest"
)

// One Samba DC serves the whole package: provisioning costs about 4 s. Each
// test works in an OU of its own and points the connector at it.
var (
	dcOnce sync.Once
	dcErr  error
	theDC  *sambatest.DC
)

func TestMain(m *testing.M) {
	code := m.Run()
	if theDC != nil {
		theDC.Close()
	}
	os.Exit(code)
}

func testDC(t *testing.T) *sambatest.DC {
	t.Helper()
	dcOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		theDC, dcErr = sambatest.New(ctx, sambatest.Options{Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	})
	if errors.Is(dcErr, sambatest.ErrUnavailable) {
		t.Skipf("%v (CI installs it: %s)", dcErr, sambatest.InstallHint)
	}
	if dcErr != nil {
		t.Fatal(dcErr)
	}
	return theDC
}

// baseCfg points the connector at the test DC, within the OUs given.
func baseCfg(dc *sambatest.DC, ous ...string) Config {
	return Config{
		URLs:       []string{dc.URL},
		BaseDN:     dc.BaseDN,
		BindDN:     dc.AdminDN,
		CAPEM:      string(dc.CAPEM),
		IncludeOUs: ous,
	}
}

func open(t *testing.T, dc *sambatest.DC, cfg Config, opts Options) *source {
	t.Helper()
	c, err := Open(cfg, []byte(dc.AdminPassword), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*source)
}

func snapshot(t *testing.T, c *source) *recorder {
	t.Helper()
	r := newRecorder()
	if err := c.Snapshot(t.Context(), r); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if d := r.membersDangling(); len(d) > 0 {
		t.Fatalf("memberships name unknown objects: %v", d)
	}
	return r
}

// fixture is a small company in an OU of its own.
type fixture struct {
	root, staff, sales, contractors, other string
	alice, bob, carol, dave, erin, frank   string // user DNs
	eng, nested, dl                        string // group DNs
	pc, contact                            string
}

func newFixture(t *testing.T, dc *sambatest.DC, name string) fixture {
	t.Helper()
	a := dc.Admin(t)
	var f fixture
	f.root = a.AddOU(dc.BaseDN, name)
	f.staff = a.AddOU(f.root, "Staff")
	f.sales = a.AddOU(f.staff, "Sales")
	f.contractors = a.AddOU(f.staff, "Contractors")
	f.other = a.AddOU(f.root, "Other")
	p := strings.ToLower(name) + "-"
	f.alice = a.AddUser(f.staff, sambatest.User{CN: "Alice Ångström", SAMAccountName: p + "alice", UPN: p + "alice@corp.example.com",
		GivenName: "Alice", Surname: "Ångström", DisplayName: "Alice Ångström", Title: "Engineer", Department: "R&D",
		Phone: "+1 555 0100", Mobile: "+1 555 0101",
		ProxyAddresses: []string{"smtp:" + p + "a@corp.example.com", "SMTP:" + p + "alice@corp.example.com"}})
	f.bob = a.AddUser(f.sales, sambatest.User{SAMAccountName: p + "bob", UPN: p + "bob@corp.example.com", Mail: p + "bob@corp.example.com",
		GivenName: "Bob", Surname: "O'Brien", Disabled: true})
	f.carol = a.AddUser(f.staff, sambatest.User{SAMAccountName: p + "carol", UPN: p + "carol@corp.example.com",
		AccountExpires: TimeToFiletime(time.Now().Add(-24 * time.Hour))})
	f.dave = a.AddUser(f.staff, sambatest.User{SAMAccountName: p + "dave"}) // no UPN
	f.erin = a.AddUser(f.staff, sambatest.User{SAMAccountName: p + "erin", UPN: p + "erin@corp.local"})
	f.frank = a.AddUser(f.contractors, sambatest.User{SAMAccountName: p + "frank", UPN: p + "frank@corp.example.com"})
	f.pc = a.AddComputer(f.staff, strings.ToUpper(p)+"PC1")
	f.contact = a.AddContact(f.staff, p+"Vendor Contact", "vendor@partner.example")
	f.nested = a.AddGroup(f.staff, sambatest.Group{CN: p + "Nested", Members: []string{f.carol}})
	f.eng = a.AddGroup(f.staff, sambatest.Group{CN: p + "Engineering", Description: "Builds things",
		Members: []string{f.alice, f.bob, f.pc, f.contact, f.nested, f.frank}})
	f.dl = a.AddGroup(f.other, sambatest.Group{CN: p + "All Staff", Mail: p + "all@corp.example.com", Distribution: true,
		Members: []string{f.alice, f.eng}})
	return f
}

func TestSnapshotAgainstSamba(t *testing.T) {
	dc := testDC(t)
	f := newFixture(t, dc, "Snap")
	cfg := baseCfg(dc, f.root)
	cfg.ExcludeOUs = []string{f.contractors}
	cfg.UPNSuffixMap = map[string]string{"corp.local": "corp.example.com"}
	c := open(t, dc, cfg, Options{})
	r := snapshot(t, c)

	users := r.byName()
	var names []string
	for n := range users {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"snap-alice@corp.example.com", "snap-bob@corp.example.com", "snap-carol@corp.example.com",
		"snap-dave@corp.example.com", "snap-erin@corp.example.com"}
	if !slices.Equal(names, want) {
		t.Fatalf("users = %q, want %q (frank is in an excluded OU; computers and contacts are not users)", names, want)
	}
	alice := users["snap-alice@corp.example.com"]
	if alice.Email != "snap-alice@corp.example.com" || alice.GivenName != "Alice" || alice.Surname != "Ångström" ||
		alice.DisplayName != "Alice Ångström" || alice.JobTitle != "Engineer" || alice.Department != "R&D" ||
		alice.MobilePhone != "+1 555 0101" || !slices.Equal(alice.BusinessPhones, []string{"+1 555 0100"}) ||
		alice.AccountName != "snap-alice" || !alice.Enabled || len(alice.ProxyAddresses) != 2 ||
		!strings.EqualFold(alice.DN, f.alice) {
		t.Errorf("alice = %+v", alice)
	}
	if alice.ExternalID != FormatGUID(dc.Admin(t).GUID(f.alice)) {
		t.Errorf("alice's anchor %s is not her objectGUID", alice.ExternalID)
	}
	if raw, _ := base64.StdEncoding.DecodeString(alice.ImmutableID); FormatGUID(raw) != alice.ExternalID {
		t.Errorf("alice's immutable ID %q is not the base64 of her anchor", alice.ImmutableID)
	}
	if u := users["snap-bob@corp.example.com"]; u.Enabled || u.Email != "snap-bob@corp.example.com" || u.Surname != "O'Brien" {
		t.Errorf("bob (disabled) = %+v", u)
	}
	if u := users["snap-carol@corp.example.com"]; u.Enabled {
		t.Errorf("carol's account expired yesterday but she is enabled")
	}
	if u := users["snap-dave@corp.example.com"]; u.AccountName != "snap-dave" || !u.Enabled {
		t.Errorf("dave (no UPN) = %+v", u)
	}

	eng, ok := r.groupByName("snap-Engineering")
	if !ok || !eng.SecurityEnabled || eng.Description != "Builds things" || !slices.Equal(eng.GroupTypes, []string{"global"}) {
		t.Fatalf("Engineering = %+v, %v", eng, ok)
	}
	dl, ok := r.groupByName("snap-All Staff")
	if !ok || dl.SecurityEnabled || !dl.MailEnabled || dl.Mail != "snap-all@corp.example.com" {
		t.Fatalf("All Staff = %+v, %v", dl, ok)
	}
	nested, _ := r.groupByName("snap-Nested")
	if len(r.groups) != 3 {
		t.Errorf("groups = %d, want 3", len(r.groups))
	}
	if got := r.memberNames(eng.ExternalID); !slices.Equal(got, []string{"group:snap-Nested", "user:snap-alice@corp.example.com", "user:snap-bob@corp.example.com"}) {
		t.Errorf("Engineering members = %q", got)
	}
	if got := r.memberNames(nested.ExternalID); !slices.Equal(got, []string{"user:snap-carol@corp.example.com"}) {
		t.Errorf("Nested members = %q", got)
	}
	if got := r.memberNames(dl.ExternalID); !slices.Equal(got, []string{"group:snap-Engineering", "user:snap-alice@corp.example.com"}) {
		t.Errorf("All Staff members = %q", got)
	}
	reasons := map[string]string{}
	for _, s := range r.skips {
		reasons[s.Kind] = s.Reason
	}
	if reasons["device"] != "device" || reasons["contact"] != "contact" || reasons["user"] != "member outside the source's scope" || len(r.skips) != 3 {
		t.Errorf("skips = %+v, want the computer, the contact and frank (excluded OU)", r.skips)
	}

	// Renames and moves keep the anchor.
	a := dc.Admin(t)
	moved := a.Move(f.bob, "Robert O'Brien", f.other)
	a.Replace(moved, "userPrincipalName", "snap-robert@corp.example.com")
	r2 := snapshot(t, c)
	bob := users["snap-bob@corp.example.com"]
	got, ok := r2.users[bob.ExternalID]
	if !ok || got.Username != "snap-robert@corp.example.com" || !strings.EqualFold(got.DN, moved) {
		t.Errorf("after rename and move, anchor %s holds %+v", bob.ExternalID, got)
	}
	if !r2.members[directory.SourceMembership{GroupExternalID: eng.ExternalID, MemberExternalID: bob.ExternalID, MemberKind: directory.MemberUser}] {
		t.Error("the moved user lost his membership")
	}
}

// TestOUFilterExactness runs the same directory through several OU
// filters and checks that exactly the expected subtrees come in.
func TestOUFilterExactness(t *testing.T) {
	dc := testDC(t)
	f := newFixture(t, dc, "Scope")
	for _, tc := range []struct {
		name             string
		include, exclude []string
		want             []string
	}{
		{"whole fixture", []string{f.root}, nil, []string{"alice", "bob", "carol", "dave", "erin", "frank"}},
		{"exclude contractors", []string{f.root}, []string{f.contractors}, []string{"alice", "bob", "carol", "dave", "erin"}},
		{"exclude staff", []string{f.root}, []string{f.staff}, nil},
		{"only sales", []string{f.sales}, nil, []string{"bob"}},
		{"nested includes read once", []string{f.staff, f.sales}, []string{f.contractors}, []string{"alice", "bob", "carol", "dave", "erin"}},
		{"two subtrees", []string{f.sales, f.contractors}, nil, []string{"bob", "frank"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseCfg(dc, tc.include...)
			cfg.ExcludeOUs = tc.exclude
			r := newRecorder()
			users := 0
			counting := &countingSink{recorder: r, users: &users}
			if err := open(t, dc, cfg, Options{}).Snapshot(t.Context(), counting); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range r.users {
				got = append(got, strings.TrimPrefix(u.AccountName, "scope-"))
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || users != len(tc.want) {
				t.Errorf("users = %q (%d calls), want %q", got, users, tc.want)
			}
		})
	}
}

type countingSink struct {
	*recorder
	users *int
}

func (c *countingSink) User(u directory.SourceUser) error {
	*c.users++
	return c.recorder.User(u)
}

func TestVanishedOUStopsTheSync(t *testing.T) {
	dc := testDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Vanish")
	ou := a.AddOU(root, "Team")
	a.AddUser(ou, sambatest.User{SAMAccountName: "vanish-u1", UPN: "vanish-u1@corp.example.com"})
	c := open(t, dc, baseCfg(dc, ou), Options{})
	cursor, err := c.Cursor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r := snapshot(t, c); len(r.users) != 1 {
		t.Fatalf("users = %d, want 1", len(r.users))
	}
	// The admin renames the OU: the configured DN no longer exists.
	a.Move(ou, "Team Renamed", "")
	for name, call := range map[string]func() error{
		"snapshot": func() error { return c.Snapshot(t.Context(), newRecorder()) },
		"changes":  func() error { _, err := c.Changes(t.Context(), cursor, newRecorder()); return err },
		"check":    func() error { _, err := c.Check(t.Context()); return err },
	} {
		err := call()
		if connector.KindOf(err) != connector.KindNotFound || !strings.Contains(err.Error(), ou) {
			t.Errorf("%s after the OU was renamed = %v, want KindNotFound naming %s", name, err, ou)
		}
	}
}

func TestPagingAndRangeRetrieval(t *testing.T) {
	dc := testDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Big")
	const n = 1600 // beyond Samba's MaxPageSize (1000) and AD's MaxValRange (1500)
	users := make([]sambatest.User, n)
	for i := range users {
		users[i] = sambatest.User{SAMAccountName: fmt.Sprintf("big%04d", i), UPN: fmt.Sprintf("big%04d@corp.example.com", i)}
	}
	start := time.Now()
	dns := a.AddUsers(root, users)
	group := a.AddGroup(root, sambatest.Group{CN: "Everyone Big", Members: dns})
	t.Logf("added %d users and a %d-member group in %v", n, n, time.Since(start))

	c := open(t, dc, baseCfg(dc, root), Options{PageSize: 1000})
	start = time.Now()
	r := snapshot(t, c)
	t.Logf("snapshot of %d users in %v, %d requests", n, time.Since(start), c.Stats().Requests)
	if len(r.users) != n {
		t.Fatalf("users = %d, want %d (paged search)", len(r.users), n)
	}
	g, _ := r.groupByName("Everyone Big")
	if got := len(r.memberNames(g.ExternalID)); got != n {
		t.Fatalf("members of the big group = %d, want %d (range retrieval)", got, n)
	}

	// A page holds the 1000 entries the connector asks for (AD also caps
	// pages at its MaxPageSize of 1000; Samba 4.17 does not, measured
	// here): the 1600 users above came whole only by following the cookie.
	conn, err := dc.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	page := newPlainSearch(root, "(objectClass=user)")
	page.Controls = []goldap.Control{goldap.NewControlPaging(1000)}
	res, err := conn.Search(page)
	if err != nil || len(res.Entries) != 1000 {
		t.Fatalf("one page of 1000 held %d of %d entries (%v): the paging test proves nothing", len(res.Entries), n, err)
	}
	// And the member attribute really comes in ranges.
	res, err = conn.Search(newBaseSearch(group, "member;range=0-1499"))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].Attributes[0].Name != "member;range=0-1499" {
		t.Fatalf("ranged read of member: %v %+v", err, res)
	}
}

func TestCheckReportsEachProblem(t *testing.T) {
	dc := testDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Check")
	a.AddUser(root, sambatest.User{SAMAccountName: "check-u1", UPN: "check-u1@corp.example.com"})
	svc := a.AddUser(root, sambatest.User{SAMAccountName: "check-svc", Password: "Svc-Pa55word!"})
	_, _, otherCA, err := sambatest.NewCA("some other CA")
	if err != nil {
		t.Fatal(err)
	}

	good := baseCfg(dc, root)
	results, err := open(t, dc, good, Options{}).Check(t.Context())
	if err != nil {
		t.Fatalf("Check of good settings: %v\n%+v", err, results)
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("step %s failed: %s", r.Name, r.Message)
		}
	}
	if !slices.ContainsFunc(results, func(r connector.CheckResult) bool { return r.Name == "incremental" && r.OK }) {
		t.Errorf("Check does not report DirSync as available: %+v", results)
	}

	startTLS := good
	startTLS.URLs, startTLS.StartTLS = []string{dc.PlainURL}, true
	failover := good
	failover.URLs = []string{"ldaps://127.0.0.1:1", dc.URL}

	cases := []struct {
		name     string
		cfg      Config
		password string
		kind     connector.ErrorKind
		step     string
		mention  string
	}{
		{"wrong password", good, "Not-The-Pa55word", connector.KindAuth, "bind", "password is wrong"},
		{"disabled account", withBind(good, svc), "Svc-Pa55word!", connector.KindAuth, "bind", "disabled"},
		{"wrong base DN", withBase(good, "DC=nowhere,DC=example,DC=com"), dc.AdminPassword, connector.KindNotFound, "base_dn", "DC=nowhere"},
		{"untrusted certificate", withCA(good, string(otherCA)), dc.AdminPassword, connector.KindTLS, "connect", "--ca-file"},
		{"unreachable server", withURL(good, "ldaps://127.0.0.1:1"), dc.AdminPassword, connector.KindNetwork, "connect", "connection refused"},
		{"missing OU", baseCfg(dc, "OU=Nope,"+dc.BaseDN), dc.AdminPassword, connector.KindNotFound, "ous", "OU=Nope"},
	}
	a.SetEnabled(svc, false)
	messages := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(tc.cfg, []byte(tc.password), Options{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			results, err := c.Check(t.Context())
			if connector.KindOf(err) != tc.kind {
				t.Fatalf("Check = %v (kind %q), want kind %q", err, connector.KindOf(err), tc.kind)
			}
			last := results[len(results)-1]
			if last.OK || last.Name != tc.step || !strings.Contains(last.Message, tc.mention) {
				t.Errorf("last step = %+v, want step %s failing and mentioning %q", last, tc.step, tc.mention)
			}
			if strings.Contains(last.Message, tc.password) && len(tc.password) > 4 {
				t.Errorf("the message shows the password")
			}
			if prev, dup := messages[last.Message]; dup {
				t.Errorf("message %q is the same as for %s", last.Message, prev)
			}
			messages[last.Message] = tc.name
		})
	}
	for name, cfg := range map[string]Config{"StartTLS": startTLS, "failover": failover} {
		if _, err := open(t, dc, cfg, Options{Timeout: 5 * time.Second}).Check(t.Context()); err != nil {
			t.Errorf("%s: Check = %v", name, err)
		}
	}
}

// TestCheckPermission binds as an account that is denied reading the OU's
// users: Check must say so rather than report an empty directory.
func TestCheckPermission(t *testing.T) {
	dc := testDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Perm")
	a.AddUser(root, sambatest.User{SAMAccountName: "perm-u1", UPN: "perm-u1@corp.example.com"})
	svc := a.AddUser(dc.BaseDN, sambatest.User{CN: "perm-svc", SAMAccountName: "perm-svc", Password: "Svc-Pa55word!"})
	cfg := withBind(baseCfg(dc, root), svc)
	c, err := Open(cfg, []byte("Svc-Pa55word!"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	results, err := c.Check(t.Context())
	if err != nil {
		t.Fatalf("before the deny: %v", err)
	}
	// An ordinary account may not use DirSync: Check says so without
	// failing, and the cursor makes every sync a full one, with the reason.
	if last := results[len(results)-1]; last.Name != "incremental" || last.OK || !strings.Contains(last.Message, "Replicating Directory Changes") {
		t.Errorf("incremental step for an ordinary account = %+v", last)
	}
	cursor, err := c.(*source).Cursor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.(*source).Changes(t.Context(), cursor, newRecorder()); connector.KindOf(err) != connector.KindCursor || !strings.Contains(err.Error(), "Replicating Directory Changes") {
		t.Errorf("Changes without the DirSync right = %v, want KindCursor naming the right", err)
	}
	a.Deny(root, svc, "RPLCLO")
	results, err = c.Check(t.Context())
	if connector.KindOf(err) != connector.KindPermission {
		t.Fatalf("Check after the deny = %v, want KindPermission\n%+v", err, results)
	}
	t.Logf("%+v", results[len(results)-1])
	if err := c.Snapshot(t.Context(), newRecorder()); err == nil {
		t.Log("snapshot after the deny succeeded (the engine's empty-source guard applies)")
	}
}

func withBind(c Config, dn string) Config { c.BindDN = dn; return c }
func withBase(c Config, dn string) Config { c.BaseDN, c.IncludeOUs = dn, nil; return c }
func withCA(c Config, pem string) Config  { c.CAPEM = pem; return c }
func withURL(c Config, url string) Config { c.URLs = []string{url}; return c }

// TestObjectGUIDAgainstLDAPSearch checks the anchor's string form against
// ldapsearch's base64 output, decoded here by hand.
func TestObjectGUIDAgainstLDAPSearch(t *testing.T) {
	dc := testDC(t)
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		t.Skip("ldapsearch (ldap-utils) is not installed")
	}
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Guid")
	dn := a.AddUser(root, sambatest.User{SAMAccountName: "guid-u1", UPN: "guid-u1@corp.example.com"})
	r := snapshot(t, open(t, dc, baseCfg(dc, root), Options{}))
	if len(r.users) != 1 {
		t.Fatalf("users = %d", len(r.users))
	}
	var id string
	for id = range r.users {
	}

	cmd := exec.Command("ldapsearch", "-LLL", "-x", "-H", dc.URL, "-D", dc.AdminDN, "-y", "/dev/stdin", "-b", dn, "-s", "base", "objectGUID")
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+dc.CAFile)
	cmd.Stdin = strings.NewReader(dc.AdminPassword)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	var b64 string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "objectGUID:: "); ok {
			b64 = strings.TrimSpace(v)
		}
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 16 {
		t.Fatalf("ldapsearch objectGUID %q: %v", b64, err)
	}
	// Data1, Data2 and Data3 are little-endian; Data4 is eight bytes as is.
	want := fmt.Sprintf("%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		binary.LittleEndian.Uint32(raw[:4]), binary.LittleEndian.Uint16(raw[4:6]), binary.LittleEndian.Uint16(raw[6:8]),
		raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15])
	if id != want {
		t.Fatalf("anchor %s, ldapsearch says %s", id, want)
	}
}

func TestLookupUser(t *testing.T) {
	dc := testDC(t)
	f := newFixture(t, dc, "Look")
	cfg := baseCfg(dc, f.root)
	cfg.ExcludeOUs = []string{f.contractors}
	cfg.UPNSuffixMap = map[string]string{"corp.local": "corp.example.com"}
	c := open(t, dc, cfg, Options{})
	full := snapshot(t, c)
	alice := full.byName()["look-alice@corp.example.com"]
	eng, _ := full.groupByName("look-Engineering")
	dl, _ := full.groupByName("look-All Staff")

	for _, q := range []string{"look-alice", "look-alice@corp.example.com", alice.ExternalID, strings.ToUpper(alice.ExternalID)} {
		u, ms, err := c.LookupUser(t.Context(), q)
		if err != nil {
			t.Fatalf("LookupUser(%q): %v", q, err)
		}
		if u.ExternalID != alice.ExternalID || u.Username != alice.Username {
			t.Errorf("LookupUser(%q) = %+v", q, u)
		}
		var groups []string
		for _, m := range ms {
			groups = append(groups, m.GroupExternalID)
		}
		slices.Sort(groups)
		want := []string{eng.ExternalID, dl.ExternalID}
		slices.Sort(want)
		if !slices.Equal(groups, want) {
			t.Errorf("LookupUser(%q) groups = %v, want Engineering and All Staff", q, groups)
		}
	}
	// The mapped suffix finds the user stored with the original one; a user
	// without a UPN is found by sAMAccountName@domain.
	for q, want := range map[string]string{"look-erin@corp.example.com": "look-erin", "look-dave@corp.example.com": "look-dave"} {
		if u, _, err := c.LookupUser(t.Context(), q); err != nil || u.AccountName != want {
			t.Errorf("LookupUser(%q) = %+v, %v", q, u, err)
		}
	}
	for _, q := range []string{"look-frank", "*", "look-*)(sAMAccountName=*", "Administrator"} {
		if _, _, err := c.LookupUser(t.Context(), q); connector.KindOf(err) != connector.KindNotFound {
			t.Errorf("LookupUser(%q) = %v, want KindNotFound (outside scope, or input that must not act as a filter)", q, err)
		}
	}
}

func TestGenericFlavorAgainstSamba(t *testing.T) {
	dc := testDC(t)
	f := newFixture(t, dc, "Gen")
	cfg := baseCfg(dc, f.root)
	cfg.Flavor = FlavorGeneric
	cfg.UserClass, cfg.GroupClass = "user", "group"
	cfg.UserFilter = "(!(objectClass=computer))"
	cfg.Attributes = map[string]string{AttrAnchor: "objectGUID", AttrUsername: "userPrincipalName", AttrAccountName: "sAMAccountName"}
	c := open(t, dc, cfg, Options{})
	cursor, err := c.Cursor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r := snapshot(t, c)
	if len(r.users) != 5 || len(r.groups) != 3 { // dave has no UPN: without AD semantics, no username
		t.Fatalf("generic snapshot: %d users, %d groups", len(r.users), len(r.groups))
	}
	eng, _ := r.groupByName("gen-Engineering")
	if got := r.memberNames(eng.ExternalID); !slices.Equal(got, []string{"group:gen-Nested", "user:gen-alice@corp.example.com",
		"user:gen-bob@corp.example.com", "user:gen-frank@corp.example.com"}) {
		t.Errorf("generic members by DN = %q", got)
	}
	// modifyTimestamp has a one-second resolution.
	time.Sleep(1100 * time.Millisecond)
	dc.Admin(t).Replace(f.alice, "title", "Principal Engineer")
	ch := r.clone()
	if _, err := c.Changes(t.Context(), cursor, ch); err != nil {
		t.Fatal(err)
	}
	if got := ch.byName()["gen-alice@corp.example.com"].JobTitle; got != "Principal Engineer" {
		t.Errorf("after a timestamp read, alice's title = %q", got)
	}

	// A deletion: a timestamp read cannot see it, and the connector says
	// so, for the engine to reconcile in full (see the e2e test of
	// scheduled runs); the next snapshot no longer has the user.
	frank := r.byName()["gen-frank@corp.example.com"]
	if frank.ExternalID == "" {
		t.Fatal("frank was not read")
	}
	next, err := c.Cursor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dc.Admin(t).Delete(f.frank)
	gone := r.clone()
	if _, err := c.Changes(t.Context(), next, gone); err != nil {
		t.Fatal(err)
	}
	if _, still := gone.users[frank.ExternalID]; !still || len(gone.removed) != 0 {
		t.Errorf("a timestamp read reported a deletion (removed %v); it cannot see one", gone.removed)
	}
	if c.ReportsDeletions(next) {
		t.Error("ReportsDeletions of a timestamp cursor = true")
	}
	after := snapshot(t, c)
	if _, still := after.users[frank.ExternalID]; still || len(after.users) != 4 {
		t.Errorf("after the deletion, the snapshot has %d users, frank among them: %v", len(after.users), still)
	}
	if got := after.memberNames(eng.ExternalID); slices.Contains(got, "user:gen-frank@corp.example.com") {
		t.Errorf("frank is still a member of Engineering: %q", got)
	}
}

// TestParentGroupsAgainstSamba: the groups in scope a group is a direct
// member of, found from the group's anchor, on AD and on the generic flavor.
func TestParentGroupsAgainstSamba(t *testing.T) {
	dc := testDC(t)
	f := newFixture(t, dc, "Parents")
	for _, flavor := range []string{FlavorAD, FlavorGeneric} {
		t.Run(flavor, func(t *testing.T) {
			cfg := baseCfg(dc, f.root)
			if flavor == FlavorGeneric {
				cfg.Flavor = FlavorGeneric
				cfg.UserClass, cfg.GroupClass = "user", "group"
				cfg.UserFilter = "(!(objectClass=computer))"
				cfg.Attributes = map[string]string{AttrAnchor: "objectGUID", AttrUsername: "userPrincipalName", AttrAccountName: "sAMAccountName"}
			}
			c := open(t, dc, cfg, Options{})
			r := snapshot(t, c)
			nested, _ := r.groupByName("parents-Nested")
			eng, _ := r.groupByName("parents-Engineering")
			all, _ := r.groupByName("parents-All Staff")
			edges, err := c.ParentGroups(t.Context(), []string{nested.ExternalID, eng.ExternalID, all.ExternalID, "not-a-guid"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range edges {
				got = append(got, e.MemberExternalID+" in "+e.GroupExternalID)
			}
			slices.Sort(got)
			want := []string{nested.ExternalID + " in " + eng.ExternalID, eng.ExternalID + " in " + all.ExternalID}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("ParentGroups = %v, want %v", got, want)
			}
		})
	}
}

func newPlainSearch(base, filter string) *goldap.SearchRequest {
	return goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, filter, []string{"1.1"}, nil)
}

func newBaseSearch(dn string, attrs ...string) *goldap.SearchRequest {
	return goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", attrs, nil)
}

// cancelSink cancels the read when the first user arrives.
type cancelSink struct {
	*recorder
	cancel context.CancelFunc
}

func (c *cancelSink) User(u directory.SourceUser) error {
	c.cancel()
	return c.recorder.User(u)
}

func TestSnapshotStopsWhenCancelled(t *testing.T) {
	dc := testDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Cancel")
	a.AddUser(root, sambatest.User{SAMAccountName: "cancel-u1", UPN: "cancel-u1@corp.example.com"})
	a.AddGroup(root, sambatest.Group{CN: "cancel-g"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sink := &cancelSink{recorder: newRecorder(), cancel: cancel}
	err := open(t, dc, baseCfg(dc, root), Options{}).Snapshot(ctx, sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Snapshot after cancel = %v, want context.Canceled", err)
	}
	if len(sink.groups) != 0 {
		t.Errorf("groups were read after the cancel")
	}
}
