package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/entraemu"
)

// TestConfigRoundTrip: an export holds no secret; imported into an empty
// database (the secrets it lacks asked for, a dry run first) and exported
// again, it gives the same file; imported again, it changes nothing.
func TestConfigRoundTrip(t *testing.T) {
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
	db1, db2 := filepath.Join(dir, "one.db"), filepath.Join(dir, "two.db")
	creds := srv.Credentials()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, srv.CAPEM(), 0o600)
	secret := filepath.Join(dir, "secret.txt")
	os.WriteFile(secret, []byte(creds.WriteApp.ClientSecret), 0o600)
	pw := filepath.Join(dir, "pw.txt")
	os.WriteFile(pw, []byte("bind-password-1"), 0o600)
	run := func(db string, want int, args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, db, "", args...)
		if code != want {
			t.Fatalf("dirsync %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out + errOut
	}
	run(db1, 0, "source", "add", "ldap", "--name", "corp", "--url", "ldaps://127.0.0.1:1", "--base-dn", "DC=corp,DC=example",
		"--bind-dn", "svc@corp.example", "--bind-password-file", pw, "--ou", "OU=Staff,DC=corp,DC=example", "--upn-suffix-map", "corp.local=corp.example")
	run(db1, 0, "source", "schedule", "corp", "every 6h from 02:00")
	run(db1, 0, "target", "add", "entra", "--name", "cloud", "--tenant", creds.TenantID, "--client-id", creds.WriteApp.ClientID,
		"--client-secret-file", secret, "--cloud", "custom", "--authority-url", creds.AuthorityURL, "--graph-url", creds.GraphURL,
		"--ca-file", ca, "--source", "corp", "--staging", "--usage-location", "FR", "--flow", "jobTitle=department", "--deletion-threshold", "50")
	run(db1, 0, "webhooks", "add", "https://hooks.example.com/dirsync", "--event-type", "user.created")
	export := run(db1, 0, "config", "export")
	for _, leak := range []string{"bind-password-1", creds.WriteApp.ClientSecret, "whsec_"} {
		if strings.Contains(export, leak) {
			t.Fatalf("the export holds a secret (%s):\n%s", leak, export)
		}
	}
	if !strings.Contains(export, `"jobTitle": "department"`) || !strings.Contains(export, `"corp.local": "corp.example"`) {
		t.Fatalf("the export lacks settings:\n%s", export)
	}
	file := filepath.Join(dir, "dirsync.json")
	os.WriteFile(file, []byte(export), 0o600)

	// Into an empty database: the secrets it lacks are named, nothing is stored.
	if out := run(db2, ExitUsage, "config", "import", file); !strings.Contains(out, "source:corp") || !strings.Contains(out, "target:cloud") {
		t.Fatalf("import without secrets: %s", out)
	}
	if out := run(db2, 0, "target", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("a refused import stored targets: %s", out)
	}
	args := []string{"config", "import", file, "--secret", "source:corp=" + pw, "--secret", "target:cloud=" + secret}
	if out := run(db2, 0, append(args, "--dry-run")...); !strings.Contains(out, "Dry run") || strings.Count(out, "create") != 3 {
		t.Fatalf("dry run: %s", out)
	}
	if out := run(db2, 0, "source", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("a dry run stored sources: %s", out)
	}
	if out := run(db2, 0, args...); !strings.Contains(out, "Imported 3 changes") || !strings.Contains(out, "new signing secret whsec_") {
		t.Fatalf("import: %s", out)
	}
	if again := run(db2, 0, "config", "export"); again != export {
		t.Fatalf("export after import differs:\n%s\nwant\n%s", again, export)
	}
	if out := run(db2, 0, "config", "import", file); !strings.Contains(out, "Imported 0 changes") {
		t.Fatalf("a second import: %s", out)
	}
	if out := run(db2, 0, "target", "test", "cloud"); !strings.Contains(out, "ready to sync") {
		t.Fatalf("the imported target does not connect: %s", out)
	}
	// A change in the file is an update, shown by the dry run.
	os.WriteFile(file, []byte(strings.Replace(export, `"usage_location": "FR"`, `"usage_location": "DE"`, 1)), 0o600)
	if out := run(db2, 0, "config", "import", file, "--dry-run"); !strings.Contains(out, "update") || !strings.Contains(out, "options") {
		t.Fatalf("dry run of a change: %s", out)
	}
	run(db2, ExitUsage, "config", "import", filepath.Join(dir, "nope.json"))
	os.WriteFile(file, []byte(`{"version": 9}`), 0o600)
	run(db2, ExitUsage, "config", "import", file)
}
