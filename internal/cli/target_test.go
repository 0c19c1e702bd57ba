package cli

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/store"
)

// TestTargetCommands runs the administrator's flow through the command
// line: add an AD source and an Entra target in staging mode, read the
// plan, turn staging off, sync, meet a sync error, fix it and see it clear.
func TestTargetCommands(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	tenant, err := entraemu.New(entraemu.Options{Users: 3, Groups: 1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	db := filepath.Join(dir, "db.sqlite")
	creds := srv.Credentials()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, srv.CAPEM(), 0o600)
	secret := filepath.Join(dir, "secret.txt")
	os.WriteFile(secret, []byte(creds.WriteApp.ClientSecret+"\n"), 0o600)
	pw := filepath.Join(dir, "pw.txt")
	os.WriteFile(pw, []byte("pw"), 0o600)
	run := func(want int, args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, db, "", args...)
		if code != want {
			t.Fatalf("dirsync %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out + errOut
	}
	run(0, "source", "add", "ldap", "--name", "corp", "--url", "ldaps://127.0.0.1:1", "--base-dn", "DC=corp,DC=example",
		"--bind-dn", "svc@corp.example", "--bind-password-file", pw)
	// Secrets never from the command line.
	if out := run(ExitUsage, "target", "add", "entra", "--name", "cloud", "--tenant", creds.TenantID, "--client-id", creds.WriteApp.ClientID,
		"--client-secret", "hunter2"); !strings.Contains(out, "--client-secret-file") || strings.Contains(out, "hunter2") {
		t.Fatalf("a secret on the command line: %s", out)
	}
	out := run(0, "target", "add", "entra", "--name", "cloud", "--tenant", creds.TenantID, "--client-id", creds.WriteApp.ClientID,
		"--client-secret-file", secret, "--cloud", "custom", "--authority-url", creds.AuthorityURL, "--graph-url", creds.GraphURL,
		"--ca-file", ca, "--source", "corp", "--staging", "--usage-location", "us")
	if !strings.Contains(out, "staging mode") {
		t.Fatalf("target add: %s", out)
	}
	if out := run(0, "target", "test", "cloud"); !strings.Contains(out, "ready to sync") {
		t.Fatalf("target test: %s", out)
	}

	// The directory as the AD source fed it: two users, one with a UPN
	// whose mail nickname the tenant already has.
	st, acc := storeOf(t, db)
	src, err := st.Source(t.Context(), acc.ID, "corp")
	if err != nil {
		t.Fatal(err)
	}
	taken := tenant.Users()[0].MailNickname
	dom := tenant.Domain()
	mk := func(name, upn, nick string) directory.User {
		u := directory.User{AccountID: acc.ID, Enabled: true, State: directory.StateActive, Tags: []string{},
			UserAttributes: directory.UserAttributes{Username: upn, DisplayName: name, AccountName: nick,
				ImmutableID: base64.StdEncoding.EncodeToString([]byte(name + "0123456789abcdef")[:16])}}
		if err := st.Update(t.Context(), func(tx store.Tx) error {
			if err := tx.CreateUser(t.Context(), &u); err != nil {
				return err
			}
			return tx.Link(t.Context(), directory.MemberUser, u.ID, directory.SourceLink{SourceID: src.ID, ExternalID: name})
		}); err != nil {
			t.Fatal(err)
		}
		return u
	}
	mk("Ann", "ann@"+dom, "ann")
	bad := mk("Bob", "bob@"+dom, taken)

	out = run(0, "sync", "cloud")
	if !strings.Contains(out, "staged") || !strings.Contains(out, "2 create user") || !strings.Contains(out, "ann@"+dom) {
		t.Fatalf("staged sync: %s", out)
	}
	if _, ok := tenant.User("ann@" + dom); ok {
		t.Fatal("a staging target wrote to the tenant")
	}
	run(0, "target", "set", "cloud", "--staging=false")
	out = run(0, "sync", "cloud", "--full")
	if !strings.Contains(out, "partial") || !strings.Contains(out, "1 sync errors") {
		t.Fatalf("sync: %s", out)
	}
	if u, ok := tenant.User("ann@" + dom); !ok || u.UsageLocation != "US" {
		t.Fatalf("Ann in the tenant: %v %+v", ok, u)
	}
	var errs struct {
		Errors []struct{ Object, Attribute, Value, Code, Message string }
	}
	json.Unmarshal([]byte(run(0, "target", "errors", "cloud", "--json")), &errs)
	if len(errs.Errors) != 1 || errs.Errors[0].Object != "bob@"+dom || errs.Errors[0].Attribute != "mailNickname" || errs.Errors[0].Value != taken {
		t.Fatalf("target errors: %+v", errs)
	}
	// Fixed in AD, the error clears at the next (delta) cycle.
	bad.AccountName = "bob"
	if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.UpdateUser(t.Context(), bad) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if out := run(0, "sync", "cloud"); !strings.Contains(out, "succeeded") {
		t.Fatalf("sync after the fix: %s", out)
	}
	if out := run(0, "target", "errors", "cloud"); !strings.Contains(out, "No sync errors") {
		t.Fatalf("errors after the fix: %s", out)
	}
	out = run(0, "target", "runs", "cloud")
	if strings.Count(out, "\n") != 4 || !strings.Contains(out, "staged") {
		t.Fatalf("target runs: %s", out)
	}
	var runs struct{ Runs []struct{ ID string } }
	json.Unmarshal([]byte(run(0, "target", "runs", "cloud", "--json")), &runs)
	if out := run(0, "target", "run", runs.Runs[len(runs.Runs)-1].ID); !strings.Contains(out, "create user") || !strings.Contains(out, "planned") {
		t.Fatalf("target run: %s", out)
	}
	if out := run(0, "target", "show", "cloud"); !strings.Contains(out, "usageLocation") || !strings.Contains(out, "proxyAddresses is read-only") {
		t.Fatalf("target show: %s", out)
	}
	run(ExitUsage, "sync", "cloud", "--dry-run")
	run(ExitUsage, "target", "show", "nope")
	run(0, "target", "remove", "cloud")
}
