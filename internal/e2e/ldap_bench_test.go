package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/sambatest"
)

// BenchmarkLDAPLarge measures a 10,000-user, 500-group Active Directory
// through the whole of dirsync (connector, engine, SQLite store): a full
// sync into a new database, an incremental sync after about 1% of the
// directory changed, and, for scale, OpenLDAP's ldapsearch dumping the same
// entries with the same paging (-E pr=1000/noprompt) on the same machine.
// One group holds all 10,000 users, so its members come by range retrieval.
//
// Populating the DC takes a minute or two, so it runs only with
// DIRSYNC_LDAP_LARGE=1, and is meant to run once:
//
//	DIRSYNC_LDAP_LARGE=1 go test ./internal/e2e -run '^$' -bench LDAPLarge -benchtime 1x
func BenchmarkLDAPLarge(b *testing.B) {
	if os.Getenv("DIRSYNC_LDAP_LARGE") == "" {
		b.Skip("set DIRSYNC_LDAP_LARGE=1 to run the 10,000-user measurement")
	}
	const nUsers, nGroups, perGroup, nOUs = 10000, 500, 40, 10
	dc := sambatest.Start(b)
	a := dc.Admin(b)
	root := a.AddOU(dc.BaseDN, "Large")
	ous := make([]string, nOUs)
	for i := range ous {
		ous[i] = a.AddOU(root, fmt.Sprintf("Dept%02d", i))
	}
	groupOU := a.AddOU(root, "Groups")
	start := time.Now()
	var dns []string
	for o, ou := range ous {
		users := make([]sambatest.User, nUsers/nOUs)
		for j := range users {
			i := o*len(users) + j
			users[j] = sambatest.User{SAMAccountName: fmt.Sprintf("lg%05d", i), UPN: fmt.Sprintf("lg%05d@corp.example.com", i),
				GivenName: "Given", Surname: fmt.Sprintf("Sur%05d", i), DisplayName: fmt.Sprintf("Given Sur%05d", i),
				Mail: fmt.Sprintf("lg%05d@corp.example.com", i), Department: fmt.Sprintf("Dept %d", o), Title: "Staff",
				Phone: fmt.Sprintf("+1 555 %04d", i), Disabled: i%50 == 0}
		}
		dns = append(dns, a.AddUsers(ou, users)...)
	}
	// A fresh administrator's connection: the DC closes one idle past its
	// query policy's MaxConnIdleTime (900 s), which adding the users over
	// other connections takes on a busy machine.
	a = dc.Admin(b)
	groups := make([]string, nGroups)
	groups[0] = a.AddGroup(groupOU, sambatest.Group{CN: "lg-All Users", Members: dns})
	for g := nGroups - 1; g >= 1; g-- {
		members := make([]string, 0, perGroup+1)
		for j := range perGroup {
			members = append(members, dns[(g*perGroup+j*7)%nUsers])
		}
		if g <= 50 {
			members = append(members, groups[g+50]) // nesting
		}
		groups[g] = a.AddGroup(groupOU, sambatest.Group{CN: fmt.Sprintf("lg-group-%03d", g), Members: members})
	}
	b.Logf("populated %d users and %d groups in %v", nUsers, nGroups, time.Since(start).Round(time.Second))

	cfg := adConfig(dc, root)
	now := func() time.Time { return time.Now() }
	var full, delta, dump time.Duration
	serial := 0
	b.ResetTimer()
	for range b.N {
		// Full sync into a new database.
		d := newADSync(b, dc, cfg, now)
		d.pageSize, d.batch = 0, 0 // the defaults: AD's page of 1,000, batches of 1,000
		var reading time.Duration
		d.wrap = func(c connector.Connector) connector.Connector {
			return &timedConnector{Incremental: c.(connector.Incremental), took: &reading}
		}
		var ms runtime.MemStats
		start := time.Now()
		run := d.sync(engine.Options{})
		took := time.Since(start)
		full += took
		runtime.ReadMemStats(&ms)
		if run.SourceUsers != nUsers || run.SourceGroups != nGroups {
			b.Fatalf("full sync read %d users and %d groups", run.SourceUsers, run.SourceGroups)
		}
		b.Logf("full sync: %d users, %d groups, %d created, %d memberships, %d LDAP requests; %v reading (staging included), %v applying (heap in use after: %d MB)",
			run.SourceUsers, run.SourceGroups, run.Counts.Created, run.Counts.MembersAdded, run.Requests,
			reading.Round(time.Millisecond), (took - reading).Round(time.Millisecond), ms.HeapInuse>>20)

		// ldapsearch's paged dump of the same entries and attributes.
		start = time.Now()
		n := ldapsearchDump(b, dc, root)
		dump += time.Since(start)
		b.Logf("ldapsearch dump: %d entries", n)

		// About 1% of the directory changes.
		b.StopTimer()
		changed := changeOnePercent(b, a, dns, groups, ous, &serial)
		reading = 0
		b.StartTimer()
		start = time.Now()
		run = d.sync(engine.Options{})
		took = time.Since(start)
		delta += took
		if run.Kind != directory.RunDelta {
			b.Fatalf("second run was %s (%s)", run.Kind, run.Reason)
		}
		b.Logf("incremental sync after %s: %+v, %d LDAP requests; %v reading the changes, %v applying them",
			changed, run.Counts, run.Requests, reading.Round(time.Millisecond), (took - reading).Round(time.Millisecond))

		// The incremental result is the full one.
		b.StopTimer()
		fresh := newADSync(b, dc, cfg, now)
		fresh.pageSize, fresh.batch = 0, 0
		fresh.sync(engine.Options{})
		if got, want := d.render(false), fresh.render(false); got != want {
			b.Fatalf("after the incremental sync, delta-synced (-) and fresh full (+) differ:\n%s", diff(got, want))
		}
		b.StartTimer()
	}
	b.StopTimer()
	perOp := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(perOp(full), "full-s/op")
	b.ReportMetric(perOp(delta), "incremental-s/op")
	b.ReportMetric(perOp(dump), "ldapsearch-s/op")
	b.Logf("full sync %.2f s, incremental after ~1%% changes %.2f s, ldapsearch paged dump %.2f s",
		perOp(full), perOp(delta), perOp(dump))
}

// changeOnePercent changes about 1% of the directory as administrators do
// in a day: attributes, disables, moves, renames, deletions, new users, and
// memberships.
func changeOnePercent(b *testing.B, a *sambatest.Admin, dns, groups, ous []string, serial *int) string {
	b.Helper()
	*serial++
	s := *serial
	pick := func(i int) int { return (i*97 + s*13) % len(dns) }
	for i := range 40 {
		a.Replace(dns[pick(i)], "title", fmt.Sprintf("Changed %d", s))
	}
	for i := 40; i < 50; i++ {
		a.SetEnabled(dns[pick(i)], s%2 == 0)
	}
	for i := 50; i < 70; i++ {
		j := pick(i)
		dns[j] = a.Move(dns[j], rdnValue(dns[j]), ous[(i+s)%len(ous)])
	}
	for i := 70; i < 80; i++ {
		j := pick(i)
		dns[j] = a.Move(dns[j], fmt.Sprintf("lg renamed %d-%d", s, i), "")
	}
	for i := 80; i < 90; i++ {
		j := pick(i)
		a.Delete(dns[j])
		dns[j] = a.AddUser(ous[i%len(ous)], sambatest.User{SAMAccountName: fmt.Sprintf("lgn%d-%d", s, i),
			UPN: fmt.Sprintf("lgn%d-%d@corp.example.com", s, i), GivenName: "New"})
	}
	for g := 1; g <= 50; g++ {
		req := goldap.NewModifyRequest(groups[g], nil)
		req.Add("member", []string{dns[pick(1000+g)]})
		a.Conn().Modify(req) // already a member: a no-op an administrator also meets
		res, err := a.Conn().Search(goldap.NewSearchRequest(groups[g+100], goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"member"}, nil))
		if err == nil && len(res.Entries) == 1 {
			if ms := res.Entries[0].GetAttributeValues("member"); len(ms) > 0 {
				a.RemoveMembers(groups[g+100], ms[0])
			}
		}
	}
	return "40 attribute changes, 10 (dis|en)ables, 20 moves, 10 renames, 10 deletions, 10 new users, 50 members added, 50 removed"
}

// ldapsearchDump runs ldapsearch over the users and groups in root with the
// attributes the connector reads, paged like the connector, and returns how
// many entries it printed.
func ldapsearchDump(b *testing.B, dc *sambatest.DC, root string) int {
	b.Helper()
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		b.Skip("ldapsearch is not installed (apt-get install ldap-utils)")
	}
	cmd := exec.Command("ldapsearch", "-LLL", "-x", "-H", dc.URL, "-D", dc.AdminDN, "-y", "/dev/stdin", "-b", root,
		"-E", "pr=1000/noprompt", "(|"+classUser+classGroup+")",
		"objectClass", "objectGUID", "mS-DS-ConsistencyGuid", "userPrincipalName", "sAMAccountName", "mail", "proxyAddresses",
		"displayName", "givenName", "sn", "title", "department", "mobile", "telephoneNumber", "userAccountControl",
		"accountExpires", "cn", "name", "description", "groupType", "member")
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+dc.CAFile, "LDAPTLS_REQCERT=demand")
	cmd.Stdin = strings.NewReader(dc.AdminPassword)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("ldapsearch: %v\n%s", err, stderr.String())
	}
	return bytes.Count(out, []byte("\ndn: ")) + 1
}

// timedConnector measures how long a connector takes to read (the cursor,
// the snapshot with its staging, or the changes), apart from the engine's
// apply.
type timedConnector struct {
	connector.Incremental
	took *time.Duration
}

func (c *timedConnector) Cursor(ctx context.Context) (string, error) {
	defer c.time(time.Now())
	return c.Incremental.Cursor(ctx)
}

func (c *timedConnector) Snapshot(ctx context.Context, sink connector.Sink) error {
	defer c.time(time.Now())
	return c.Incremental.Snapshot(ctx, sink)
}

func (c *timedConnector) Changes(ctx context.Context, cursor string, sink connector.ChangeSink) (string, error) {
	defer c.time(time.Now())
	return c.Incremental.Changes(ctx, cursor, sink)
}

func (c *timedConnector) time(start time.Time) { *c.took += time.Since(start) }

func (c *timedConnector) Stats() connector.Stats {
	if s, ok := c.Incremental.(connector.Counter); ok {
		return s.Stats()
	}
	return connector.Stats{}
}
