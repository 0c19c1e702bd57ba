package main

// Regression tests of issue 9's command-line defects, run against the built
// binary as a user would (DIRSYNC_TEST_BINARY runs them against an older
// build, where they fail).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/store/sqlstore"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
)

// addSource adds an emulated tenant (small) as source name and returns the
// secret file's path.
func (e *cliEnv) addSource(name string, extra ...string) string {
	e.t.Helper()
	creds, ca := e.startEmulator(20, 3, 5)
	secretFile := filepath.Join(e.dir, "secret.txt")
	if err := os.WriteFile(secretFile, []byte(creds.ClientSecret+"\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.ok(append([]string{"source", "add", "entra", "--name", name, "--tenant", creds.TenantID, "--client-id", creds.ClientID,
		"--client-secret-file", secretFile, "--cloud", "custom", "--authority-url", creds.AuthorityURL,
		"--graph-url", creds.GraphURL, "--ca-file", ca}, extra...)...)
	return secretFile
}

// runDB runs dirsync on another database.
func (e *cliEnv) runDB(db string, args ...string) (string, string, int) {
	saved := e.db
	e.db = db
	defer func() { e.db = saved }()
	return e.run(args...)
}

// TestReadOnMissingDatabaseCreatesNothing: a read command on a database
// that does not exist says so, exits 2, and creates no directory, database
// or key (issue 9, point 10).
func TestReadOnMissingDatabaseCreatesNothing(t *testing.T) {
	e := newEnv(t)
	db := filepath.Join(e.dir, "nonexistent", "dir", "x.db")
	for _, args := range [][]string{{"users", "list"}, {"runs", "list"}, {"source", "list"}, {"groups", "list"}, {"trash", "list"}} {
		out, errOut, code := e.runDB(db, args...)
		if code != 2 || !strings.Contains(errOut, "no database at "+db) {
			t.Errorf("%v on a missing database: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "nonexistent")); !os.IsNotExist(err) {
		t.Fatalf("a read command created %s (%v)", filepath.Join(e.dir, "nonexistent"), err)
	}
}

// TestDatabaseAndKeyArePrivate: a new database, its key and their
// directory are readable by their owner only (issue 9, point 10).
func TestDatabaseAndKeyArePrivate(t *testing.T) {
	e := newEnv(t)
	e.db = filepath.Join(e.dir, "new", "dirsync.db")
	e.addSource("s")
	e.ok("sync", "s")
	dirInfo, err := os.Stat(filepath.Dir(e.db))
	if err != nil {
		t.Fatal(err)
	}
	if dirInfo.Mode().Perm() != 0o700 {
		t.Errorf("database directory mode %v, want 0700", dirInfo.Mode().Perm())
	}
	n := 0
	filepath.WalkDir(filepath.Dir(e.db), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		if fi, _ := d.Info(); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", d.Name(), fi.Mode().Perm())
		}
		return nil
	})
	if n < 2 {
		t.Fatalf("%d files: want the database and its key at least", n)
	}
}

// TestMissingOrWrongKeyIsAnError: a database that holds sealed secrets
// with its key file gone is an error naming the way back, and no new key
// is made; a key that does not open the secrets is refused at once
// (issue 9, point 10; issue 10, point 9).
func TestMissingOrWrongKeyIsAnError(t *testing.T) {
	e := newEnv(t)
	e.addSource("s")
	keyFile := strings.TrimSuffix(e.db, ".db") + ".key"
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(keyFile)
	for _, args := range [][]string{{"users", "list"}, {"sync", "s"}} {
		out, errOut, code := e.run(args...)
		if code == 0 || !strings.Contains(errOut, keyFile) || !strings.Contains(errOut, "DIRSYNC_MASTER_KEY") || !strings.Contains(errOut, "restore") {
			t.Errorf("%v without the key file: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Fatal("a new key file was made for a database whose secrets need the old one")
	}
	// Another key: refused, naming what to do.
	os.WriteFile(keyFile, []byte("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"), 0o600)
	if out, errOut, code := e.run("source", "list"); code == 0 || !strings.Contains(errOut, "does not open the secrets") {
		t.Errorf("a wrong key: exit %d\n%s%s", code, out, errOut)
	}
	// The right key again: all is well.
	os.WriteFile(keyFile, key, 0o600)
	e.ok("sync", "s")
}

// TestPostgresURLEveryCommand: --db postgres://... opens PostgreSQL in every
// command and in serve; no SQLite file named after the URL appears (issue
// 9, point 10).
func TestPostgresURLEveryCommand(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	e := newEnv(t)
	e.db = dsn
	e.env = append(e.env, "DIRSYNC_KEY_FILE="+filepath.Join(e.dir, "pg.key"))
	cwd, _ := os.Getwd()
	e.addSource("pg")
	e.ok("sync", "pg")
	var users []jsonUser
	e.jsonOut(&users, "users", "list")
	if len(users) != 20 {
		t.Fatalf("%d users through PostgreSQL, want 20", len(users))
	}
	// The rows are in PostgreSQL.
	st, err := sqlstore.OpenPostgres(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	accs, _ := st.Accounts(t.Context())
	if len(accs) != 1 {
		t.Fatalf("%d accounts in PostgreSQL", len(accs))
	}
	if srcs, _ := st.Sources(t.Context(), accs[0].ID); len(srcs) != 1 || srcs[0].Name != "pg" {
		t.Fatalf("sources in PostgreSQL: %+v", srcs)
	}
	for _, dir := range []string{cwd, e.dir} {
		entries, _ := os.ReadDir(dir)
		for _, ent := range entries {
			if strings.HasPrefix(ent.Name(), "postgres") {
				t.Errorf("a file %s appeared in %s", ent.Name(), dir)
			}
		}
	}
	// serve on the same database answers from it.
	ctx, cancel := context.WithCancel(t.Context())
	cmd := exec.CommandContext(ctx, binary, "--db", dsn, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = e.env
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v", err)
	}
	url := strings.TrimSpace(line[strings.Index(line, "http://"):])
	var tok struct{ Token string }
	e.jsonOut(&tok, "token", "create", "--role", "read_only")
	req, _ := http.NewRequest("GET", url+"/api/v1/users?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Users []jsonUser }
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(page.Users) != 20 {
		t.Fatalf("serve on PostgreSQL: %d, %d users", resp.StatusCode, len(page.Users))
	}
}

// TestExitCodes: usage errors are 2 whether cobra or dirsync finds them;
// what breaks a rule is 6 (issue 9, point 11).
func TestExitCodes(t *testing.T) {
	e := newEnv(t)
	e.addSource("s")
	e.ok("sync", "s")
	var users []jsonUser
	e.jsonOut(&users, "users", "list")
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"sync"}, 2, "arg"},                                                        // wrong argument count
		{[]string{"users", "show", "a", "b"}, 2, "arg"},                                     // too many
		{[]string{"frobnicate"}, 2, "unknown command"},                                      // unknown command
		{[]string{"token", "create"}, 2, "role"},                                            // missing required flag
		{[]string{"users", "list", "--bogus"}, 2, "unknown flag"},                           // unknown flag
		{[]string{"users", "set", users[0].Username, "--enable", "--disable"}, 2, "enable"}, // contradictory flags
		{[]string{"users", "list", "--state", "bogus"}, 2, `state "bogus" is unknown`},
		{[]string{"sync", "nosuch"}, 2, `no source "nosuch"`},
		{[]string{"users", "set", users[0].Username, "--email", "x@y.example"}, 6, "managed by source s"},
		{[]string{"trash", "restore", users[0].Username}, 6, "not in the trash"},
	} {
		out, errOut, code := e.run(c.args...)
		if code != c.code || !strings.Contains(strings.ToLower(errOut), strings.ToLower(c.says)) {
			t.Errorf("dirsync %s: exit %d, want %d saying %q\n%s%s", strings.Join(c.args, " "), code, c.code, c.says, out, errOut)
		}
	}
}

// TestUserEditsAndTrashDetails walks issue 9's smaller defects (point 14):
// a tag given twice is kept once, an edit with nothing to change is refused,
// notes show, the trash takes names, and ages in days.
func TestUserEditsAndTrashDetails(t *testing.T) {
	e := newEnv(t)
	e.addSource("s")
	e.ok("sync", "s")
	var users []jsonUser
	e.jsonOut(&users, "users", "list")
	name := users[0].Username
	e.ok("users", "set", name, "--tag", "vip")
	e.ok("users", "set", name, "--tag", "vip", "--notes", "call before noon")
	var u struct {
		Tags  []string `json:"tags"`
		Notes string   `json:"notes"`
	}
	e.jsonOut(&u, "users", "show", name)
	if len(u.Tags) != 1 || u.Tags[0] != "vip" {
		t.Errorf("tags after --tag vip twice: %q", u.Tags)
	}
	if out := e.ok("users", "show", name); !strings.Contains(out, "call before noon") {
		t.Errorf("users show hides the notes:\n%s", out)
	}
	if _, errOut, code := e.run("users", "set", name); code != 2 || !strings.Contains(errOut, "nothing to change") {
		t.Errorf("users set with no flag: exit %d %s", code, errOut)
	}
	if out := e.ok("source", "show", "s"); strings.Contains(out, "map[") {
		t.Errorf("source show prints a Go map:\n%s", out)
	}
	// Out of scope: to the trash. Restored by username, once its source
	// no longer manages it.
	e.ok("source", "set", "s", "--rule", "exclude username="+name)
	e.ok("sync", "s")
	if _, errOut, code := e.run("trash", "restore", name); code != 6 || !strings.Contains(errOut, "managed by source s") {
		t.Errorf("restore of a user its source still manages: exit %d %s", code, errOut)
	}
	e.ok("source", "remove", "s")
	if out := e.ok("trash", "restore", name); !strings.Contains(out, "Restored user "+name) {
		t.Errorf("restore by username: %s", out)
	}
	if out := e.ok("trash", "purge", "--expired", "--older-than", "3d"); !strings.Contains(out, "Purged 0") {
		t.Errorf("purge older than 3 days: %s", out)
	}
}

// TestSecretInputMessages: a secret given on the command line is refused
// with the way to give it; a date that does not exist, or has passed, is
// named (issue 9, point 14).
func TestSecretInputMessages(t *testing.T) {
	e := newEnv(t)
	base := []string{"source", "add", "entra", "--name", "x", "--tenant", "contoso.onmicrosoft.com",
		"--client-id", "00000000-0000-0000-0000-000000000000"}
	secretFile := filepath.Join(e.dir, "secret.txt")
	os.WriteFile(secretFile, []byte("value\n"), 0o600)
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--client-secret", "hunter2"}, "--client-secret-file"},
		{[]string{"--client-secret-file", secretFile, "--secret-expires", "2027-06-31"}, "2027-06-31 is not a date (June has 30 days)"},
		{[]string{"--client-secret-file", secretFile, "--secret-expires", "2020-01-31"}, "2020-01-31 is in the past"},
	} {
		out, errOut, code := e.run(append(base, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.says) || strings.Contains(out+errOut, "hunter2") {
			t.Errorf("%v: exit %d\n%s%s", c.args, code, out, errOut)
		}
	}
}

// TestRunFailureSaidOnce: a failed run's reason is printed once, not again
// as a chain of errors under it (issue 9, point 14).
func TestRunFailureSaidOnce(t *testing.T) {
	e := newEnv(t)
	e.addSource("s")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "https://" + ln.Addr().String()
	ln.Close()
	secretFile := filepath.Join(e.dir, "secret.txt")
	e.ok("source", "add", "entra", "--name", "dead", "--tenant", "dead.example", "--client-id", "00000000-0000-0000-0000-000000000001",
		"--client-secret-file", secretFile, "--cloud", "custom", "--authority-url", dead, "--graph-url", dead)
	out, errOut, code := e.run("sync", "dead")
	all := out + errOut
	if code != 3 || strings.Count(all, "refused the connection") != 1 || strings.Contains(all, "dial tcp") {
		t.Fatalf("exit %d; the reason should show once:\n%s", code, all)
	}
}

// TestSecondDemoChangesNothing: a demo started while another holds its
// address says so at once and changes nothing (issue 9, point 12).
func TestSecondDemoChangesNothing(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	first := exec.CommandContext(ctx, binary, "--db", e.db, "demo", "--users", "20", "--groups", "2", "--listen", addr)
	first.Env = e.env
	stdout, _ := first.StdoutPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); first.Wait() }()
	// A first demo that never says it serves is stopped, which ends the
	// read below, rather than holding the test until its timeout.
	stop := time.AfterFunc(2*time.Minute, cancel)
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the first demo stopped: %v", err)
		}
		if strings.Contains(line, "dirsync is serving") {
			break
		}
	}
	stop.Stop()
	before := e.ok("source", "show", "demo-entra", "--json")
	start := time.Now()
	out, errOut, code := e.run("demo", "--users", "20", "--groups", "2", "--listen", addr)
	if code == 0 || !strings.Contains(errOut, addr) || !strings.Contains(errOut, "in use") {
		t.Fatalf("second demo: exit %d\n%s%s", code, out, errOut)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the second demo took %s to refuse", took)
	}
	if after := e.ok("source", "show", "demo-entra", "--json"); after != before {
		t.Fatalf("the second demo changed the first's source:\n%s\n%s", before, after)
	}
}

// TestVersion: "dirsync version" and "dirsync --version" say the same: the
// module version and the revision it was built from.
func TestVersion(t *testing.T) {
	e := newEnv(t)
	a := e.ok("version")
	b := e.ok("--version")
	if a != b || !strings.HasPrefix(a, "dirsync ") || !strings.Contains(a, "go1.") {
		t.Fatalf("version %q, --version %q", a, b)
	}
	// Go stamps the revision of a clone (not of a git worktree, whose .git
	// is a file).
	if fi, err := os.Stat("../../.git"); err != nil || !fi.IsDir() || os.Getenv("DIRSYNC_TEST_BINARY") != "" {
		return
	}
	if rev, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		if short := strings.TrimSpace(string(rev))[:12]; !strings.Contains(a, short) {
			t.Errorf("version %q lacks the revision %s", a, short)
		}
	}
}

// TestWebhooksAndEventsCommands: what only the API could do, the command
// line does too: subscribe a receiver, test it, read the delivery log,
// change and remove the subscription; read the change feed.
func TestWebhooksAndEventsCommands(t *testing.T) {
	e := newEnv(t)
	e.env = append(e.env, "DIRSYNC_WEBHOOK_ALLOW=127.0.0.1")
	got := make(chan http.Header, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	e.addSource("s")
	e.ok("sync", "s")
	var hook struct {
		ID     string `json:"id"`
		Secret string `json:"Secret"`
	}
	e.jsonOut(&hook, "webhooks", "add", recv.URL+"/hook", "--event-type", "user.created")
	if hook.ID == "" || !strings.HasPrefix(hook.Secret, "whsec_") {
		t.Fatalf("webhooks add: %+v", hook)
	}
	if out := e.ok("webhooks", "list"); !strings.Contains(out, hook.ID) || !strings.Contains(out, "user.created") {
		t.Fatalf("webhooks list:\n%s", out)
	}
	if out := e.ok("webhooks", "test", hook.ID); !strings.Contains(out, "accepted the test event") {
		t.Fatalf("webhooks test: %s", out)
	}
	if h := <-got; h.Get("webhook-signature") == "" || h.Get("webhook-id") == "" {
		t.Fatalf("the test delivery is not signed: %v", h)
	}
	if out := e.ok("webhooks", "deliveries", hook.ID); !strings.Contains(out, "webhook.test") || !strings.Contains(out, "succeeded") {
		t.Fatalf("webhooks deliveries:\n%s", out)
	}
	e.ok("webhooks", "set", hook.ID, "--disable")
	if out := e.ok("webhooks", "show", hook.ID); !strings.Contains(out, "disabled") || strings.Contains(out, hook.Secret) {
		t.Fatalf("webhooks show:\n%s", out)
	}
	if _, errOut, code := e.run("webhooks", "add", "http://10.0.0.1/hook"); code != 2 || !strings.Contains(errOut, "url") {
		t.Fatalf("a private target: exit %d %s", code, errOut)
	}
	e.ok("webhooks", "remove", hook.ID)
	if _, _, code := e.run("webhooks", "show", hook.ID); code != 2 {
		t.Fatalf("a removed webhook: exit %d", code)
	}
	var events []struct {
		Seq  int64  `json:"seq"`
		Type string `json:"type"`
	}
	e.jsonOut(&events, "events", "list", "--limit", "1000")
	if len(events) < 20 || events[len(events)-1].Type != "sync.completed" {
		t.Fatalf("events list: %d events", len(events))
	}
	if out := e.ok("events", "list", "--after", fmt.Sprint(events[len(events)-2].Seq)); !strings.Contains(out, "sync.completed") || strings.Contains(out, "user.created") {
		t.Fatalf("events after a seq:\n%s", out)
	}
}
