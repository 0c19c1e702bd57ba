package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu"
)

// binary is dirsync built once for the tests that run it as a process.
var binary string

// TestMain builds dirsync once; DIRSYNC_TEST_BINARY runs the tests against
// another build instead (to see a regression test fail on an older one).
func TestMain(m *testing.M) {
	if b := os.Getenv("DIRSYNC_TEST_BINARY"); b != "" {
		binary = b
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "dirsync-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "dirsync")
	// -buildvcs=auto: the revision is stamped where git can give it, even
	// when GOFLAGS turns stamping off.
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build dirsync: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type cliEnv struct {
	t   *testing.T
	dir string
	db  string
	env []string
}

func newEnv(t *testing.T) *cliEnv {
	dir := t.TempDir()
	return &cliEnv{t: t, dir: dir, db: filepath.Join(dir, "dirsync.db"),
		env: append(os.Environ(), "DIRSYNC_MASTER_KEY=", "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"))}
}

// run runs dirsync with args and returns stdout, stderr and the exit code.
func (e *cliEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(binary, append([]string{"--db", e.db}, args...)...)
	cmd.Env = e.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("dirsync %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (e *cliEnv) jsonOut(v any, args ...string) {
	e.t.Helper()
	out := e.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("dirsync %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type jsonUser struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	Name     string `json:"display_name"`
	Enabled  bool   `json:"enabled"`
	State    string `json:"state"`
	Sources  []struct {
		Source     string `json:"source"`
		ExternalID string `json:"external_id"`
	} `json:"sources"`
}

type jsonGroup struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Sources []struct {
		Source     string `json:"source"`
		ExternalID string `json:"external_id"`
	} `json:"sources"`
}

type jsonMember struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// startEmulator runs "dirsync emulate entra" as its own process.
func (e *cliEnv) startEmulator(users, groups int, seed int64) (entraemu.Credentials, string) {
	e.t.Helper()
	ca, creds := filepath.Join(e.dir, "ca.pem"), filepath.Join(e.dir, "creds.json")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, "emulate", "entra", "--listen", "127.0.0.1:0",
		"--users", fmt.Sprint(users), "--groups", fmt.Sprint(groups), "--seed", fmt.Sprint(seed),
		"--ca-out", ca, "--credentials-out", creds)
	cmd.Env = e.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cancel(); cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		data, err := os.ReadFile(creds)
		if err == nil && len(data) > 0 {
			var c entraemu.Credentials
			if json.Unmarshal(data, &c) == nil && c.ClientSecret != "" {
				return c, ca
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("emulator did not write its credentials:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCLIFlowAgainstEmulatorProcess walks the documented flow against an
// emulated tenant in another process, and checks the directory equals the
// tenant: every user, group, direct and effective membership.
func TestCLIFlowAgainstEmulatorProcess(t *testing.T) {
	e := newEnv(t)
	const users, groups, seed = 600, 40, 7
	creds, ca := e.startEmulator(users, groups, seed)
	secretFile := filepath.Join(e.dir, "secret.txt")
	if err := os.WriteFile(secretFile, []byte(creds.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("source", "add", "entra", "--name", "contoso", "--tenant", creds.Domain, "--client-id", creds.ClientID,
		"--client-secret-file", secretFile, "--cloud", "custom", "--authority-url", creds.AuthorityURL,
		"--graph-url", creds.GraphURL, "--ca-file", ca, "--secret-expires", "2027-01-31")
	if out := e.ok("source", "test", "contoso"); !strings.Contains(out, "ready to sync") {
		t.Fatalf("source test: %s", out)
	}
	for _, args := range [][]string{{"source", "show", "contoso"}, {"source", "show", "contoso", "--json"}, {"source", "list", "--json"}} {
		if out := e.ok(args...); strings.Contains(out, creds.ClientSecret) {
			t.Fatalf("%v printed the client secret", args)
		}
	}
	if data, _ := os.ReadFile(e.db); bytes.Contains(data, []byte(creds.ClientSecret)) {
		t.Fatal("the database holds the client secret in the clear")
	}

	out := e.ok("sync", "contoso")
	if !strings.Contains(out, "succeeded") {
		t.Fatalf("sync: %s", out)
	}

	// The truth: the same seed generates the same tenant.
	truth, err := entraemu.New(entraemu.Options{Users: users, Groups: groups, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	checkDirectoryMatchesTenant(t, e, truth)

	// A second sync changes nothing.
	var run struct {
		Counts map[string]int `json:"counts"`
	}
	e.jsonOut(&run, "sync", "contoso")
	for k, v := range run.Counts {
		if k != "unchanged" && v != 0 {
			t.Errorf("second sync: %s = %d", k, v)
		}
	}
	var runs []struct {
		ID      string `json:"id"`
		Outcome string `json:"outcome"`
	}
	e.jsonOut(&runs, "runs", "list", "contoso")
	if len(runs) != 2 || runs[0].Outcome != "succeeded" {
		t.Fatalf("runs list: %+v", runs)
	}
	if out := e.ok("runs", "show", runs[1].ID, "--changes"); !strings.Contains(out, "created") {
		t.Fatalf("runs show: %s", out)
	}
}

func checkDirectoryMatchesTenant(t *testing.T, e *cliEnv, truth *entraemu.Tenant) {
	t.Helper()
	var users []jsonUser
	e.jsonOut(&users, "users", "list")
	byExt := map[string]jsonUser{}
	for _, u := range users {
		if len(u.Sources) != 1 || u.Sources[0].Source != "contoso" {
			t.Fatalf("user %s sources %+v", u.Username, u.Sources)
		}
		byExt[u.Sources[0].ExternalID] = u
	}
	tusers := truth.Users()
	if len(users) != len(tusers) {
		t.Fatalf("directory has %d users, tenant %d", len(users), len(tusers))
	}
	var guests, noMail, disabled int
	for _, tu := range tusers {
		u, ok := byExt[tu.ID]
		if !ok {
			t.Fatalf("tenant user %s (%s) missing", tu.UserPrincipalName, tu.ID)
		}
		if u.Username != tu.UserPrincipalName || u.Email != tu.Mail || u.Name != tu.DisplayName || u.Enabled != tu.AccountEnabled {
			t.Errorf("user %s: directory %+v, tenant %+v", tu.ID, u, tu)
		}
		if strings.Contains(tu.UserPrincipalName, "#EXT#") {
			guests++
		}
		if tu.Mail == "" {
			noMail++
		}
		if !tu.AccountEnabled {
			disabled++
			if u.State != "disabled" {
				t.Errorf("disabled user %s is %s", u.Username, u.State)
			}
		}
	}
	if guests == 0 || noMail == 0 || disabled == 0 {
		t.Fatalf("the generated tenant lacks guests (%d), users without mail (%d) or disabled users (%d)", guests, noMail, disabled)
	}

	var groups []jsonGroup
	e.jsonOut(&groups, "groups", "list")
	tgroups := truth.Groups()
	if len(groups) != len(tgroups) {
		t.Fatalf("directory has %d groups, tenant %d", len(groups), len(tgroups))
	}
	groupByExt := map[string]jsonGroup{}
	for _, g := range groups {
		groupByExt[g.Sources[0].ExternalID] = g
	}
	// Directory ids of tenant objects, to compare member lists.
	dirID := map[string]string{}
	for ext, u := range byExt {
		dirID[ext] = u.ID
	}
	for ext, g := range groupByExt {
		dirID[ext] = g.ID
	}
	nested := 0
	for _, tg := range tgroups {
		g, ok := groupByExt[tg.ID]
		if !ok || g.Name != tg.DisplayName {
			t.Fatalf("tenant group %s (%s) missing or misnamed: %+v", tg.DisplayName, tg.ID, g)
		}
		var want []string
		for _, m := range truth.DirectMembers(tg.ID) {
			if id, ok := dirID[m.ID]; ok {
				want = append(want, id)
			}
		}
		var direct []jsonMember
		e.jsonOut(&direct, "groups", "members", g.ID, "--direct")
		got := memberIDs(direct)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("group %s direct members: directory %d, tenant %d", tg.DisplayName, len(got), len(want))
		}
		for _, m := range direct {
			if m.Kind == "group" {
				nested++
			}
		}
		var eff []jsonMember
		e.jsonOut(&eff, "groups", "members", g.Name, "--json")
		wantEff := transitive(truth, tg.ID, dirID)
		if got := memberIDs(eff); !slices.Equal(got, wantEff) {
			t.Errorf("group %s effective members: directory %d, tenant %d", tg.DisplayName, len(got), len(wantEff))
		}
	}
	if nested == 0 {
		t.Fatal("the generated tenant has no nested groups")
	}
}

func memberIDs(ms []jsonMember) []string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	return ids
}

// transitive walks the tenant's nesting independently of dirsync's store.
func transitive(truth *entraemu.Tenant, groupID string, dirID map[string]string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(g string) {
		for _, m := range truth.DirectMembers(g) {
			if _, known := dirID[m.ID]; !known || seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			walk(m.ID)
		}
	}
	walk(groupID)
	var ids []string
	for ext := range seen {
		ids = append(ids, dirID[ext])
	}
	sort.Strings(ids)
	return ids
}

// TestDemoOnce runs the README's first command as a newcomer would, on an
// empty data directory, and checks the summary's counts against the tenant.
func TestDemoOnce(t *testing.T) {
	e := newEnv(t)
	cmd := exec.Command(binary, "demo", "--once", "--users", "200", "--groups", "10")
	cmd.Env = append(e.env, "DIRSYNC_DB=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo --once: %v\n%s", err, out)
	}
	for _, want := range []string{"Read:       200 users, 10 groups", "Created:    210", "Conflicts:  0", "succeeded"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "data", "dirsync", "dirsync.db")); err != nil {
		t.Errorf("demo did not use the default database in the data directory: %v", err)
	}
	// Again: the same tenant, nothing to change.
	cmd = exec.Command(binary, "demo", "--once", "--users", "200", "--groups", "10")
	cmd.Env = append(e.env, "DIRSYNC_DB=")
	if out, err = cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Unchanged:  210") {
		t.Fatalf("second demo: %v\n%s", err, out)
	}
}

// TestBenchSmall runs the benchmark command at a small size: a full sync
// of an emulator in a child process, then an incremental one after churn.
func TestBenchSmall(t *testing.T) {
	e := newEnv(t)
	cmd := exec.Command(binary, "bench", "--users", "300", "--groups", "15", "--json")
	cmd.Env = e.env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var res struct {
		Requests int `json:"graph_requests"`
		Counts   struct {
			Created int `json:"created"`
		} `json:"counts"`
		Delta struct {
			Kind   string `json:"kind"`
			Counts struct {
				Updated int `json:"updated"`
			} `json:"counts"`
		} `json:"delta"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Counts.Created != 315 || res.Requests == 0 || res.Delta.Kind != "delta" || res.Delta.Counts.Updated != 3 {
		t.Fatalf("bench result %+v", res)
	}
}
