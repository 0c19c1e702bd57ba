package cli

// The README's "Use it" section, run as written: its commands are read from
// README.md (so that the README cannot drift from what dirsync does) and run
// in order against an emulated tenant, then the Active Directory line
// against a Samba domain controller. The only changes made to a line are
// the substitutions below: where the README names a tenant, a person, a
// group or a run of the reader's, the test gives the emulated tenant's, and
// the Entra source is pointed at the emulator (custom cloud, its CA).

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/sambatest"
	"github.com/dirsync/dirsync/internal/scope"
)

// readmeCommand is one command of the README: its words, and the exit code
// its comment announces ("(exit 4)"), 0 otherwise.
type readmeCommand struct {
	line  string
	words []string
	exit  int
}

// readmeUseIt reads the commands of the README's "Use it" section.
func readmeUseIt(t *testing.T) []readmeCommand {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "## Use it")
	if start < 0 {
		t.Fatal(`README.md has no "## Use it" section`)
	}
	text = text[start:]
	if end := strings.Index(text[1:], "\n## "); end >= 0 {
		text = text[:end+1]
	}
	var cmds []readmeCommand
	var pending string
	for _, raw := range strings.Split(text, "\n") {
		if !strings.HasPrefix(raw, "    ") {
			continue // prose, or the end of the block
		}
		line := strings.TrimSpace(raw)
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, pending = pending+line, ""
		if !strings.HasPrefix(line, "dirsync ") {
			continue
		}
		words, comment := shellWords(t, line)
		c := readmeCommand{line: line, words: words[1:]}
		if m := regexp.MustCompile(`\(exit (\d)\)`).FindStringSubmatch(comment); m != nil {
			c.exit = int(m[1][0] - '0')
		}
		cmds = append(cmds, c)
	}
	if len(cmds) < 20 {
		t.Fatalf("found %d commands in the README's Use it section", len(cmds))
	}
	return cmds
}

// shellWords splits a command line as a shell would (quotes, blanks) and
// returns the comment after an unquoted #.
func shellWords(t *testing.T, line string) ([]string, string) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	for i, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == '#' && !inWord:
			return words, line[i:]
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in README line %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, ""
}

// substitute replaces the README's example values with the test's.
func substitute(words []string, values map[string]string) []string {
	out := slices.Clone(words)
	for i, w := range out {
		if v, ok := values[w]; ok {
			out[i] = v
		}
	}
	return out
}

// readmeRun runs one command in-process and returns its output and code.
func readmeRun(ctx context.Context, args []string, opts Options) (string, int) {
	var stdout, stderr bytes.Buffer
	code := Run(ctx, args, strings.NewReader(""), &stdout, &stderr, opts)
	return stdout.String() + stderr.String(), code
}

// TestREADMEUseIt runs the README's commands against an emulated tenant,
// and ends with "dirsync serve" syncing the source on its schedule: serve
// runs on a fake clock, moved a day on, in seconds.
func TestREADMEUseIt(t *testing.T) {
	cmds := readmeUseIt(t)
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	t.Setenv("DIRSYNC_ACCOUNT", "")
	t.Setenv("DIRSYNC_DB", filepath.Join(dir, "dirsync.db"))
	tenant, err := entraemu.New(entraemu.Options{Users: 120, Groups: 12, Seed: 41})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	creds := srv.Credentials()
	os.WriteFile("secret.txt", []byte(creds.ClientSecret+"\n"), 0o600)
	os.WriteFile("ca.pem", srv.CAPEM(), 0o600)

	// The group of the group filter: a small one, so that selecting it
	// retires more than the deletion limit lets a run do unconfirmed.
	group, groupName, alice := smallGroup(t, tenant)
	values := map[string]string{
		"contoso.onmicrosoft.com":              creds.TenantID,
		"00000000-0000-0000-0000-000000000000": creds.ClientID,
		"alice@contoso.com":                    alice,
		"alice":                                scope.NormalizeUsername(alice),
		"Sales":                                groupName,
		"GROUP_ID":                             group,
		"127.0.0.1:8080":                       "127.0.0.1:0",
	}
	ran := 0
	for _, c := range cmds {
		args := substitute(c.words, values)
		switch {
		case slices.Contains(args, "ldap"):
			continue // TestREADMELDAPLine, against Samba
		case args[0] == "source" && args[1] == "add":
			args = append(args, "--cloud", "custom", "--authority-url", creds.AuthorityURL, "--graph-url", creds.GraphURL, "--ca-file", "ca.pem")
		case args[0] == "events":
			readmeFollow(t, args)
			ran++
			continue
		case args[0] == "serve":
			readmeServe(t, args)
			ran++
			continue
		}
		if slices.Contains(args, "RUN") {
			args = substitute(args, map[string]string{"RUN": lastRun(t)})
		}
		out, code := readmeRun(t.Context(), args, Options{})
		if code != c.exit {
			t.Fatalf("README line %q: exit %d, want %d\n%s", c.line, code, c.exit, out)
		}
		ran++
	}
	t.Logf("ran %d README commands", ran)
}

// smallGroup is the tenant's smallest group with users, and one of them.
func smallGroup(t *testing.T, tenant *entraemu.Tenant) (id, name, upn string) {
	best := 0
	for _, g := range tenant.Groups() {
		var users []string
		for _, m := range tenant.TransitiveMembers(g.ID) {
			if u, ok := tenant.User(m.ID); ok && u.UserPrincipalName != "" {
				users = append(users, u.UserPrincipalName)
			}
		}
		if len(users) > 0 && (best == 0 || len(users) < best) {
			best, id, name, upn = len(users), g.ID, g.DisplayName, users[0]
		}
	}
	if id == "" {
		t.Fatal("no group with users")
	}
	return id, name, upn
}

// lastRun is the newest run's id.
func lastRun(t *testing.T) string {
	out, code := readmeRun(t.Context(), []string{"runs", "list", "--json", "--limit", "1"}, Options{})
	var runs []directory.Run
	if code != 0 || json.Unmarshal([]byte(out), &runs) != nil || len(runs) == 0 {
		t.Fatalf("runs list: %d %s", code, out)
	}
	return runs[0].ID
}

// readmeFollow runs "events list --follow" until it has printed the feed,
// then interrupts it, as Ctrl-C would.
func readmeFollow(t *testing.T, args []string) {
	ctx, cancel := context.WithCancel(t.Context())
	var stdout syncWriter
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, args, strings.NewReader(""), &stdout, &stdout, Options{})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "sync.completed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 || !strings.Contains(stdout.String(), "user.created") {
		t.Fatalf("events list --follow: exit %d\n%s", code, stdout.String())
	}
}

// readmeServe runs "dirsync serve" on a fake clock starting now, moves the
// clock on a day, a quarter hour at a time, and waits for the run the
// source's schedule makes.
func readmeServe(t *testing.T, args []string) {
	before := lastRun(t)
	clk := clock.NewFake(time.Now())
	ctx, cancel := context.WithCancel(t.Context())
	var out syncWriter
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, strings.NewReader(""), &out, &out, Options{Clock: clk}) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve: exit %d\n%s", code, out.String())
		}
	}()
	for !strings.Contains(out.String(), "serving on") {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d\n%s", code, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	// The source's next run, by its schedule: move the clock just past it.
	show, _ := readmeRun(t.Context(), []string{"source", "show", "contoso", "--json"}, Options{})
	var src struct {
		NextRuns []time.Time `json:"next_runs"`
	}
	if json.Unmarshal([]byte(show), &src); len(src.NextRuns) == 0 || src.NextRuns[0].Sub(clk.Now()) > 25*time.Hour {
		t.Fatalf("next runs %v: want one within a day", src.NextRuns)
	}
	clk.Advance(src.NextRuns[0].Sub(clk.Now()) + time.Minute)
	var scheduled directory.Run
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if id := lastRun(t); id != before {
			if scheduled = readRun(t, id); scheduled.Outcome != directory.OutcomeQueued && scheduled.Outcome != directory.OutcomeRunning {
				break
			}
		}
	}
	if scheduled.Trigger != "schedule" || scheduled.Outcome != directory.OutcomeSucceeded {
		t.Fatalf("serve did not sync on the schedule: %+v\n%s", scheduled, out.String())
	}
}

func readRun(t *testing.T, id string) directory.Run {
	out, code := readmeRun(t.Context(), []string{"runs", "show", id, "--json"}, Options{})
	var run directory.Run
	if code != 0 || json.Unmarshal([]byte(out), &run) != nil {
		t.Fatalf("runs show %s: %d %s", id, code, out)
	}
	return run
}

// syncWriter is a buffer safe for a command's goroutine and the test.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestREADMELDAPLine runs the README's Active Directory line, as written
// but for the server's address and its CA, against a Samba DC: the OU
// given as one DN, commas and all, selects the users under it (issue 9,
// point 7).
func TestREADMELDAPLine(t *testing.T) {
	cmds := readmeUseIt(t)
	dc := sambatest.Start(t)
	a := dc.Admin(t)
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	t.Setenv("DIRSYNC_ACCOUNT", "")
	t.Setenv("DIRSYNC_DB", filepath.Join(dir, "dirsync.db"))
	password := "Svc!" + randomHex(t) + "aA9"
	os.WriteFile("pw.txt", []byte(password+"\n"), 0o600)
	svc := a.AddUser("CN=Users,"+dc.BaseDN, sambatest.User{SAMAccountName: "svc-dirsync", UPN: "svc-dirsync@corp.example.com", Password: password})
	a.AddMembers("CN=Domain Admins,CN=Users,"+dc.BaseDN, svc)
	staff := a.AddOU(dc.BaseDN, "Staff")
	outside := a.AddOU(dc.BaseDN, "Contractors")
	a.AddUser(staff, sambatest.User{SAMAccountName: "r-ann", UPN: "r-ann@corp.example.com"})
	a.AddUser(staff, sambatest.User{SAMAccountName: "r-ben", UPN: "r-ben@corp.local"})
	a.AddUser(outside, sambatest.User{SAMAccountName: "r-cyd", UPN: "r-cyd@corp.example.com"})

	var line readmeCommand
	for _, c := range cmds {
		if slices.Contains(c.words, "ldap") {
			line = c
		}
	}
	if line.line == "" {
		t.Fatal("the README has no LDAP line")
	}
	args := append(substitute(line.words, map[string]string{"ldaps://dc1.corp.example.com": dc.URL}), "--ca-file", dc.CAFile)
	if out, code := readmeRun(t.Context(), args, Options{}); code != 0 {
		t.Fatalf("README line %q: exit %d\n%s", line.line, code, out)
	}
	if out, code := readmeRun(t.Context(), []string{"source", "test", "corp"}, Options{}); code != 0 {
		t.Fatalf("source test: exit %d\n%s", code, out)
	}
	if out, code := readmeRun(t.Context(), []string{"sync", "corp"}, Options{}); code != 0 {
		t.Fatalf("sync: exit %d\n%s", code, out)
	}
	out, _ := readmeRun(t.Context(), []string{"users", "list", "--json"}, Options{})
	var users []directory.User
	json.Unmarshal([]byte(out), &users)
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"r-ann@corp.example.com", "r-ben@corp.example.com"}) {
		t.Fatalf("users under OU=Staff: %q", names)
	}
}
