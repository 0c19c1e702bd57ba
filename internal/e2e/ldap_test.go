package e2e

// Active Directory end to end: a real Samba AD domain controller on a
// loopback address, the LDAP connector over LDAPS, the engine and the SQLite
// store. One DC serves the whole package (provisioning costs 4 to 10 s on a
// loaded 2-core machine); each test works in an OU of its own and makes that
// OU its source's base DN, so tests never see each other's objects.
//
// The expected directory is read from the DC with plain LDAP searches and
// AD's documented semantics (userAccountControl, accountExpires, the
// SMTP: prefix, the in-chain matching rule for effective membership), never
// through the connector, so that the connector and the test cannot share
// one misunderstanding.

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	ldapconn "github.com/dirsync/dirsync/internal/connector/ldap"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/sambatest"
	"github.com/dirsync/dirsync/internal/store"
)

var shared struct {
	once sync.Once
	dc   *sambatest.DC
	err  error
}

// TestMain stops the shared DC (if a test started one) and removes its files.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dc != nil {
		shared.dc.Close()
	}
	os.Exit(code)
}

// sharedDC starts the package's DC on first use; tests skip where Samba
// cannot run.
func sharedDC(t *testing.T) *sambatest.DC {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.dc, shared.err = sambatest.New(ctx, sambatest.Options{Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	})
	if errors.Is(shared.err, sambatest.ErrUnavailable) {
		t.Skipf("%v (CI installs it: %s)", shared.err, sambatest.InstallHint)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.dc
}

// adSync is one dirsync database with one LDAP source.
type adSync struct {
	t        testing.TB
	ctx      context.Context
	st       store.Store
	src      directory.Source
	cfg      ldapconn.Config
	password []byte
	now      func() time.Time
	pageSize int
	batch    int
	// wrap, when set, wraps each connector (the benchmark times reads).
	wrap func(connector.Connector) connector.Connector
	// clock is the engine's; nil is the real clock.
	clock clock.Clock
}

func newADSync(t testing.TB, dc *sambatest.DC, cfg ldapconn.Config, now func() time.Time) *adSync {
	t.Helper()
	ctx := context.Background()
	st, err := openStore(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := &adSync{t: t, ctx: ctx, st: st, cfg: cfg, password: []byte(dc.AdminPassword), now: now, pageSize: 7, batch: 16}
	err = st.Update(ctx, func(tx store.Tx) error {
		acc := directory.Account{Name: "acme"}
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		d.src = directory.Source{AccountID: acc.ID, Name: "ad", Kind: directory.KindLDAP, Config: raw, Enabled: true}
		return tx.CreateSource(ctx, &d.src)
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// adConfig is a source over LDAPS that trusts the DC's CA and binds as its
// administrator, with base as its base DN.
func adConfig(dc *sambatest.DC, base string) ldapconn.Config {
	return ldapconn.Config{URLs: []string{dc.URL}, BaseDN: base, BindDN: dc.AdminDN, CAPEM: string(dc.CAPEM)}
}

// setConfig changes the source's settings, as an administrator editing it.
func (d *adSync) setConfig(cfg ldapconn.Config) {
	d.t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		d.t.Fatal(err)
	}
	d.cfg, d.src.Config = cfg, raw
	if err := d.st.Update(d.ctx, func(tx store.Tx) error { return tx.UpdateSource(d.ctx, d.src) }); err != nil {
		d.t.Fatal(err)
	}
}

// connector opens a fresh connector, as each CLI or scheduled run does. A
// small page size makes even these small fixtures span several pages.
func (d *adSync) connector() connector.Connector {
	d.t.Helper()
	c, err := ldapconn.Open(d.cfg, d.password, ldapconn.Options{Clock: clock.NewFake(d.now()), PageSize: d.pageSize})
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

func (d *adSync) trySync(opts engine.Options) (directory.Run, error) {
	eng := &engine.Engine{Store: d.st, BatchSize: d.batch, Clock: d.clock}
	c := d.connector()
	if d.wrap != nil {
		c = d.wrap(c)
	}
	return eng.Sync(d.ctx, d.src, c, opts)
}

func (d *adSync) sync(opts engine.Options) directory.Run {
	d.t.Helper()
	run, err := d.trySync(opts)
	if err != nil {
		d.t.Fatalf("sync: %v", err)
	}
	if run.Outcome != directory.OutcomeSucceeded {
		d.t.Fatalf("sync: outcome %s: %s", run.Outcome, run.Reason)
	}
	return run
}

// ids maps every user's and group's external id to its dirsync id, trash
// included.
func (d *adSync) ids() map[string]string {
	d.t.Helper()
	out := map[string]string{}
	users, err := d.st.Users(d.ctx, d.src.AccountID, storeAll())
	if err != nil {
		d.t.Fatal(err)
	}
	for _, u := range users.Items {
		out[linkOf(u.Sources)] = u.ID
	}
	groups, err := d.st.Groups(d.ctx, d.src.AccountID, store.GroupQuery{States: []directory.State{directory.StateActive, directory.StateTrash}})
	if err != nil {
		d.t.Fatal(err)
	}
	for _, g := range groups.Items {
		out[linkOf(g.Sources)] = g.ID
	}
	return out
}

// adUser and adGroup are what the comparison sees of a user and a group,
// from the directory or from the DC.
type adUser struct {
	ext, username, email, display, given, sn, title, dept, mobile string
	phones, proxies                                               []string
	immutable, account, dn                                        string
	enabled                                                       bool
	state                                                         directory.State
}

func (u adUser) line() string {
	return fmt.Sprintf("user %s %q email=%q display=%q given=%q sn=%q title=%q dept=%q mobile=%q phones=%q proxies=%q immutable=%s account=%q dn=%q enabled=%v state=%s",
		u.ext, u.username, u.email, u.display, u.given, u.sn, u.title, u.dept, u.mobile, sorted(u.phones), sorted(u.proxies),
		u.immutable, u.account, u.dn, u.enabled, u.state)
}

type adGroup struct {
	ext, name, desc, mail, dn string
	types                     []string
	security, mailEnabled     bool
	members                   []string // external ids
}

func (g adGroup) line() string {
	return fmt.Sprintf("group %s %q desc=%q mail=%q types=%q security=%v mail_enabled=%v dn=%q members=%v",
		g.ext, g.name, g.desc, g.mail, g.types, g.security, g.mailEnabled, g.dn, sorted(g.members))
}

// render shows the directory's live content keyed by source ids, so two
// databases synced from one directory compare equal whatever their own ids.
// With effective, it adds each group's effective members.
func (d *adSync) render(effective bool) string {
	d.t.Helper()
	users, err := d.st.Users(d.ctx, d.src.AccountID, store.UserQuery{})
	if err != nil {
		d.t.Fatal(err)
	}
	groups, err := d.st.Groups(d.ctx, d.src.AccountID, store.GroupQuery{})
	if err != nil {
		d.t.Fatal(err)
	}
	ext := map[string]string{}
	var lines []string
	for _, u := range users.Items {
		e := linkOf(u.Sources)
		ext[u.ID] = e
		lines = append(lines, adUser{e, u.Username, u.Email, u.DisplayName, u.GivenName, u.Surname, u.JobTitle, u.Department,
			u.MobilePhone, u.BusinessPhones, u.ProxyAddresses, u.ImmutableID, u.AccountName, u.DN, u.Enabled, u.State}.line())
	}
	for _, g := range groups.Items {
		ext[g.ID] = linkOf(g.Sources)
	}
	name := func(id string) string {
		if e, ok := ext[id]; ok {
			return e
		}
		return "(not listed: " + id + ")"
	}
	for _, g := range groups.Items {
		ms, err := d.st.Members(d.ctx, d.src.AccountID, g.ID, false)
		if err != nil {
			d.t.Fatal(err)
		}
		var mem []string
		for _, m := range ms {
			mem = append(mem, name(m.ID))
		}
		lines = append(lines, adGroup{ext[g.ID], g.Name, g.Description, g.Mail, g.DN, g.GroupTypes, g.SecurityEnabled, g.MailEnabled, mem}.line())
		if effective {
			ms, err := d.st.Members(d.ctx, d.src.AccountID, g.ID, true)
			if err != nil {
				d.t.Fatal(err)
			}
			var eff []string
			for _, m := range ms {
				eff = append(eff, name(m.ID))
			}
			lines = append(lines, fmt.Sprintf("effective %s %v", ext[g.ID], sorted(eff)))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// --- the truth, read from the DC ------------------------------------------

// adScope is what a source selects, as the test understands it.
type adScope struct {
	base             string
	include, exclude []string
	suffixMap        map[string]string
	now              time.Time
}

func (s adScope) in(dn string) bool {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return false
	}
	within := func(root string) bool {
		r, err := goldap.ParseDN(root)
		return err == nil && (r.EqualFold(d) || r.AncestorOfFold(d))
	}
	if !within(s.base) {
		return false
	}
	if len(s.include) > 0 && !slices.ContainsFunc(s.include, within) {
		return false
	}
	return !slices.ContainsFunc(s.exclude, within)
}

// truth is the directory as the DC holds it within a scope.
type truth struct {
	users  map[string]adUser  // by external id
	groups map[string]adGroup // by external id
	byDN   map[string]string  // folded DN to external id
	// skips counts group members that are not imported, each once
	// however many groups hold it, by the reason an administrator should
	// read.
	skips map[string]int
}

func (tr truth) render(effective map[string][]string) string {
	var lines []string
	for _, u := range tr.users {
		lines = append(lines, u.line())
	}
	for _, g := range tr.groups {
		lines = append(lines, g.line())
		if effective != nil {
			lines = append(lines, fmt.Sprintf("effective %s %v", g.ext, sorted(effective[g.ext])))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// guidString writes AD's objectGUID bytes the way Windows shows them: the
// first three fields are stored little-endian.
func guidString(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

func foldedDN(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return strings.ToLower(d.String())
}

func searchAll(t testing.TB, conn *goldap.Conn, base, filter string, attrs ...string) []*goldap.Entry {
	t.Helper()
	res, err := conn.SearchWithPaging(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, nil), 500)
	if err != nil {
		t.Fatalf("search %s %s: %v", base, filter, err)
	}
	return res.Entries
}

const (
	classUser  = "(&(objectClass=user)(!(objectClass=computer)))"
	classGroup = "(objectClass=group)"
)

// readTruth reads the users, groups and direct memberships in scope from
// the DC and maps them by AD's rules.
func readTruth(t testing.TB, conn *goldap.Conn, s adScope) truth {
	t.Helper()
	tr := truth{users: map[string]adUser{}, groups: map[string]adGroup{}, byDN: map[string]string{}, skips: map[string]int{}}
	for _, e := range searchAll(t, conn, s.base, classUser, "objectGUID", "userPrincipalName", "sAMAccountName", "mail",
		"proxyAddresses", "displayName", "givenName", "sn", "title", "department", "mobile", "telephoneNumber",
		"userAccountControl", "accountExpires") {
		if !s.in(e.DN) {
			continue
		}
		raw := e.GetRawAttributeValue("objectGUID")
		u := adUser{ext: guidString(raw), email: e.GetAttributeValue("mail"), display: e.GetAttributeValue("displayName"),
			given: e.GetAttributeValue("givenName"), sn: e.GetAttributeValue("sn"), title: e.GetAttributeValue("title"),
			dept: e.GetAttributeValue("department"), mobile: e.GetAttributeValue("mobile"),
			phones: e.GetAttributeValues("telephoneNumber"), proxies: e.GetAttributeValues("proxyAddresses"),
			immutable: base64.StdEncoding.EncodeToString(raw), account: e.GetAttributeValue("sAMAccountName"), dn: e.DN}
		// The username is the UPN with its suffix mapped; without a UPN,
		// sAMAccountName@domain, which is what AD accepts at logon.
		u.username = e.GetAttributeValue("userPrincipalName")
		if u.username == "" {
			u.username = u.account + "@" + sambatest.DNSDomain
		}
		if at := strings.LastIndexByte(u.username, '@'); at >= 0 {
			for from, to := range s.suffixMap {
				if strings.EqualFold(u.username[at+1:], from) {
					u.username = u.username[:at+1] + to
				}
			}
		}
		// The primary address is the proxy address whose prefix is SMTP in
		// capitals; it stands in for a missing mail.
		if u.email == "" {
			for _, p := range u.proxies {
				if a, ok := strings.CutPrefix(p, "SMTP:"); ok {
					u.email = a
				}
			}
		}
		uac, _ := strconv.ParseInt(e.GetAttributeValue("userAccountControl"), 10, 64)
		u.enabled = uac&0x2 == 0
		if exp, _ := strconv.ParseInt(e.GetAttributeValue("accountExpires"), 10, 64); exp != 0 && exp != 0x7FFFFFFFFFFFFFFF {
			// FILETIME: 100 ns since 1601-01-01 UTC, which is 11,644,473,600 s
			// before the Unix epoch (a Duration cannot span the 425 years).
			when := time.Unix(exp/10_000_000-11_644_473_600, exp%10_000_000*100)
			if !s.now.Before(when) {
				u.enabled = false
			}
		}
		u.state = directory.StateActive
		if !u.enabled {
			u.state = directory.StateDisabled
		}
		tr.users[u.ext] = u
		tr.byDN[foldedDN(e.DN)] = u.ext
	}
	type rawGroup struct {
		g       adGroup
		members []string
	}
	var groups []rawGroup
	for _, e := range searchAll(t, conn, s.base, classGroup, "objectGUID", "cn", "description", "mail", "groupType", "member") {
		if !s.in(e.DN) {
			continue
		}
		g := adGroup{ext: guidString(e.GetRawAttributeValue("objectGUID")), name: e.GetAttributeValue("cn"),
			desc: e.GetAttributeValue("description"), mail: e.GetAttributeValue("mail"), dn: e.DN}
		gt, _ := strconv.ParseInt(e.GetAttributeValue("groupType"), 10, 64)
		g.security = uint32(gt)&0x80000000 != 0
		switch {
		case gt&0x2 != 0:
			g.types = []string{"global"}
		case gt&0x4 != 0:
			g.types = []string{"domain_local"}
		case gt&0x8 != 0:
			g.types = []string{"universal"}
		}
		g.mailEnabled = g.mail != ""
		tr.byDN[foldedDN(e.DN)] = g.ext
		groups = append(groups, rawGroup{g, e.GetAttributeValues("member")})
	}
	skipped := map[string]bool{}
	for _, rg := range groups {
		g := rg.g
		for _, m := range rg.members {
			if id, ok := tr.byDN[foldedDN(m)]; ok {
				g.members = append(g.members, id)
				continue
			}
			if skipped[foldedDN(m)] {
				continue
			}
			skipped[foldedDN(m)] = true
			tr.skips[skipReason(t, conn, m)]++
		}
		tr.groups[g.ext] = g
	}
	return tr
}

// skipReason says why a member that is not in scope is not imported.
func skipReason(t testing.TB, conn *goldap.Conn, dn string) string {
	t.Helper()
	res, err := conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"objectClass"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read member %s: %v", dn, err)
	}
	classes := strings.ToLower(strings.Join(res.Entries[0].GetAttributeValues("objectClass"), " "))
	switch {
	case strings.Contains(classes, "computer"):
		return "device"
	case strings.Contains(classes, "contact"):
		return "contact"
	}
	return "member outside the source's scope"
}

// effectiveFromDC asks the DC itself for each group's effective members
// with the in-chain matching rule (LDAP_MATCHING_RULE_IN_CHAIN), an oracle
// for the store's transitive walk that shares no code with it.
func effectiveFromDC(t testing.TB, conn *goldap.Conn, s adScope, tr truth) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, g := range tr.groups {
		filter := "(&(|" + classUser + classGroup + ")(memberOf:1.2.840.113556.1.4.1941:=" + goldap.EscapeFilter(g.dn) + "))"
		for _, e := range searchAll(t, conn, s.base, filter, "objectGUID") {
			if id, ok := tr.byDN[foldedDN(e.DN)]; ok {
				out[g.ext] = append(out[g.ext], id)
			}
		}
	}
	return out
}

// effectiveFromDirect flattens direct memberships, each member once and
// cycles included, for scopes where the DC's own answer would pass through
// groups the source does not read.
func effectiveFromDirect(tr truth) map[string][]string {
	out := map[string][]string{}
	for _, g := range tr.groups {
		seen := map[string]bool{}
		queue := slices.Clone(g.members)
		for len(queue) > 0 {
			m := queue[0]
			queue = queue[1:]
			if seen[m] {
				continue
			}
			seen[m] = true
			if sub, ok := tr.groups[m]; ok {
				queue = append(queue, sub.members...)
			}
		}
		for m := range seen {
			out[g.ext] = append(out[g.ext], m)
		}
	}
	return out
}

func fixedNow() func() time.Time {
	now := time.Now().UTC().Truncate(time.Second)
	return func() time.Time { return now }
}

// --- 1. full sync ------------------------------------------------------------

// TestLDAPFullSyncEqualsDirectory: a full sync gives exactly the DC's users
// (disabled, expired, without UPN, with a mapped UPN suffix, moved and
// renamed), groups and memberships, direct and effective; computers and
// contacts are skipped and counted; and renames and moves keep each user's
// dirsync id.
func TestLDAPFullSyncEqualsDirectory(t *testing.T) {
	dc := sharedDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Full")
	staff := a.AddOU(root, "Staff")
	sales := a.AddOU(staff, "Sales")
	contractors := a.AddOU(staff, "Contractors")
	other := a.AddOU(root, "Other")
	devices := a.AddOU(root, "Devices")
	now := fixedNow()
	alice := a.AddUser(staff, sambatest.User{CN: "Alice Ångström", SAMAccountName: "alice", UPN: "alice@corp.example.com",
		GivenName: "Alice", Surname: "Ångström", DisplayName: "Alice Ångström", Title: "Engineer", Department: "R&D",
		Phone: "+1 555 0100", Mobile: "+1 555 0101",
		ProxyAddresses: []string{"smtp:a@corp.example.com", "SMTP:alice.angstrom@corp.example.com", "X500:/o=corp/cn=alice"}})
	bob := a.AddUser(sales, sambatest.User{SAMAccountName: "bob", UPN: "bob@corp.example.com", Mail: "bob@corp.example.com",
		GivenName: "Bob", Surname: "O'Brien", Disabled: true})
	carol := a.AddUser(staff, sambatest.User{SAMAccountName: "carol", UPN: "carol@corp.example.com",
		AccountExpires: ldapconn.TimeToFiletime(now().Add(-24 * time.Hour))})
	gina := a.AddUser(staff, sambatest.User{SAMAccountName: "gina", UPN: "gina@corp.example.com",
		AccountExpires: ldapconn.TimeToFiletime(now().Add(90 * 24 * time.Hour))})
	dave := a.AddUser(other, sambatest.User{SAMAccountName: "dave", DisplayName: "Dave NoUPN"})
	erin := a.AddUser(staff, sambatest.User{SAMAccountName: "erin", UPN: "erin@corp.local", Mail: "erin@corp.example.com"})
	hank := a.AddUser(contractors, sambatest.User{CN: "Ó'Neil, Hánk", SAMAccountName: "hank", UPN: "hank@corp.example.com",
		DisplayName: "Hánk Ó'Neil", Password: "Contr4ctor!Pw"})
	ivan := a.AddUser(staff, sambatest.User{SAMAccountName: "ivan", UPN: "ivan@corp.example.com", Department: "Ops"})
	// Moved and renamed before the first sync: the sync sees where he is.
	ivan = a.Move(ivan, "Ivan Renamed", other)
	a.Replace(ivan, "userPrincipalName", "ivan.r@corp.example.com")
	pc := a.AddComputer(devices, "PC1")
	laptop := a.AddComputer(devices, "LAPTOP1")
	contact := a.AddContact(other, "Vendor Contact", "vendor@partner.example")

	deep := a.AddGroup(other, sambatest.Group{CN: "Deep", Members: []string{dave}})
	nested := a.AddGroup(staff, sambatest.Group{CN: "Nested", Members: []string{carol, deep}})
	eng := a.AddGroup(staff, sambatest.Group{CN: "Engineering", Description: "Builds things",
		Members: []string{alice, bob, hank, nested, pc, contact}})
	a.AddGroup(other, sambatest.Group{CN: "All Staff", Mail: "all@corp.example.com", Distribution: true,
		Members: []string{alice, eng, laptop}})
	cycA := a.AddGroup(other, sambatest.Group{CN: "Cycle A", Members: []string{gina}})
	cycB := a.AddGroup(other, sambatest.Group{CN: "Cycle B", Members: []string{cycA, erin, pc}})
	a.AddMembers(cycA, cycB)
	a.AddGroup(other, sambatest.Group{CN: "Empty", Description: "nobody yet"})

	cfg := adConfig(dc, root)
	cfg.UPNSuffixMap = map[string]string{"corp.local": "corp.example.com"}
	scope := adScope{base: root, suffixMap: cfg.UPNSuffixMap, now: now()}
	d := newADSync(t, dc, cfg, now)
	run := d.sync(engine.Options{})

	tr := readTruth(t, a.Conn(), scope)
	if len(tr.users) != 8 || len(tr.groups) != 7 {
		t.Fatalf("the test's own reading of the DC: %d users, %d groups, want 8 and 7", len(tr.users), len(tr.groups))
	}
	eff := effectiveFromDC(t, a.Conn(), scope, tr)
	if got, want := d.render(true), tr.render(eff); got != want {
		t.Fatalf("directory (+) differs from the DC (-):\n%s", diff(want, got))
	}
	if run.Kind != directory.RunFull || run.SourceUsers != 8 || run.SourceGroups != 7 || run.Counts.Created != 15 ||
		run.Counts.Conflicts != 0 || run.Counts.Deleted != 0 {
		t.Errorf("first run: kind %s, source %d users %d groups, counts %+v", run.Kind, run.SourceUsers, run.SourceGroups, run.Counts)
	}
	// The PC is in Engineering and Cycle B, the laptop in All Staff: each
	// device is one skip, as the run report counts them, and the run's
	// skipped count is the sum of its skips.
	if want := map[string]int{"device": 2, "contact": 1}; !mapsEqual(run.Skips, want) || !mapsEqual(tr.skips, want) {
		t.Errorf("skips: run %v, DC %v, want %v", run.Skips, tr.skips, want)
	}
	if run.Counts.Skipped != 3 || run.SkipReasons.Total() != 3 {
		t.Errorf("skipped %d, skip reasons %+v; want 3", run.Counts.Skipped, run.SkipReasons)
	}
	for _, r := range run.SkipReasons {
		if r.Code != directory.SkipNonDirectoryMember {
			t.Errorf("skip reason %+v: code %q, want %q", r, r.Code, directory.SkipNonDirectoryMember)
		}
	}

	// Spot checks of AD's rules, stated here rather than only in readTruth.
	byName := map[string]directory.User{}
	users, _ := d.st.Users(d.ctx, d.src.AccountID, store.UserQuery{})
	for _, u := range users.Items {
		byName[u.AccountName] = u
	}
	checks := []struct {
		who  string
		ok   bool
		what string
	}{
		{"alice", byName["alice"].Email == "alice.angstrom@corp.example.com", "email from the SMTP: proxy address"},
		{"alice", byName["alice"].ImmutableID == base64.StdEncoding.EncodeToString(a.GUID(alice)), "immutable id is the objectGUID"},
		{"alice", linkOf(byName["alice"].Sources) == guidString(a.GUID(alice)), "anchored by objectGUID"},
		{"bob", !byName["bob"].Enabled && byName["bob"].State == directory.StateDisabled, "disabled (userAccountControl 0x2)"},
		{"carol", !byName["carol"].Enabled, "disabled: accountExpires passed"},
		{"gina", byName["gina"].Enabled, "enabled: accountExpires in the future"},
		{"dave", byName["dave"].Username == "dave@corp.example.com", "no UPN: sAMAccountName@domain"},
		{"erin", byName["erin"].Username == "erin@corp.example.com", "UPN suffix corp.local mapped"},
		{"hank", strings.Contains(byName["hank"].DN, `Ó'Neil\, Hánk`) && byName["hank"].DisplayName == "Hánk Ó'Neil", "DN with an escaped comma"},
		{"ivan", byName["ivan"].Username == "ivan.r@corp.example.com" && strings.EqualFold(byName["ivan"].DN, ivan), "moved and renamed"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %s: got %+v", c.who, c.what, byName[c.who])
		}
	}
	// Effective membership: Engineering reaches carol and dave through
	// Nested and Deep; All Staff reaches everyone in Engineering; a cycle
	// ends.
	wantEff := map[string][]string{
		"Engineering": {"alice", "bob", "carol", "dave", "hank"},
		"All Staff":   {"alice", "bob", "carol", "dave", "hank"},
		"Cycle A":     {"erin", "gina"},
		"Empty":       nil,
	}
	for group, want := range wantEff {
		g, err := d.st.GroupByName(d.ctx, d.src.AccountID, group)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := d.st.Members(d.ctx, d.src.AccountID, g.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			if m.Kind == directory.MemberUser {
				got = append(got, strings.TrimSuffix(m.Name, "@corp.example.com"))
			}
		}
		got = sorted(got)
		if !slices.Equal(got, want) {
			t.Errorf("effective user members of %s = %q, want %q", group, got, want)
		}
	}

	// A second full run changes nothing.
	if run := d.sync(engine.Options{Full: true}); run.Counts.Unchanged != 15 || run.Counts.Created+run.Counts.Updated+run.Counts.Deleted+
		run.Counts.MembersAdded+run.Counts.MembersRemoved != 0 {
		t.Errorf("second full run over an unchanged DC: %+v", run.Counts)
	}

	// Renames and moves keep each user's and group's dirsync id, in a full
	// reconciliation and in a delta alike.
	before := d.ids()
	alice = a.Move(alice, "Alice Moved", sales)
	a.Replace(alice, "userPrincipalName", "alice.m@corp.example.com")
	a.Move(eng, "Engineering Renamed", other)
	run = d.sync(engine.Options{Full: true})
	if run.Counts.Updated != 2 || run.Counts.Created != 0 || run.Counts.Deleted != 0 || run.Counts.MembersAdded+run.Counts.MembersRemoved != 0 {
		t.Errorf("full run after a user's move and rename and a group's: %+v", run.Counts)
	}
	bob = a.Move(bob, "Bob Moved", other)
	a.Move(deep, "Deeper", staff)
	run = d.sync(engine.Options{})
	if run.Kind != directory.RunDelta || run.Counts.Updated != 2 || run.Counts.Created != 0 || run.Counts.Deleted != 0 {
		t.Errorf("delta run after a move: %s %+v", run.Kind, run.Counts)
	}
	if after := d.ids(); !mapsEqual(before, after) {
		t.Errorf("ids changed across renames and moves:\nbefore %v\nafter  %v", before, after)
	}
	tr = readTruth(t, a.Conn(), scope)
	if got, want := d.render(true), tr.render(effectiveFromDC(t, a.Conn(), scope, tr)); got != want {
		t.Fatalf("after renames and moves, directory (+) differs from the DC (-):\n%s", diff(want, got))
	}
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// --- 2. incremental --------------------------------------------------------

// adMutator changes a test OU at random, as administrators do.
type adMutator struct {
	t      *testing.T
	a      *sambatest.Admin
	rng    *rand.Rand
	root   string
	ous    []string // where objects live; the last one is outside the scope
	now    time.Time
	prefix string // keeps names unique in the domain across subtests
	serial int
}

func (m *adMutator) users() []string {
	var out []string
	for _, e := range searchAll(m.t, m.a.Conn(), m.root, classUser, "1.1") {
		out = append(out, e.DN)
	}
	// The DC returns entries in an order of its own (GUIDs differ between
	// DCs); sorting keeps a seed's sequence of changes the same.
	slices.Sort(out)
	return out
}

func (m *adMutator) groups() []string {
	var out []string
	for _, e := range searchAll(m.t, m.a.Conn(), m.root, classGroup, "1.1") {
		out = append(out, e.DN)
	}
	slices.Sort(out)
	return out
}

func (m *adMutator) pick(list []string) string { return list[m.rng.IntN(len(list))] }

func (m *adMutator) newUser() sambatest.User {
	m.serial++
	n := m.serial
	p := m.prefix
	u := sambatest.User{CN: fmt.Sprintf("Usér %d, Jr.", n), SAMAccountName: fmt.Sprintf("%su%d", p, n), GivenName: "Usér",
		Surname: fmt.Sprintf("N°%d", n), DisplayName: fmt.Sprintf("Usér N°%d", n), Department: fmt.Sprintf("Dept %d", n%3)}
	switch n % 4 {
	case 0:
		u.UPN, u.Mail = fmt.Sprintf("%su%d@corp.example.com", p, n), fmt.Sprintf("%su%d@corp.example.com", p, n)
	case 1:
		u.UPN = fmt.Sprintf("%su%d@corp.local", p, n) // mapped
		u.ProxyAddresses = []string{fmt.Sprintf("SMTP:%su%d@corp.example.com", p, n), fmt.Sprintf("smtp:%salias%d@corp.example.com", p, n)}
	case 2: // no UPN
	case 3:
		u.UPN, u.Disabled = fmt.Sprintf("%su%d@corp.example.com", p, n), true
	}
	return u
}

// tryModify runs a change the DC may refuse (a member twice, a member
// that is not there): that is an administrator's slip, not a failure.
func (m *adMutator) tryModify(req *goldap.ModifyRequest) string {
	if err := m.a.Conn().Modify(req); err != nil {
		return " (refused: " + err.Error() + ")"
	}
	return ""
}

// clear removes every value of an attribute. A replace with no values does
// the same by RFC 4511, but Samba refuses it for userPrincipalName.
func (m *adMutator) clear(dn, attr string) {
	m.t.Helper()
	req := goldap.NewModifyRequest(dn, nil)
	req.Delete(attr, nil)
	if err := m.a.Conn().Modify(req); err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchAttribute) {
		m.t.Fatalf("clear %s of %s: %v", attr, dn, err)
	}
}

func rdnValue(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 {
		return dn
	}
	return d.RDNs[0].Attributes[0].Value
}

// step makes one random change and says what it was.
func (m *adMutator) step() string {
	users, groups := m.users(), m.groups()
	a := m.a
	switch op := m.rng.IntN(16); {
	case op == 0 || len(users) < 4:
		u := m.newUser()
		dn := a.AddUser(m.pick(m.ous), u)
		return "create user " + dn
	case op == 1:
		dn := m.pick(users)
		attr := []string{"title", "department", "displayName", "mobile", "telephoneNumber", "givenName"}[m.rng.IntN(6)]
		if m.rng.IntN(3) == 0 {
			m.clear(dn, attr)
			return "clear " + attr + " of " + dn
		}
		m.serial++
		a.Replace(dn, attr, fmt.Sprintf("Valué %d", m.serial))
		return "set " + attr + " of " + dn
	case op == 2:
		dn := m.pick(users)
		m.serial++
		if m.rng.IntN(2) == 0 {
			a.Replace(dn, "mail", fmt.Sprintf("%smail%d@corp.example.com", m.prefix, m.serial))
			return "set mail of " + dn
		}
		m.clear(dn, "mail")
		a.Replace(dn, "proxyAddresses", fmt.Sprintf("SMTP:%sproxy%d@corp.example.com", m.prefix, m.serial))
		return "clear mail, set proxyAddresses of " + dn
	case op == 3:
		dn := m.pick(users)
		uac, _ := strconv.Atoi(a.Get(dn, "userAccountControl"))
		a.SetEnabled(dn, uac&0x2 != 0)
		return "toggle " + dn
	case op == 4:
		dn := m.pick(users)
		when := []int64{0, ldapconn.TimeToFiletime(m.now.Add(-time.Hour)), ldapconn.TimeToFiletime(m.now.Add(48 * time.Hour))}[m.rng.IntN(3)]
		a.Replace(dn, "accountExpires", strconv.FormatInt(when, 10))
		return fmt.Sprintf("accountExpires=%d on %s", when, dn)
	case op == 5:
		dn := m.pick(users)
		to := m.pick(m.ous)
		return "move " + dn + " to " + a.Move(dn, rdnValue(dn), to)
	case op == 6:
		dn := m.pick(users)
		m.serial++
		to := a.Move(dn, fmt.Sprintf("Renamed %d", m.serial), "")
		switch m.rng.IntN(3) {
		case 0:
			a.Replace(to, "userPrincipalName", fmt.Sprintf("%srenamed%d@corp.example.com", m.prefix, m.serial))
		case 1:
			a.Replace(to, "userPrincipalName", fmt.Sprintf("%srenamed%d@corp.local", m.prefix, m.serial))
		case 2:
			m.clear(to, "userPrincipalName")
		}
		return "rename " + dn + " to " + to
	case op == 7:
		dn := m.pick(users)
		a.Delete(dn)
		return "delete " + dn
	case op == 8 && len(groups) > 0, op == 9 && len(groups) > 1:
		g := m.pick(groups)
		member := m.pick(users)
		if op == 9 {
			if member = m.pick(groups); member == g {
				return "no-op"
			}
		}
		req := goldap.NewModifyRequest(g, nil)
		req.Add("member", []string{member})
		return "add " + member + " to " + g + m.tryModify(req)
	case op == 10 && len(groups) > 0:
		g := m.pick(groups)
		res, err := a.Conn().Search(goldap.NewSearchRequest(g, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"member"}, nil))
		if err != nil || len(res.Entries) == 0 {
			m.t.Fatalf("read members of %s: %v", g, err)
		}
		ms := res.Entries[0].GetAttributeValues("member")
		slices.Sort(ms)
		if len(ms) == 0 {
			return "no-op"
		}
		member := m.pick(ms)
		a.RemoveMembers(g, member)
		return "remove " + member + " from " + g
	case op == 11:
		m.serial++
		var members []string
		for range m.rng.IntN(4) {
			members = append(members, m.pick(users))
		}
		if len(groups) > 0 {
			members = append(members, m.pick(groups))
		}
		slices.Sort(members)
		members = slices.Compact(members)
		dn := a.AddGroup(m.pick(m.ous), sambatest.Group{CN: fmt.Sprintf("%sGroup %d", m.prefix, m.serial), Description: "new", Members: members})
		return "create group " + dn
	case op == 12 && len(groups) > 0:
		g := m.pick(groups)
		m.serial++
		switch m.rng.IntN(3) {
		case 0:
			return "rename group " + g + " to " + a.Move(g, fmt.Sprintf("%sGroup renamed %d", m.prefix, m.serial), "")
		case 1:
			a.Replace(g, "description", fmt.Sprintf("described %d", m.serial))
			return "describe " + g
		default:
			a.Replace(g, "mail", fmt.Sprintf("%sgroup%d@corp.example.com", m.prefix, m.serial))
			return "mail " + g
		}
	case op == 13 && len(groups) > 2:
		g := m.pick(groups)
		a.Delete(g)
		return "delete group " + g
	case op == 14 && len(groups) > 0:
		g := m.pick(groups)
		return "move group " + g + " to " + a.Move(g, rdnValue(g), m.pick(m.ous))
	case op == 15 && len(groups) > 0:
		g := m.pick(groups)
		m.serial++
		var dn string
		if m.rng.IntN(2) == 0 {
			dn = a.AddComputer(m.ous[0], fmt.Sprintf("%sPC%d", m.prefix, m.serial))
		} else {
			dn = a.AddContact(m.ous[0], fmt.Sprintf("%sContact %d", m.prefix, m.serial), fmt.Sprintf("c%d@partner.example", m.serial))
		}
		a.AddMembers(g, dn)
		return "add " + dn + " to " + g
	}
	return "no-op"
}

// TestLDAPDeltaEqualsFullAfterRandomChanges: after any sequence of changes
// at the DC (create, modify, disable, expire, move between OUs and out of
// and into the scope, rename, delete; groups created, renamed, moved,
// deleted; members added and removed, nested too), an incremental run gives
// the same directory as a fresh full sync into a new database, and every
// object keeps its dirsync id.
func TestLDAPDeltaEqualsFullAfterRandomChanges(t *testing.T) {
	dc := sharedDC(t)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			a := dc.Admin(t)
			root := a.AddOU(dc.BaseDN, fmt.Sprint("Delta", seed))
			ouA := a.AddOU(root, "A")
			ous := []string{ouA, a.AddOU(ouA, "A1"), a.AddOU(root, "B"), a.AddOU(root, "X")}
			m := &adMutator{t: t, a: a, rng: rand.New(rand.NewPCG(seed, 7)), root: root, ous: ous, now: time.Now().UTC(), prefix: fmt.Sprintf("d%d-", seed)}
			var users []string
			for range 16 {
				users = append(users, a.AddUser(m.pick(ous), m.newUser()))
			}
			for i := range 5 {
				var members []string
				for j := range 5 {
					members = append(members, users[(i*3+j*5)%len(users)])
				}
				slices.Sort(members)
				a.AddGroup(m.pick(ous), sambatest.Group{CN: fmt.Sprintf("%sTeam %d", m.prefix, i), Members: slices.Compact(members)})
			}

			cfg := adConfig(dc, root)
			cfg.ExcludeOUs = []string{ous[3]}
			cfg.UPNSuffixMap = map[string]string{"corp.local": "corp.example.com"}
			scope := adScope{base: root, exclude: cfg.ExcludeOUs, suffixMap: cfg.UPNSuffixMap, now: m.now}
			now := func() time.Time { return m.now }
			d := newADSync(t, dc, cfg, now)
			d.sync(engine.Options{})
			ids := d.ids()
			for round := range 4 {
				var did []string
				for range 15 {
					did = append(did, m.step())
				}
				// Fifteen random changes may remove more of this small
				// directory than the deletion limit allows a delta too.
				run := d.sync(engine.Options{AllowDeletes: true})
				t.Logf("round %d: delta %+v", round, run.Counts)
				if run.Kind != directory.RunDelta {
					t.Fatalf("round %d ran %s (%s), want delta", round, run.Kind, run.Reason)
				}
				fresh := newADSync(t, dc, cfg, now)
				fresh.sync(engine.Options{})
				if got, want := d.render(true), fresh.render(true); got != want {
					t.Fatalf("round %d after:\n  %s\ndelta-synced (-) and fresh full (+) differ:\n%s", round, strings.Join(did, "\n  "), diff(got, want))
				}
				tr := readTruth(t, a.Conn(), scope)
				if got, want := d.render(true), tr.render(effectiveFromDirect(tr)); got != want {
					t.Fatalf("round %d after:\n  %s\ndirectory (+) differs from the DC (-):\n%s", round, strings.Join(did, "\n  "), diff(want, got))
				}
				// Nothing is applied twice: the next delta finds nothing to do.
				if again := d.sync(engine.Options{}); again.Counts != (directory.Counts{}) {
					t.Fatalf("round %d: a second delta with nothing changed did %+v", round, again.Counts)
				}
				now := d.ids()
				for ext, id := range ids {
					if now[ext] != id {
						t.Fatalf("round %d after:\n  %s\nobject %s changed its dirsync id from %s to %q", round, strings.Join(did, "\n  "), ext, id, now[ext])
					}
				}
				ids = now
			}
		})
	}
}

// TestLDAPDeltaRemovalEndsMemberships: a group deleted at the DC, a group
// moved out of the scope and a user deleted leave every group they were in
// (and a removed group loses its members), as in a fresh full sync. DirSync
// reports only the tombstone or the move, never the member values AD drops
// from the other groups, so the removal itself must end them. A group that
// comes back brings its memberships again.
func TestLDAPDeltaRemovalEndsMemberships(t *testing.T) {
	dc := sharedDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Removal")
	in := a.AddOU(root, "In")
	out := a.AddOU(root, "Out")
	u1 := a.AddUser(in, sambatest.User{SAMAccountName: "r-u1", UPN: "r-u1@corp.example.com"})
	u2 := a.AddUser(in, sambatest.User{SAMAccountName: "r-u2", UPN: "r-u2@corp.example.com"})
	u3 := a.AddUser(in, sambatest.User{SAMAccountName: "r-u3", UPN: "r-u3@corp.example.com"})
	g := a.AddGroup(in, sambatest.Group{CN: "r-G", Members: []string{u1}})
	h := a.AddGroup(in, sambatest.Group{CN: "r-H", Members: []string{u3}})
	a.AddGroup(in, sambatest.Group{CN: "r-P", Members: []string{g, h, u2}})
	cfg := adConfig(dc, root)
	cfg.ExcludeOUs = []string{out}
	now := fixedNow()
	scope := adScope{base: root, exclude: cfg.ExcludeOUs, now: now()}
	d := newADSync(t, dc, cfg, now)
	d.sync(engine.Options{})

	check := func(what string) {
		t.Helper()
		// Half of this small directory goes: the deletion limit would stop
		// the delta, as it stops a full run; the removals are the point here.
		run := d.sync(engine.Options{AllowDeletes: true})
		if run.Kind != directory.RunDelta {
			t.Fatalf("%s: ran %s (%s), want delta", what, run.Kind, run.Reason)
		}
		fresh := newADSync(t, dc, cfg, now)
		fresh.sync(engine.Options{})
		if got, want := d.render(true), fresh.render(true); got != want {
			t.Errorf("%s: delta-synced (-) and fresh full (+) differ: the delta kept memberships of removed objects "+
				"(a removal must end the object's memberships, as a full run's membership sync does):\n%s", what, diff(got, want))
		}
		tr := readTruth(t, a.Conn(), scope)
		if got, want := d.render(true), tr.render(effectiveFromDirect(tr)); got != want {
			t.Errorf("%s: directory (+) differs from the DC (-):\n%s", what, diff(want, got))
		}
	}
	a.Delete(g)
	h = a.Move(h, "r-H", out)
	a.Delete(u2)
	check("group deleted, group moved out of scope, user deleted")
	a.Move(h, "r-H", in)
	check("group moved back into scope")
}

// --- 3. OU filter ----------------------------------------------------------

// TestLDAPOUFilter: include and exclude filters bring exactly the expected
// subtrees; an included OU that is renamed or deleted stops the run with a
// message naming it, and nobody is deleted.
func TestLDAPOUFilter(t *testing.T) {
	dc := sharedDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Scope")
	staff := a.AddOU(root, "Staff")
	sales := a.AddOU(staff, "Sales")
	contractors := a.AddOU(staff, "Contractors")
	other := a.AddOU(root, "Other")
	alice := a.AddUser(staff, sambatest.User{SAMAccountName: "s-alice", UPN: "s-alice@corp.example.com"})
	bob := a.AddUser(sales, sambatest.User{SAMAccountName: "s-bob", UPN: "s-bob@corp.example.com"})
	frank := a.AddUser(contractors, sambatest.User{SAMAccountName: "s-frank", UPN: "s-frank@corp.example.com"})
	olga := a.AddUser(other, sambatest.User{SAMAccountName: "s-olga", UPN: "s-olga@corp.example.com"})
	otherG := a.AddGroup(other, sambatest.Group{CN: "Other Group", Members: []string{olga}})
	contractorsG := a.AddGroup(contractors, sambatest.Group{CN: "Contractors Group", Members: []string{frank}})
	salesG := a.AddGroup(sales, sambatest.Group{CN: "Sales Group", Members: []string{bob, olga}})
	a.AddGroup(staff, sambatest.Group{CN: "Staff Group", Members: []string{alice, bob, frank, salesG, contractorsG, otherG}})
	now := fixedNow()

	names := func(d *adSync) (users, groups []string) {
		us, _ := d.st.Users(d.ctx, d.src.AccountID, store.UserQuery{})
		for _, u := range us.Items {
			users = append(users, strings.TrimPrefix(u.AccountName, "s-"))
		}
		gs, _ := d.st.Groups(d.ctx, d.src.AccountID, store.GroupQuery{})
		for _, g := range gs.Items {
			groups = append(groups, strings.TrimSuffix(g.Name, " Group"))
		}
		return sorted(users), sorted(groups)
	}
	for _, tc := range []struct {
		name             string
		include, exclude []string
		users, groups    []string
		outside          int // memberships skipped as outside the scope
	}{
		{"whole base", nil, nil, []string{"alice", "bob", "frank", "olga"}, []string{"Contractors", "Other", "Sales", "Staff"}, 0},
		{"exclude contractors", []string{root}, []string{contractors}, []string{"alice", "bob", "olga"}, []string{"Other", "Sales", "Staff"}, 2},
		{"two subtrees", []string{sales, other}, nil, []string{"bob", "olga"}, []string{"Other", "Sales"}, 0},
		{"staff without its sub-OUs", []string{staff}, []string{sales, contractors}, []string{"alice"}, []string{"Staff"}, 5},
		{"nested includes read once", []string{staff, sales}, []string{contractors}, []string{"alice", "bob"}, []string{"Sales", "Staff"}, 4},
		{"exclude everything", []string{root}, []string{staff, other}, nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := adConfig(dc, root)
			cfg.IncludeOUs, cfg.ExcludeOUs = tc.include, tc.exclude
			d := newADSync(t, dc, cfg, now)
			run := d.sync(engine.Options{})
			users, groups := names(d)
			if !slices.Equal(users, tc.users) || !slices.Equal(groups, tc.groups) {
				t.Errorf("users %q groups %q, want %q and %q", users, groups, tc.users, tc.groups)
			}
			if got := run.Skips["member outside the source's scope"]; got != tc.outside {
				t.Errorf("%d memberships skipped as outside the scope, want %d (skips %v)", got, tc.outside, run.Skips)
			}
			scope := adScope{base: root, include: tc.include, exclude: tc.exclude, now: now()}
			tr := readTruth(t, a.Conn(), scope)
			if !mapsEqual(run.Skips, tr.skips) {
				t.Errorf("skips %v, the DC says %v", run.Skips, tr.skips)
			}
			if got, want := d.render(true), tr.render(effectiveFromDirect(tr)); got != want {
				t.Errorf("directory (+) differs from the DC (-):\n%s", diff(want, got))
			}
		})
	}

	t.Run("vanished OU stops the run", func(t *testing.T) {
		temp := a.AddOU(root, "Temp")
		a.AddUser(temp, sambatest.User{SAMAccountName: "s-tina", UPN: "s-tina@corp.example.com"})
		cfg := adConfig(dc, root)
		cfg.IncludeOUs = []string{sales, other, temp}
		d := newADSync(t, dc, cfg, now)
		d.sync(engine.Options{})
		before, ids := d.render(true), d.ids()
		if users, _ := names(d); !slices.Equal(users, []string{"bob", "olga", "tina"}) {
			t.Fatalf("users before: %q", users)
		}
		stopped := func(what, ou string, opts engine.Options) {
			t.Helper()
			run, err := d.trySync(opts)
			if err == nil || run.Outcome != directory.OutcomeFailed || connector.KindOf(err) != connector.KindNotFound {
				t.Fatalf("%s: run %s (%s), err %v (kind %q): want a failed run with a not-found error", what, run.Outcome, run.Reason, err, connector.KindOf(err))
			}
			if !strings.Contains(err.Error(), ou) || !strings.Contains(run.Reason, ou) {
				t.Errorf("%s: the error does not name the OU %s:\n%v\nreason: %s", what, ou, err, run.Reason)
			}
			if run.Counts != (directory.Counts{}) {
				t.Errorf("%s: counts %+v, want nothing applied", what, run.Counts)
			}
			if got := d.render(true); got != before {
				t.Errorf("%s changed the directory:\n%s", what, diff(before, got))
			}
			recorded, rerr := d.st.Run(d.ctx, d.src.AccountID, run.ID)
			if rerr != nil || recorded.Outcome != directory.OutcomeFailed || !strings.Contains(recorded.Reason, ou) {
				t.Errorf("%s: recorded run %+v (%v)", what, recorded, rerr)
			}
		}
		renamed := a.Move(sales, "Sales (old)", "")
		stopped("delta after the OU was renamed", sales, engine.Options{})
		stopped("full after the OU was renamed", sales, engine.Options{Full: true})
		a.Move(renamed, "Sales", "")
		a.Delete(temp)
		stopped("delta after the OU was deleted", temp, engine.Options{})
		stopped("full after the OU was deleted", temp, engine.Options{Full: true})

		// The administrator fixes the filter: the next run reads the new
		// scope in full, and only Temp's user leaves, to the trash.
		cfg.IncludeOUs = []string{sales, other}
		d.setConfig(cfg)
		run := d.sync(engine.Options{})
		if run.Kind != directory.RunFull || run.Counts.Deleted != 1 || run.Counts.Created != 0 {
			t.Errorf("run after the filter was fixed: %s %+v (%s)", run.Kind, run.Counts, run.Reason)
		}
		if users, _ := names(d); !slices.Equal(users, []string{"bob", "olga"}) {
			t.Errorf("users after: %q", users)
		}
		for ext, id := range d.ids() {
			if ids[ext] != id {
				t.Errorf("object %s changed its dirsync id", ext)
			}
		}
	})
}

// TestGenericLDAPDeletionReachesTheTrashOnSchedule: a generic LDAP server
// read by modifyTimestamp never reports a deletion, so the engine
// reconciles it in full once a day. A user deleted at the server reaches
// the trash through the runs a schedule asks for (incremental ones) alone,
// on a fake clock.
func TestGenericLDAPDeletionReachesTheTrashOnSchedule(t *testing.T) {
	dc := sharedDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "GenericSchedule")
	var users []string
	for i := range 8 {
		users = append(users, a.AddUser(root, sambatest.User{SAMAccountName: fmt.Sprintf("gs-u%d", i), UPN: fmt.Sprintf("gs-u%d@corp.example.com", i)}))
	}
	a.AddGroup(root, sambatest.Group{CN: "gs-G", Members: users[:3]})
	cfg := adConfig(dc, root)
	cfg.Flavor = ldapconn.FlavorGeneric
	cfg.UserClass, cfg.GroupClass = "user", "group"
	cfg.UserFilter = "(!(objectClass=computer))"
	cfg.Attributes = map[string]string{ldapconn.AttrAnchor: "objectGUID", ldapconn.AttrUsername: "userPrincipalName",
		ldapconn.AttrAccountName: "sAMAccountName"}
	d := newADSync(t, dc, cfg, fixedNow())
	clk := clock.NewFake(time.Now())
	d.clock = clk
	scheduled := engine.Options{Trigger: "schedule"}
	if run := d.sync(scheduled); run.Kind != directory.RunFull || run.Counts.Created != 9 {
		t.Fatalf("first run: %s %+v", run.Kind, run.Counts)
	}
	a.Delete(users[0])
	state := func() directory.State {
		u, err := d.st.UserByUsername(d.ctx, d.src.AccountID, "gs-u0@corp.example.com")
		if err != nil {
			t.Fatal(err)
		}
		return u.State
	}
	for hours := 6; hours < 24; hours += 6 {
		clk.Advance(6 * time.Hour)
		if run := d.sync(scheduled); run.Kind != directory.RunDelta || state() != directory.StateActive {
			t.Fatalf("after %dh: a %s run, the deleted user %s: the timestamp read saw a deletion it cannot see", hours, run.Kind, state())
		}
	}
	clk.Advance(6 * time.Hour)
	run := d.sync(scheduled)
	if run.Kind != directory.RunFull || !strings.Contains(run.Reason, "periodic full reconciliation") || run.Counts.Deleted != 1 ||
		run.Counts.MembersRemoved != 1 || state() != directory.StateTrash {
		t.Fatalf("after 24h: a %s run (%s), %+v, the deleted user %s", run.Kind, run.Reason, run.Counts, state())
	}
	if again := d.sync(scheduled); again.Kind != directory.RunDelta {
		t.Fatalf("the run after the full one: %s (%s)", again.Kind, again.Reason)
	}
}
