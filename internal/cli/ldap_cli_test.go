package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/sambatest"
)

// TestLDAPSourceThroughCLI walks an administrator's whole Active Directory
// set-up against a real Samba DC, in-process through the command line:
// add the source with the bind password on standard input, test it, sync,
// read the directory back; then every bad setting an administrator meets
// (wrong password, wrong base DN, untrusted certificate, unreachable
// server), first in a new source and then in the working one, each with a
// message of its own, exit code 3, and no change to the directory. The bind
// password never shows in any output or in the database's files.
func TestLDAPSourceThroughCLI(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	t.Setenv("DIRSYNC_ACCOUNT", "")
	dc := sambatest.Start(t)
	a := dc.Admin(t)

	// The service account lives outside the synced OU, as it should.
	password := "Svc!" + randomHex(t) + "aA9"
	svc := a.AddUser("CN=Users,"+dc.BaseDN, sambatest.User{SAMAccountName: "svc-dirsync", UPN: "svc-dirsync@" + sambatest.DNSDomain, Password: password})
	// Domain Admins hold "Replicating Directory Changes", which DirSync needs.
	a.AddMembers("CN=Domain Admins,CN=Users,"+dc.BaseDN, svc)

	root := a.AddOU(dc.BaseDN, "CLI")
	staff := a.AddOU(root, "Staff")
	other := a.AddOU(root, "Other")
	alice := a.AddUser(staff, sambatest.User{SAMAccountName: "c-alice", UPN: "c-alice@corp.example.com", Mail: "alice@corp.example.com", DisplayName: "Alice"})
	bob := a.AddUser(staff, sambatest.User{SAMAccountName: "c-bob", UPN: "c-bob@corp.local", Disabled: true})
	carol := a.AddUser(other, sambatest.User{SAMAccountName: "c-carol", UPN: "c-carol@corp.example.com"})
	a.AddUser(other, sambatest.User{SAMAccountName: "c-dave"}) // no UPN
	pc := a.AddComputer(other, "C-PC1")
	nested := a.AddGroup(other, sambatest.Group{CN: "Nested", Members: []string{carol}})
	a.AddGroup(staff, sambatest.Group{CN: "Staff", Members: []string{alice, bob, nested, pc}})

	dir := t.TempDir()
	db := filepath.Join(dir, "dirsync.db")
	var outputs bytes.Buffer // every byte the CLI printed
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		out, errOut, code := runCLI(t, db, stdin, args...)
		outputs.WriteString(out + errOut)
		return out, errOut, code
	}
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, code := run(stdin, args...)
		if code != ExitOK {
			t.Fatalf("dirsync %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	addArgs := func(name, url, base string, extra ...string) []string {
		return append([]string{"source", "add", "ldap", "--name", name, "--url", url, "--base-dn", base,
			"--bind-dn", svc, "--bind-password-file", "-"}, extra...)
	}

	mustRun(password+"\n", addArgs("ad", dc.URL, root, "--ca-file", dc.CAFile, "--upn-suffix-map", "corp.local=corp.example.com")...)
	out := mustRun("", "source", "test", "ad")
	for _, want := range []string{"bind", "base_dn", "read_users", "DirSync control is allowed", "is claimed by this source", "Source ad is ready to sync."} {
		if !strings.Contains(out, want) {
			t.Errorf("source test output lacks %q:\n%s", want, out)
		}
	}

	var first directory.Run
	decode(t, mustRun("", "sync", "ad", "--json"), &first)
	if first.Kind != directory.RunFull || first.Outcome != directory.OutcomeSucceeded || first.Counts.Created != 6 ||
		first.SourceUsers != 4 || first.SourceGroups != 2 || first.Skips["device"] != 1 {
		t.Fatalf("first sync: %+v", first)
	}

	// One domain, one source, by the domain's identity (its objectSid, and
	// its DNS name): another account adding the domain at its root rather
	// than the OU is refused, told only that another account holds it.
	mustRun("", "account", "create", "other")
	if out, errOut, code := run(password+"\n", append([]string{"--account", "other"}, addArgs("ad-root", dc.URL, dc.BaseDN, "--ca-file", dc.CAFile)...)...); code != ExitConflict ||
		!strings.Contains(errOut, "another account") || strings.Contains(out+errOut, "source ad ") {
		t.Fatalf("the domain added again by another account: exit %d\n%s%s", code, out, errOut)
	}

	var users []directory.User
	decode(t, mustRun("", "users", "list", "--json"), &users)
	got := map[string]directory.User{}
	for _, u := range users {
		got[u.Username] = u
	}
	if names := slices.Sorted(mapKeys(got)); !slices.Equal(names, []string{"c-alice@corp.example.com", "c-bob@corp.example.com",
		"c-carol@corp.example.com", "c-dave@corp.example.com"}) {
		t.Fatalf("users: %q (bob's corp.local suffix is mapped; dave has no UPN)", names)
	}
	if u := got["c-alice@corp.example.com"]; u.Email != "alice@corp.example.com" || u.DisplayName != "Alice" || !u.Enabled ||
		u.State != directory.StateActive || len(u.Sources) != 1 || u.Sources[0].Source != "ad" || u.Sources[0].ExternalID != guid(a.GUID(alice)) {
		t.Errorf("alice: %+v", u)
	}
	if u := got["c-bob@corp.example.com"]; u.Enabled || u.State != directory.StateDisabled {
		t.Errorf("bob is disabled in AD: %+v", u)
	}
	var groups []directory.Group
	decode(t, mustRun("", "groups", "list", "--json"), &groups)
	if len(groups) != 2 || groups[0].Name != "Nested" || groups[1].Name != "Staff" || groups[1].Sources[0].Source != "ad" {
		t.Fatalf("groups: %+v", groups)
	}
	members := func(args ...string) []string {
		t.Helper()
		var ms []directory.Member
		decode(t, mustRun("", append([]string{"groups", "members"}, args...)...), &ms)
		var names []string
		for _, m := range ms {
			names = append(names, string(m.Kind)+":"+m.Name)
		}
		return names
	}
	if got, want := members("Staff", "--json"), []string{"group:Nested", "user:c-alice@corp.example.com", "user:c-bob@corp.example.com",
		"user:c-carol@corp.example.com"}; !slices.Equal(got, want) {
		t.Errorf("effective members of Staff = %q, want %q", got, want)
	}
	if got, want := members("Staff", "--direct", "--json"), []string{"group:Nested", "user:c-alice@corp.example.com",
		"user:c-bob@corp.example.com"}; !slices.Equal(got, want) {
		t.Errorf("direct members of Staff = %q, want %q", got, want)
	}

	// A change at the DC comes in the next run, incrementally; a rename
	// keeps the user's dirsync id.
	a.SetEnabled(bob, true)
	a.Move(carol, "Carol Renamed", staff)
	var second directory.Run
	decode(t, mustRun("", "sync", "ad", "--json"), &second)
	if second.Kind != directory.RunDelta || second.Counts.Updated != 1 || second.Counts.Enabled != 1 {
		t.Errorf("second sync: %s %+v", second.Kind, second.Counts)
	}
	decode(t, mustRun("", "users", "list", "--json"), &users)
	for _, u := range users {
		if before := got[u.Username]; u.ID != before.ID {
			t.Errorf("%s changed its id from %s to %s", u.Username, before.ID, u.ID)
		}
	}
	// --full forces a full reconciliation where a cursor would allow a delta.
	var forced directory.Run
	decode(t, mustRun("", "sync", "ad", "--full", "--json"), &forced)
	if forced.Kind != directory.RunFull || forced.Counts.Unchanged != 6 {
		t.Errorf("sync --full ran %s %+v, want a full run that changes nothing", forced.Kind, forced.Counts)
	}
	var shown directory.Run
	decode(t, mustRun("", "runs", "show", first.ID, "--json"), &shown)
	if shown.ID != first.ID || shown.Counts != first.Counts {
		t.Errorf("runs show: %+v", shown)
	}

	// The directory as it stands; nothing below may change it.
	directoryNow := func() string {
		t.Helper()
		return mustRun("", "users", "list", "--json", "--state", "active,disabled,pending_deletion") +
			mustRun("", "groups", "list", "--json") + strings.Join(members("Staff", "--json"), ",")
	}
	baseline := directoryNow()

	unusedPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	wrongPassword := "Wrong!" + randomHex(t) + "bB8"
	newPassword := "New!" + randomHex(t) + "cC7"
	secrets := []string{password, wrongPassword, newPassword, newPassword + "2", dc.AdminPassword}

	// Each failure a runs-list reader must tell apart, first as an
	// administrator meets it when adding a source.
	cases := []struct {
		name, stdin, url, base string
		extra                  []string
		want                   []string // in the test's and the sync's messages
	}{
		{"wrong-password", wrongPassword, dc.URL, root, []string{"--ca-file", dc.CAFile},
			[]string{"bind", "password is wrong", "LDAP 49"}},
		{"wrong-base-dn", password, dc.URL, "OU=NoSuch," + dc.BaseDN, []string{"--ca-file", dc.CAFile},
			[]string{"base DN", "OU=NoSuch," + dc.BaseDN, "does not exist"}},
		{"untrusted-certificate", password, dc.URL, root, nil,
			[]string{"certificate", "not trusted", "--ca-file"}},
		{"unreachable", password, "ldaps://" + unusedPort(), root, []string{"--ca-file", dc.CAFile},
			[]string{"cannot reach", "connection refused"}},
	}
	messages := map[string]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// One database per broken source: the domain is already synced
			// by source ad, and one domain has one source in a deployment.
			saved := db
			db = filepath.Join(dir, c.name+".db")
			defer func() { db = saved }()
			listing := func() string {
				return mustRun("", "users", "list", "--json", "--state", "active,disabled,pending_deletion") + mustRun("", "groups", "list", "--json")
			}
			// A fresh database holds nobody (and a read command does not
			// create one).
			caseBaseline := "[]\n[]\n"
			mustRun(c.stdin, addArgs(c.name, c.url, c.base, c.extra...)...)
			out, errOut, code := run("", "source", "test", c.name)
			if code != ExitSource {
				t.Fatalf("source test: exit %d, want %d\n%s%s", code, ExitSource, out, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("source test output lacks %q:\n%s%s", w, out, errOut)
				}
			}
			t.Logf("source test %s:\n%s%s", c.name, out, errOut)
			if other, dup := messages[errOut]; dup {
				t.Errorf("%s and %s print the same message: %s", c.name, other, errOut)
			}
			messages[errOut] = c.name
			out, errOut, code = run("", "sync", c.name)
			if code != ExitSource {
				t.Fatalf("sync: exit %d, want %d\n%s%s", code, ExitSource, out, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("sync output lacks %q:\n%s%s", w, out, errOut)
				}
			}
			if now := listing(); now != caseBaseline {
				t.Errorf("a failed sync changed the directory")
			}
			var runs []directory.Run
			decode(t, mustRun("", "runs", "list", c.name, "--json"), &runs)
			if len(runs) != 1 || runs[0].Outcome != directory.OutcomeFailed || !strings.Contains(runs[0].Reason, c.want[len(c.want)-1]) {
				t.Errorf("runs list: %+v", runs)
			}
		})
	}

	// Then as they happen to a source that works: its base OU renamed, its
	// password changed, its server down. Each run fails, says why, and
	// leaves every user where they were: nobody is deleted.
	failing := func(what string, args []string, want ...string) {
		t.Helper()
		out, errOut, code := run("", append([]string{"sync", "ad"}, args...)...)
		t.Logf("%s: %s", what, errOut)
		if code != ExitSource {
			t.Fatalf("%s: sync exit %d, want %d\n%s%s", what, code, ExitSource, out, errOut)
		}
		// The run's summary says why, once; the last line says it failed.
		for _, w := range want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%s: sync output lacks %q:\n%s%s", what, w, out, errOut)
			}
		}
		if now := directoryNow(); now != baseline {
			t.Errorf("%s: the failed sync changed the directory", what)
		}
	}
	renamed := a.Move(root, "CLI Renamed", "")
	failing("base OU renamed", nil, root, "does not exist")
	failing("base OU renamed, forced full", []string{"--full"}, root, "does not exist")
	a.Move(renamed, "CLI", "")
	// Samba, like AD for NTLM, still accepts the previous password for a
	// while after a reset; a second reset retires the one dirsync holds.
	a.Replace(svc, "unicodePwd", sambatest.EncodePassword(newPassword))
	a.Replace(svc, "unicodePwd", sambatest.EncodePassword(newPassword+"2"))
	failing("password changed at the DC", nil, "password is wrong")
	dc.Close()
	failing("DC down", nil, "cannot reach", "connection refused")

	// A debug log of a failing run still holds no secret.
	run("", "--log-level", "debug", "sync", "ad")
	run("", "source", "show", "ad", "--json")
	for _, s := range secrets {
		if bytes.Contains(outputs.Bytes(), []byte(s)) {
			t.Errorf("a password appears in the CLI's output")
		}
	}
	files, _ := os.ReadDir(dir)
	if len(files) < 2 {
		t.Fatalf("expected the database and its key in %s, found %d files", dir, len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("a password appears in clear in %s", f.Name())
			}
		}
	}
}

func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// guid writes objectGUID bytes as Windows shows them (the first three
// fields little-endian).
func guid(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	r := []byte{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]}
	r = append(r, b[8:]...)
	h := hex.EncodeToString(r)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
