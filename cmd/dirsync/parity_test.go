package main

// The parity test: one table of scenarios, run once through command-line
// processes and once through the REST API of a "dirsync serve" process,
// each on a database of its own, against the same emulated tenant. After
// every step, what each database holds (sources, settings, schedules,
// users, groups, memberships, the trash, runs, events) must be the same,
// ids and times aside: the two front ends share every rule.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
)

// frontEnd does what a scenario step asks, its own way.
type frontEnd interface {
	addSource(name string)
	setScope(source string, s scope.Settings, flags []string)
	setSchedule(source, text string)
	sync(source string)
	syncUser(source, who string)
	editUser(who string, tags []string, notes string)
	restore(who string) (refused bool)
	purge(who string)
	removeSource(source string)
	db() string
}

// parityWorld is the tenant both front ends read, and what a step needs
// to know of it.
type parityWorld struct {
	t       *testing.T
	creds   entraemu.Credentials
	ca      string
	secret  string
	tenant  *entraemu.Tenant
	emulate *cliEnv
}

type step struct {
	name string
	do   func(w *parityWorld, f frontEnd)
}

// scenarios is the one table both front ends run.
var scenarios = []step{
	{"add source", func(w *parityWorld, f frontEnd) { f.addSource("contoso") }},
	{"set scope", func(w *parityWorld, f frontEnd) {
		rule, _ := manage.ParseRule("exclude department=Sales")
		f.setScope("contoso", scope.Settings{UserRules: []scope.Rule{rule}, Tags: []string{"imported"}},
			[]string{"--rule", "exclude department=Sales", "--tag", "imported"})
	}},
	{"set schedule", func(w *parityWorld, f frontEnd) { f.setSchedule("contoso", "weekly mon,thu 08:00 in America/New_York") }},
	{"sync", func(w *parityWorld, f frontEnd) { f.sync("contoso") }},
	{"change scope: Finance out, Sales in", func(w *parityWorld, f frontEnd) {
		rule, _ := manage.ParseRule("exclude department=Finance")
		f.setScope("contoso", scope.Settings{UserRules: []scope.Rule{rule}, Tags: []string{"imported"}},
			[]string{"--clear-rules", "--rule", "exclude department=Finance"})
	}},
	{"sync again: Finance to the trash", func(w *parityWorld, f frontEnd) { f.sync("contoso") }},
	{"single-user sync", func(w *parityWorld, f frontEnd) { f.syncUser("contoso", w.inDept("Sales", 0)) }},
	{"edit a user", func(w *parityWorld, f frontEnd) {
		f.editUser(w.inDept("Sales", 1), []string{"vip", " emea", "vip"}, "call before noon")
	}},
	{"restore a user its source manages: refused", func(w *parityWorld, f frontEnd) {
		if !f.restore(w.inDept("Finance", 0)) {
			w.t.Fatal("a user its source still manages was restored")
		}
	}},
	{"purge", func(w *parityWorld, f frontEnd) { f.purge(w.inDept("Finance", 1)) }},
	{"remove source", func(w *parityWorld, f frontEnd) { f.removeSource("contoso") }},
	{"restore a user no source manages", func(w *parityWorld, f frontEnd) {
		if f.restore(w.inDept("Finance", 0)) {
			w.t.Fatal("a local user in the trash was not restored")
		}
	}},
}

// inDept is the i-th user (by UPN) of a department in the tenant.
func (w *parityWorld) inDept(dept string, i int) string {
	var upns []string
	for _, u := range w.tenant.Users() {
		if u.Department == dept && u.UserPrincipalName != "" {
			upns = append(upns, u.UserPrincipalName)
		}
	}
	sort.Strings(upns)
	if len(upns) <= i {
		w.t.Fatalf("the tenant has %d users in %s", len(upns), dept)
	}
	return upns[i]
}

func TestParityOfCLIAndAPI(t *testing.T) {
	e := newEnv(t)
	const users, groups, seed = 150, 12, 13
	creds, ca := e.startEmulator(users, groups, seed)
	secret := filepath.Join(e.dir, "secret.txt")
	os.WriteFile(secret, []byte(creds.ClientSecret+"\n"), 0o600)
	truth, err := entraemu.New(entraemu.Options{Users: users, Groups: groups, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	w := &parityWorld{t: t, creds: creds, ca: ca, secret: secret, tenant: truth, emulate: e}

	cli := &cliFront{w: w, e: newEnv(t)}
	api := newAPIFront(t, w)
	var seen [2][]string
	for i, f := range []frontEnd{cli, api} {
		for _, s := range scenarios {
			s.do(w, f)
			seen[i] = append(seen[i], s.name+"\n"+stateOf(t, f.db()))
		}
	}
	for i := range scenarios {
		if seen[0][i] != seen[1][i] {
			t.Fatalf("after %q the CLI's and the API's databases differ:\n%s", scenarios[i].name, lineDiff(seen[0][i], seen[1][i]))
		}
	}
	if !strings.Contains(seen[0][len(scenarios)-1], `"state":"pending_deletion"`) || !strings.Contains(seen[0][3], "group.user_added") {
		t.Fatalf("the scenario did not reach its states:\n%s", seen[0][len(scenarios)-1])
	}
}

// lineDiff shows the first lines that differ.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n CLI: %s\n API: %s", i, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines against %d", len(al), len(bl))
}

// cliFront runs each step as dirsync processes.
type cliFront struct {
	w *parityWorld
	e *cliEnv
}

func (c *cliFront) db() string { return c.e.db }

func (c *cliFront) addSource(name string) {
	cr := c.w.creds
	c.e.ok("source", "add", "entra", "--name", name, "--tenant", cr.TenantID, "--client-id", cr.ClientID,
		"--client-secret-file", c.w.secret, "--cloud", "custom", "--authority-url", cr.AuthorityURL,
		"--graph-url", cr.GraphURL, "--ca-file", c.w.ca)
}

func (c *cliFront) setScope(source string, _ scope.Settings, flags []string) {
	c.e.ok(append([]string{"source", "set", source}, flags...)...)
}

func (c *cliFront) setSchedule(source, text string) { c.e.ok("source", "schedule", source, text) }
func (c *cliFront) sync(source string)              { c.e.ok("sync", source) }
func (c *cliFront) syncUser(source, who string)     { c.e.ok("sync", source, "--user", who) }

func (c *cliFront) editUser(who string, tags []string, notes string) {
	args := []string{"users", "set", who, "--notes", notes}
	for _, tag := range tags {
		args = append(args, "--tag", tag)
	}
	c.e.ok(args...)
}

func (c *cliFront) restore(who string) bool {
	_, _, code := c.e.run("trash", "restore", who)
	if code != 0 && code != 6 {
		c.w.t.Fatalf("trash restore %s: exit %d", who, code)
	}
	return code == 6
}

func (c *cliFront) purge(who string)           { c.e.ok("trash", "purge", who) }
func (c *cliFront) removeSource(source string) { c.e.ok("source", "remove", source) }

// apiFront runs each step through the REST API of a dirsync serve process.
type apiFront struct {
	w     *parityWorld
	e     *cliEnv
	url   string
	token string
	ids   map[string]string // source name -> id
}

func newAPIFront(t *testing.T, w *parityWorld) *apiFront {
	a := &apiFront{w: w, e: newEnv(t), ids: map[string]string{}}
	var tok struct{ Token string }
	a.e.jsonOut(&tok, "token", "create", "--role", "owner")
	a.token = tok.Token
	ctx, cancel := context.WithCancel(t.Context())
	cmd := exec.CommandContext(ctx, binary, "--db", a.e.db, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = a.e.env
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	a.url = strings.TrimSpace(line[strings.Index(line, "http://"):])
	return a
}

func (a *apiFront) db() string { return a.e.db }

// call sends a request and decodes the answer; want is the status expected.
func (a *apiFront) call(method, path string, body any, want int, out any) {
	a.w.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, a.url+"/api/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.w.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.w.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.w.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

func (a *apiFront) addSource(name string) {
	cr := a.w.creds
	ca, _ := os.ReadFile(a.w.ca)
	var src struct{ ID string }
	a.call("POST", "/sources", map[string]any{"name": name, "kind": "entra", "secret": cr.ClientSecret,
		"settings": map[string]any{"tenant": cr.TenantID, "client_id": cr.ClientID, "cloud": "custom", "auth_method": "secret",
			"authority_url": cr.AuthorityURL, "graph_url": cr.GraphURL, "ca_pem": string(ca)}}, 201, &src)
	a.ids[name] = src.ID
}

func (a *apiFront) setScope(source string, s scope.Settings, _ []string) {
	a.call("PATCH", "/sources/"+a.ids[source], map[string]any{"scope": s}, 200, nil)
}

func (a *apiFront) setSchedule(source, text string) {
	a.call("PATCH", "/sources/"+a.ids[source], map[string]any{"schedule": text}, 200, nil)
}

// sync requests a run and waits for it: queued, running, its outcome.
func (a *apiFront) sync(source string) {
	var run directory.Run
	a.call("POST", "/sources/"+a.ids[source]+"/sync", nil, 202, &run)
	for deadline := time.Now().Add(60 * time.Second); run.Outcome == directory.OutcomeQueued || run.Outcome == directory.OutcomeRunning; {
		if time.Now().After(deadline) {
			a.w.t.Fatalf("run %s still %s", run.ID, run.Outcome)
		}
		time.Sleep(20 * time.Millisecond)
		a.call("GET", "/runs/"+run.ID, nil, 200, &run)
	}
	if run.Outcome != directory.OutcomeSucceeded {
		a.w.t.Fatalf("run %s: %s %s", run.ID, run.Outcome, run.Reason)
	}
}

func (a *apiFront) syncUser(source, who string) {
	a.call("POST", "/sources/"+a.ids[source]+"/sync-user", map[string]any{"user": who}, 200, nil)
}

func (a *apiFront) user(who string) directory.User {
	var u directory.User
	a.call("GET", "/users/"+who, nil, 200, &u)
	return u
}

func (a *apiFront) editUser(who string, tags []string, notes string) {
	// The API replaces the tags: a client adds to what the user has.
	u := a.user(who)
	a.call("PATCH", "/users/"+u.ID, map[string]any{"tags": append(u.Tags, tags...), "notes": notes}, 200, nil)
}

func (a *apiFront) restore(who string) bool {
	u := a.user(who)
	req, _ := http.NewRequest("POST", a.url+"/api/v1/trash/users/"+u.ID+"/restore", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 409 {
		a.w.t.Fatalf("restore %s: %d", who, resp.StatusCode)
	}
	return resp.StatusCode == 409
}

func (a *apiFront) purge(who string) {
	a.call("DELETE", "/trash/users/"+a.user(who).ID, nil, 204, nil)
}

func (a *apiFront) removeSource(source string) {
	a.call("DELETE", "/sources/"+a.ids[source], nil, 204, nil)
}

// stateOf is what a database holds, as JSON lines without ids or times:
// sources with settings and schedules, users, groups, direct memberships,
// runs and events.
func stateOf(t *testing.T, db string) string {
	t.Helper()
	ctx := t.Context()
	st, err := sqlstore.OpenSQLite(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc, err := st.Account(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	add := func(kind string, v any) {
		data, _ := json.Marshal(v)
		lines = append(lines, kind+" "+string(data))
	}
	srcs, _ := st.Sources(ctx, acc.ID)
	for _, s := range srcs {
		sched, _ := st.SourceSchedule(ctx, s.ID)
		spec := any(json.RawMessage(sched.Spec))
		if def, _ := json.Marshal(schedule.DefaultDaily(s.ID, "")); bytes.Equal(def, sched.Spec) {
			spec = "the default: daily at a time drawn from the source's id"
		}
		add("source", map[string]any{"name": s.Name, "kind": s.Kind, "config": json.RawMessage(s.Config), "settings": json.RawMessage(s.Settings),
			"enabled": s.Enabled, "secret": len(s.Secret) > 0, "schedule": spec})
	}
	all := []directory.State{directory.StateActive, directory.StateDisabled, directory.StateTrash}
	users, _ := st.Users(ctx, acc.ID, store.UserQuery{States: all})
	for _, u := range users.Items {
		u.ID, u.AccountID, u.CreatedAt, u.UpdatedAt, u.TrashedAt = "", "", time.Time{}, time.Time{}, time.Time{}
		for i := range u.Sources {
			u.Sources[i].SourceID = ""
		}
		add("user", u)
	}
	groups, _ := st.Groups(ctx, acc.ID, store.GroupQuery{States: all})
	for _, g := range groups.Items {
		ms, _ := st.Members(ctx, acc.ID, g.ID, false)
		var names []string
		for _, m := range ms {
			names = append(names, string(m.Kind)+":"+m.Name)
		}
		g.ID, g.AccountID, g.CreatedAt, g.UpdatedAt, g.TrashedAt = "", "", time.Time{}, time.Time{}, time.Time{}
		for i := range g.Sources {
			g.Sources[i].SourceID = ""
		}
		add("group", map[string]any{"group": g, "members": names})
	}
	runs, _ := st.Runs(ctx, acc.ID, "", 0)
	slices.Reverse(runs)
	for _, r := range runs {
		add("run", map[string]any{"source": r.Source, "kind": r.Kind, "dry_run": r.DryRun, "outcome": r.Outcome, "counts": r.Counts,
			"source_users": r.SourceUsers, "source_groups": r.SourceGroups, "skips": r.Skips})
	}
	events, _ := st.Events(ctx, acc.ID, 0, 0)
	for _, e := range events {
		add("event", map[string]any{"type": e.Type, "data": withoutIDs(e.Data)})
	}
	return strings.Join(lines, "\n")
}

// withoutIDs drops ids, times and the front end's name from an event's
// data: what the two databases may not share.
func withoutIDs(data json.RawMessage) any {
	var v any
	json.Unmarshal(data, &v)
	var clean func(any) any
	clean = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k := range x {
				switch {
				case k == "id" || strings.HasSuffix(k, "_id") || strings.HasSuffix(k, "_at") || k == "trigger" || k == "detail" ||
					k == "time" || k == "requests" || k == "throttled":
					delete(x, k)
				default:
					x[k] = clean(x[k])
				}
			}
		case []any:
			for i := range x {
				x[i] = clean(x[i])
			}
		}
		return v
	}
	return clean(v)
}
