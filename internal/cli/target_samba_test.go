package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/sambatest"
)

// TestProvisionFlowAndConfigToSecondServer is the seed's flow as an
// administrator runs it: an AD source with an OU filter and a UPN suffix
// map, an Entra target in staging mode, the plan read; the configuration
// exported and imported into a second database, which (its source synced
// from the same DC) computes the same plan; then staging off, and the
// tenant holds the users.
func TestProvisionFlowAndConfigToSecondServer(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	t.Setenv("DIRSYNC_ACCOUNT", "")
	dc := sambatest.Start(t)
	a := dc.Admin(t)
	root := a.AddOU(dc.BaseDN, "TargetFlow")
	staff := a.AddOU(root, "Staff")
	other := a.AddOU(root, "Other")
	ann := a.AddUser(staff, sambatest.User{SAMAccountName: "t-ann", UPN: "t-ann@corp.example.com", DisplayName: "Ann"})
	bob := a.AddUser(staff, sambatest.User{SAMAccountName: "t-bob", UPN: "t-bob@corp.local", DisplayName: "Bob", Disabled: true})
	a.AddUser(other, sambatest.User{SAMAccountName: "t-out", UPN: "t-out@corp.example.com"})
	a.AddGroup(staff, sambatest.Group{CN: "T Staff", Members: []string{ann, bob}})

	tenant, err := entraemu.New(entraemu.Options{Users: 3, Groups: 1, Seed: 21})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	creds := srv.Credentials()
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	ca, secret, pw := file("ca.pem", string(srv.CAPEM())), file("secret.txt", creds.WriteApp.ClientSecret), file("pw.txt", dc.AdminPassword)
	db1, db2 := filepath.Join(dir, "one.db"), filepath.Join(dir, "two.db")
	run := func(db string, args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, db, "", args...)
		if code != 0 {
			t.Fatalf("dirsync %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	plan := func(db string) []string {
		t.Helper()
		var run1 struct {
			Outcome string
			Plan    []struct{ Op, Object, Member string }
		}
		if err := json.Unmarshal([]byte(run(db, "sync", "cloud", "--json")), &run1); err != nil {
			t.Fatal(err)
		}
		if run1.Outcome != "staged" {
			t.Fatalf("a staging target's cycle: %s", run1.Outcome)
		}
		var out []string
		for _, s := range run1.Plan {
			out = append(out, s.Op+" "+s.Object+" "+s.Member)
		}
		slices.Sort(out)
		return out
	}

	run(db1, "source", "add", "ldap", "--name", "corp", "--url", dc.URL, "--base-dn", root, "--bind-dn", dc.AdminDN,
		"--bind-password-file", pw, "--ca-file", dc.CAFile, "--ou", staff, "--upn-suffix-map", "corp.example.com="+tenant.Domain())
	run(db1, "sync", "corp")
	run(db1, "target", "add", "entra", "--name", "cloud", "--tenant", creds.TenantID, "--client-id", creds.WriteApp.ClientID,
		"--client-secret-file", secret, "--cloud", "custom", "--authority-url", creds.AuthorityURL, "--graph-url", creds.GraphURL,
		"--ca-file", ca, "--source", "corp", "--staging")
	p1 := plan(db1)
	want := []string{"add_member T Staff t-ann@" + tenant.Domain(), "add_member T Staff t-bob@" + tenant.InitialDomain(),
		"create_group T Staff ", "create_user t-ann@" + tenant.Domain() + " ", "create_user t-bob@" + tenant.InitialDomain() + " "}
	if !slices.Equal(p1, want) {
		t.Fatalf("the staged plan:\n%q\nwant\n%q", p1, want)
	}

	export := file("dirsync.json", run(db1, "config", "export"))
	run(db2, "config", "import", export, "--secret", "source:corp="+pw, "--secret", "target:cloud="+secret)
	run(db2, "sync", "corp")
	if p2 := plan(db2); !slices.Equal(p2, p1) {
		t.Fatalf("the second database plans\n%q\nthe first\n%q", p2, p1)
	}

	run(db1, "target", "set", "cloud", "--staging=false")
	if out := run(db1, "sync", "cloud"); !strings.Contains(out, "succeeded") {
		t.Fatalf("sync: %s", out)
	}
	if u, ok := tenant.User("t-bob@" + tenant.InitialDomain()); !ok || u.AccountEnabled {
		t.Fatalf("Bob (disabled in AD) in the tenant: %v %+v", ok, u)
	}
	if out := run(db1, "sync", "cloud"); !strings.Contains(out, "nothing to change") {
		t.Fatalf("a second cycle: %s", out)
	}

	// A new AD user whose account name is a mail nickname the tenant has:
	// a sync error naming it; fixed in AD, it clears at the next cycle.
	taken := tenant.Users()[0].MailNickname
	cyd := a.AddUser(staff, sambatest.User{SAMAccountName: taken, UPN: "t-cyd@corp.example.com", DisplayName: "Cyd"})
	run(db1, "sync", "corp")
	out, _, code := runCLI(t, db1, "", "sync", "cloud")
	if code != 0 || !strings.Contains(out, "partial") {
		t.Fatalf("sync with a duplicate nickname: exit %d %s", code, out)
	}
	var errs struct {
		Errors []struct{ Object, Attribute, Value, Message string }
	}
	json.Unmarshal([]byte(run(db1, "target", "errors", "cloud", "--json")), &errs)
	if len(errs.Errors) != 1 || errs.Errors[0].Attribute != "mailNickname" || errs.Errors[0].Value != taken ||
		errs.Errors[0].Object != "t-cyd@"+tenant.Domain() || !strings.Contains(errs.Errors[0].Message, "mailNickname") {
		t.Fatalf("sync errors: %+v", errs)
	}
	a.Replace(cyd, "sAMAccountName", "t-cyd")
	run(db1, "sync", "corp")
	if out := run(db1, "sync", "cloud"); !strings.Contains(out, "succeeded") {
		t.Fatalf("sync after the fix: %s", out)
	}
	if out := run(db1, "target", "errors", "cloud"); !strings.Contains(out, "No sync errors") {
		t.Fatalf("errors after the fix: %s", out)
	}
	if u, ok := tenant.User("t-cyd@" + tenant.Domain()); !ok || u.MailNickname != "t-cyd" {
		t.Fatalf("Cyd in the tenant: %v %+v", ok, u)
	}
}
