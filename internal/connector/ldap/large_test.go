package ldap

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/sambatest"
)

// TestLargeDirectory measures a 10,000-user, 500-group directory: the full
// snapshot and an incremental read after 1% of users and some memberships
// changed, against ldapsearch's paged dump of the same users. It takes
// about a minute (mostly creating the users), so it runs only when
// DIRSYNC_LDAP_LARGE=1; its figures go in the notes, not in assertions on
// time.
func TestLargeDirectory(t *testing.T) {
	if os.Getenv("DIRSYNC_LDAP_LARGE") == "" {
		t.Skip("set DIRSYNC_LDAP_LARGE=1 to run the 10,000-user measurement")
	}
	dc := testDC(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "Large")
	const nUsers, nGroups, perGroup = 10000, 500, 40
	users := make([]sambatest.User, nUsers)
	for i := range users {
		users[i] = sambatest.User{SAMAccountName: fmt.Sprintf("lg%05d", i), UPN: fmt.Sprintf("lg%05d@corp.example.com", i),
			GivenName: "Given", Surname: fmt.Sprintf("Sur%05d", i), Mail: fmt.Sprintf("lg%05d@corp.example.com", i),
			Department: fmt.Sprintf("Dept %d", i%20), Title: "Staff"}
	}
	start := time.Now()
	dns := a.AddUsers(root, users)
	groups := make([]string, nGroups)
	for g := range groups {
		members := make([]string, 0, perGroup)
		for j := range perGroup {
			members = append(members, dns[(g*perGroup+j*7)%nUsers])
		}
		groups[g] = a.AddGroup(root, sambatest.Group{CN: fmt.Sprintf("lg-group-%03d", g), Members: members})
	}
	t.Logf("populated %d users, %d groups in %v", nUsers, nGroups, time.Since(start))

	c := open(t, dc, baseCfg(dc, root), Options{})
	cursor, err := c.Cursor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.GC()
	start = time.Now()
	r := snapshot(t, c)
	full := time.Since(start)
	runtime.ReadMemStats(&ms)
	if len(r.users) != nUsers || len(r.groups) != nGroups || len(r.members) != nGroups*perGroup {
		t.Fatalf("snapshot: %d users, %d groups, %d memberships", len(r.users), len(r.groups), len(r.members))
	}
	t.Logf("full snapshot: %v, %d requests (heap in use after: %d MB, including the test's own copy)", full, c.Stats().Requests, ms.HeapInuse>>20)

	if _, err := exec.LookPath("ldapsearch"); err == nil {
		cmd := exec.Command("ldapsearch", "-LLL", "-x", "-H", dc.URL, "-D", dc.AdminDN, "-y", "/dev/stdin", "-b", root,
			"-E", "pr=1000/noprompt", "(&(objectClass=user)(!(objectClass=computer)))", "objectGUID", "userPrincipalName", "mail", "givenName", "sn",
			"displayName", "department", "title", "userAccountControl", "accountExpires", "sAMAccountName", "proxyAddresses")
		cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+dc.CAFile)
		cmd.Stdin = strings.NewReader(dc.AdminPassword)
		start = time.Now()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ldapsearch: %v", err)
		}
		t.Logf("ldapsearch paged dump of the users: %v (%d entries)", time.Since(start), strings.Count(string(out), "\ndn: ")+1)
	}

	for i := 0; i < nUsers/100; i++ {
		a.Replace(dns[i*100], "title", "Changed")
	}
	for g := 0; g < 50; g++ {
		a.RemoveMembers(groups[g], dns[(g*perGroup)%nUsers])
		a.AddMembers(groups[g], dns[(g*perGroup+3)%nUsers])
	}
	ch := r.clone()
	start = time.Now()
	if _, err := c.Changes(t.Context(), cursor, ch); err != nil {
		t.Fatal(err)
	}
	t.Logf("incremental read after 100 user changes and 100 membership changes: %v, %d calls", time.Since(start), len(ch.calls))
}
