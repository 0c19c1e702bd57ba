package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
)

// runCLI runs the command line in-process, as a user would type it.
func runCLI(t *testing.T, db string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), append([]string{"--db", db}, args...), strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// TestSourceTestFailures checks that each failure an administrator meets
// when setting up an Entra source has its own message and exit code.
func TestSourceTestFailures(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	tenant, err := entraemu.New(entraemu.Options{Users: 20, Groups: 3, Seed: 3})
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
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, srv.CAPEM(), 0o600)
	tenant.AddApp(entraemu.App{ClientID: "11111111-1111-1111-1111-111111111111", Secret: "expired-secret-value", SecretExpired: true,
		Roles: []string{"User.Read.All", "GroupMember.Read.All"}})
	tenant.AddApp(entraemu.App{ClientID: "22222222-2222-2222-2222-222222222222", Secret: "no-consent-secret"})

	cases := []struct {
		name, tenant, clientID, secret string
		extra                          []string
		want                           []string
	}{
		{"ok", creds.TenantID, creds.ClientID, creds.ClientSecret, nil, []string{"ready to sync"}},
		{"tenant-not-found", "nosuch.example", creds.ClientID, creds.ClientSecret, nil, []string{"AADSTS90002", "tenant"}},
		{"app-not-found", creds.TenantID, "33333333-3333-3333-3333-333333333333", creds.ClientSecret, nil, []string{"AADSTS700016", "application"}},
		{"wrong-secret", creds.TenantID, creds.ClientID, "0a1b2c3d-secret-id-not-value", nil, []string{"AADSTS7000215", "value"}},
		{"expired-secret", creds.TenantID, "11111111-1111-1111-1111-111111111111", "expired-secret-value", nil, []string{"AADSTS7000222", "expired"}},
		{"no-consent", creds.TenantID, "22222222-2222-2222-2222-222222222222", "no-consent-secret", nil, []string{"User.Read.All", "consent"}},
		{"untrusted-tls", creds.TenantID, creds.ClientID, creds.ClientSecret, []string{"--ca-file", ""}, []string{"certificate"}},
		{"unreachable", creds.TenantID, creds.ClientID, creds.ClientSecret, []string{"--authority-url", "https://127.0.0.1:1", "--graph-url", "https://127.0.0.1:1"}, []string{"127.0.0.1:1"}},
	}
	seen := map[string]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"source", "add", "entra", "--name", c.name, "--tenant", c.tenant, "--client-id", c.clientID,
				"--client-secret-file", "-", "--cloud", "custom", "--authority-url", creds.AuthorityURL, "--graph-url", creds.GraphURL, "--ca-file", ca}
			args = append(args, c.extra...) // later flags win
			// One database per case: one tenant can be the source of one account only.
			db := filepath.Join(dir, c.name+".sqlite")
			if out, errOut, code := runCLI(t, db, c.secret, args...); code != 0 {
				t.Fatalf("source add: %d %s %s", code, out, errOut)
			}
			out, errOut, code := runCLI(t, db, "", "source", "test", c.name)
			all := out + errOut
			if c.name == "ok" {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, all)
				}
			} else if code != ExitSource {
				t.Fatalf("exit %d, want %d: %s", code, ExitSource, all)
			}
			for _, w := range c.want {
				if !strings.Contains(strings.ToLower(all), strings.ToLower(w)) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			if strings.Contains(all, c.secret) {
				t.Errorf("output shows the secret")
			}
			seen[c.name] = errOut
		})
	}
	// Each failure has its own message.
	msgs := map[string]string{}
	for name, msg := range seen {
		if other, dup := msgs[msg]; dup && name != "ok" {
			t.Errorf("%s and %s print the same message: %s", name, other, msg)
		}
		msgs[msg] = name
	}
}

func TestSecretsNeverFromArgv(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db.sqlite")
	_, errOut, code := runCLI(t, db, "", "source", "add", "entra", "--name", "x", "--tenant", "t", "--client-id", "c", "--client-secret", "hunter2")
	if code != ExitUsage || !strings.Contains(errOut, "--client-secret-file") || strings.Contains(errOut, "hunter2") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, errOut, code = runCLI(t, db, "", "source", "add", "entra", "--name", "x", "--tenant", "t", "--client-id", "c")
	if code != ExitUsage || !strings.Contains(errOut, "client secret is required") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestProgressOffATerminal: a long run off a terminal logs a progress line
// every ten seconds (of the injected clock), and a quick one none.
func TestProgressOffATerminal(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	var stderr bytes.Buffer
	a := &app{opts: Options{Clock: clk}, stderr: &stderr}
	quick := a.progress("s", true)
	quick(directory.RunProgress{Phase: "read", Users: 10})
	quick(directory.RunProgress{Phase: "apply", Users: 10})
	if stderr.Len() != 0 {
		t.Fatalf("a quick run printed %q", stderr.String())
	}
	long := a.progress("s", true)
	for i := 1; i <= 30; i++ {
		clk.Advance(time.Second)
		long(directory.RunProgress{Phase: "read", Users: 1000 * i})
	}
	long(directory.RunProgress{Phase: "apply", Users: 30000})
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "Reading s: 10000 users") || !strings.Contains(lines[3], "Applying s: 30000 users") {
		t.Fatalf("progress lines:\n%s", stderr.String())
	}
}
