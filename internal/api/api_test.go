package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/internal/store"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a real service (SQLite store, sync workers, dispatcher) behind an
// httptest server on 127.0.0.1, with one token per role.
type env struct {
	t       *testing.T
	dbPath  string
	parts   *factory.Parts
	st      store.Store
	svc     *service.Service
	srv     *httptest.Server
	account directory.Account
	tokens  map[manage.Role]string
	logs    *syncBuffer
	// bodies holds every response body, for the secret-leak test.
	mu     sync.Mutex
	bodies []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "dirsync.db")
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	e := &env{t: t, dbPath: path, tokens: map[manage.Role]string{}, logs: &syncBuffer{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	loopback, _ := safehttp.ParseAllowList([]string{"127.0.0.1"}) // the test's webhook receivers
	p, err := factory.Open(t.Context(), factory.Options{DB: path, KeyFile: filepath.Join(dir, "key"), Logger: logger, WebhookAllow: loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	e.parts, e.st = p, p.Store
	e.svc = service.New(p, service.Config{Workers: 2}, logger)
	e.srv = httptest.NewServer(e.svc.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.svc.Runner.Shutdown(ctx)
	})
	e.account, e.tokens = newAccount(t, p.Manager, "acme", manage.Roles...)
	return e
}

// newAccount creates an account with one token for each role given.
func newAccount(t *testing.T, m *manage.Manager, name string, roles ...manage.Role) (directory.Account, map[manage.Role]string) {
	t.Helper()
	ctx := t.Context()
	acc, err := m.CreateAccount(ctx, manage.DeploymentOperator(), name)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := m.Operator(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[manage.Role]string{}
	for _, r := range roles {
		tok, err := m.CreateToken(ctx, owner, "", string(r))
		if err != nil {
			t.Fatal(err)
		}
		tokens[r] = tok.Token
	}
	return acc, tokens
}

// do sends a request with the role's token (none when role is "") and
// decodes a JSON answer into out when out is not nil.
func (e *env) do(role manage.Role, method, path string, body any, out any) int {
	e.t.Helper()
	code, _ := e.doHeader(role, method, path, body, out)
	return code
}

// doHeader is do, answering the response's header too.
func (e *env) doHeader(role manage.Role, method, path string, body any, out any) (int, http.Header) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	e.mu.Lock()
	e.bodies = append(e.bodies, string(data))
	e.mu.Unlock()
	if resp.StatusCode >= 400 && resp.StatusCode != 404 || resp.StatusCode == 404 && strings.HasPrefix(path, "/api/") {
		checkErrorShape(e.t, method, path, resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// checkErrorShape fails unless body is the documented error shape.
func checkErrorShape(t *testing.T, method, path string, status int, body []byte) {
	t.Helper()
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s %s: %d with a body not in the error shape: %s", method, path, status, body)
	}
	if status >= 500 && status != 501 && status != 503 {
		t.Errorf("%s %s: server error %d: %s", method, path, status, body)
	}
}

func TestRoleRouteMatrix(t *testing.T) {
	e := newEnv(t)
	var s api.Server
	routes := s.Routes()
	min := func(rt api.Route) manage.Role { return manage.MinRole(rt.Action) }
	if len(routes) < 30 {
		t.Fatalf("only %d routes", len(routes))
	}
	idRE := regexp.MustCompile(`\{[a-z]+\}`)
	for _, rt := range routes {
		path := idRE.ReplaceAllStringFunc(rt.Pattern, func(p string) string {
			if p == "{kind}" {
				return "users"
			}
			return "missing-id"
		})
		var body any
		if rt.Method == "POST" || rt.Method == "PATCH" {
			body = "{}"
		}
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			if code := e.do("", rt.Method, path, body, nil); rt.Public != (code != http.StatusUnauthorized) {
				t.Errorf("without a token: %d (public %v)", code, rt.Public)
			}
			for _, role := range manage.Roles {
				code := e.do(role, rt.Method, path, body, nil)
				allowed := role.Allows(min(rt))
				switch {
				case allowed && (code == http.StatusForbidden || code == http.StatusUnauthorized):
					t.Errorf("%s: %d, want allowed (min %s)", role, code, min(rt))
				case !allowed && code != http.StatusForbidden:
					t.Errorf("%s: %d, want 403 (min %s)", role, code, min(rt))
				}
			}
		})
	}
	// Every role is allowed somewhere and refused somewhere but the owner.
	for _, role := range manage.Roles {
		refused := 0
		for _, rt := range routes {
			if !role.Allows(min(rt)) {
				refused++
			}
		}
		if role != manage.RoleOwner && refused == 0 {
			t.Errorf("%s is refused nothing", role)
		}
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{"", "Bearer", "Basic abc", "Bearer dsk_nope"} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/account", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("Authorization %q: %d", h, resp.StatusCode)
		}
		checkErrorShape(t, "GET", "/api/v1/account", resp.StatusCode, body)
	}
	var acc directory.Account
	if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/account", nil, &acc); code != 200 || acc.ID != e.account.ID {
		t.Fatalf("account: %d %+v", code, acc)
	}
	// A revoked token stops working at once.
	var tok api.TokenView
	if code := e.do(manage.RoleOwner, "POST", "/api/v1/tokens", map[string]string{"role": "Read-only", "name": "ci"}, &tok); code != 201 || tok.Token == "" || tok.Role != "read_only" {
		t.Fatalf("create token: %d %+v", code, tok)
	}
	e.tokens["extra"] = tok.Token
	if code := e.do("extra", "GET", "/api/v1/account", nil, nil); code != 200 {
		t.Fatalf("new token: %d", code)
	}
	if code := e.do(manage.RoleOwner, "DELETE", "/api/v1/tokens/"+tok.ID, nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if code := e.do("extra", "GET", "/api/v1/account", nil, nil); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}
	var list struct{ Tokens []map[string]any }
	e.do(manage.RoleOwner, "GET", "/api/v1/tokens", nil, &list)
	if len(list.Tokens) != len(manage.Roles)+1 {
		t.Fatalf("tokens: %d", len(list.Tokens))
	}
	for _, tk := range list.Tokens {
		if _, ok := tk["token"]; ok {
			t.Fatalf("token listed with its text: %v", tk)
		}
		if _, ok := tk["hash"]; ok {
			t.Fatalf("token listed with its hash: %v", tk)
		}
	}
}

// emulator starts an emulated tenant and returns the source settings for it.
func emulator(t *testing.T, users, groups int) (*entraemu.Server, map[string]any) {
	return emulatorSeed(t, users, groups, 7)
}

// emulatorSeed is emulator with a tenant of its own: one domain, one
// source, so two sources of a test need two tenants.
func emulatorSeed(t *testing.T, users, groups int, seed int64) (*entraemu.Server, map[string]any) {
	t.Helper()
	tenant, err := entraemu.New(entraemu.Options{Users: users, Groups: groups, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c := srv.Credentials()
	return srv, map[string]any{"tenant": c.TenantID, "client_id": c.ClientID, "cloud": "custom", "auth_method": "secret",
		"authority_url": c.AuthorityURL, "graph_url": c.GraphURL, "ca_pem": string(srv.CAPEM())}
}

// waitRun waits until the source has a finished run and returns it.
func (e *env) waitRun(sourceID string, n int) directory.Run {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var out struct{ Runs []directory.Run }
		e.do(manage.RoleReadOnly, "GET", "/api/v1/runs?source="+sourceID, nil, &out)
		if len(out.Runs) >= n && out.Runs[0].Outcome != directory.OutcomeRunning && out.Runs[0].Outcome != directory.OutcomeQueued && !e.svc.Runner.Busy(sourceID) {
			return out.Runs[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no finished run %d of %s", n, sourceID)
	return directory.Run{}
}

func TestSourcesUsersEvents(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 40, 5)
	clientSecret := emu.Credentials().ClientSecret

	// Bad input: 4xx in the error shape, nothing written.
	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"kind": "entra", "settings": settings, "secret": clientSecret}, "name"},
		{map[string]any{"name": "x", "kind": "nope", "settings": settings, "secret": clientSecret}, "kind"},
		{map[string]any{"name": "x", "kind": "entra", "secret": clientSecret}, "settings"},
		{map[string]any{"name": "x", "kind": "entra", "settings": settings}, "secret"},
		{map[string]any{"name": "x", "kind": "entra", "settings": map[string]any{"tenant": "common"}, "secret": clientSecret}, "settings"},
		{map[string]any{"name": "x", "kind": "entra", "settings": settings, "secret": clientSecret, "schedule": "every 7 fortnights"}, "schedule"},
		{map[string]any{"name": "x", "kind": "entra", "settings": settings, "secret": clientSecret, "bogus": 1}, "bogus"},
		{map[string]any{"name": 5}, "name"},
	} {
		var out struct {
			Error struct{ Code, Message, Field string }
		}
		code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", c.body, &out)
		if code != 400 || !strings.HasPrefix(out.Error.Field, c.field) {
			t.Errorf("%v: %d %+v, want 400 on %s", c.body, code, out.Error, c.field)
		}
	}
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", "{not json", nil); code != 400 {
		t.Errorf("bad JSON: %d", code)
	}
	if srcs, _ := e.st.Sources(t.Context(), e.account.ID); len(srcs) != 0 {
		t.Fatalf("bad input wrote %d sources", len(srcs))
	}

	var src api.SourceView
	code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{
		"name": "contoso", "kind": "entra", "settings": settings, "secret": clientSecret}, &src)
	if code != 201 || src.ID == "" || !src.SecretSet {
		t.Fatalf("create source: %d %+v", code, src)
	}
	if src.Schedule.Kind != "daily" || src.NextRun == nil {
		t.Fatalf("new Entra source should default to a daily schedule with a next run: %+v %v", src.Schedule, src.NextRun)
	}
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{
		"name": "Contoso", "kind": "entra", "settings": settings, "secret": clientSecret}, nil); code != 409 {
		t.Fatalf("duplicate name: %d", code)
	}
	var upd api.SourceView
	if code := e.do(manage.RoleAdministrator, "PATCH", "/api/v1/sources/"+src.ID, map[string]any{"schedule": "every 30m in Europe/Paris", "description": "HQ"}, &upd); code != 200 ||
		upd.Schedule.Kind != "minutes" || upd.Schedule.Every != 30 || upd.Description != "HQ" {
		t.Fatalf("update: %d %+v", code, upd)
	}
	var check api.CheckView
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/test", nil, &check); code != 200 || !check.OK {
		t.Fatalf("test: %d %+v", code, check)
	}

	var queued directory.Run
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", map[string]string{"mode": "full"}, &queued); code != 202 ||
		queued.Outcome != directory.OutcomeQueued || queued.Kind != directory.RunFull || queued.ID == "" {
		t.Fatalf("sync: %d %+v", code, queued)
	}
	run := e.waitRun(src.ID, 1)
	if run.ID != queued.ID {
		t.Fatalf("the run that ran (%s) is not the one queued (%s)", run.ID, queued.ID)
	}
	if run.Outcome != directory.OutcomeSucceeded || run.Counts.Created == 0 || run.Trigger != "api" {
		t.Fatalf("run: %+v", run)
	}
	var changes struct {
		Changes []directory.Change
		Next    string
	}
	if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/runs/"+run.ID+"/changes?limit=5", nil, &changes); code != 200 || len(changes.Changes) != 5 || changes.Next == "" {
		t.Fatalf("changes: %d %d %q", code, len(changes.Changes), changes.Next)
	}

	// Users: following next sees each user once; the Link header says the same.
	seen := map[string]bool{}
	for pages, next := 0, "/api/v1/users?limit=7"; next != ""; pages++ {
		var page struct {
			Users []directory.User
			Next  string
		}
		code, h := e.doHeader(manage.RoleReadOnly, "GET", next, nil, &page)
		if code != 200 {
			t.Fatalf("users: %d", code)
		}
		if link := h.Get("Link"); (page.Next == "") != (link == "") || page.Next != "" && link != "<"+page.Next+`>; rel="next"` {
			t.Fatalf("next %q, Link %q", page.Next, link)
		}
		for _, u := range page.Users {
			if seen[u.ID] {
				t.Fatalf("user %s twice", u.ID)
			}
			seen[u.ID] = true
		}
		if next = page.Next; pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != run.Counts.Created-countGroupsCreated(t, e, run.ID) {
		t.Logf("users seen %d, created %d", len(seen), run.Counts.Created)
	}
	var one struct {
		Users []directory.User
	}
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users?limit=1", nil, &one)
	u := one.Users[0]
	var got directory.User
	if code := e.do(manage.RoleUserManager, "PATCH", "/api/v1/users/"+u.ID, map[string]any{"tags": []string{"vip", "vip", "emea"}, "notes": "called"}, &got); code != 200 ||
		strings.Join(got.Tags, ",") != "emea,vip" || got.Notes != "called" {
		t.Fatalf("patch local: %d %+v", code, got)
	}
	var conflict struct {
		Error struct{ Code, Message, Field string }
	}
	if code := e.do(manage.RoleUserManager, "PATCH", "/api/v1/users/"+u.ID, map[string]any{"notes": "x", "department": "Sales"}, &conflict); code != 409 ||
		conflict.Error.Field != "department" || !strings.Contains(conflict.Error.Message, "contoso") {
		t.Fatalf("patch synced: %d %+v", code, conflict)
	}
	if after, _ := e.st.User(t.Context(), e.account.ID, u.ID); after.Notes != "called" {
		t.Fatalf("refused patch wrote notes: %q", after.Notes)
	}

	// Groups and members.
	var groups struct{ Groups []directory.Group }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/groups", nil, &groups)
	if len(groups.Groups) == 0 {
		t.Fatal("no groups")
	}
	for _, eff := range []string{"false", "true"} {
		var ms struct{ Members []directory.Member }
		if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/groups/"+groups.Groups[0].ID+"/members?effective="+eff, nil, &ms); code != 200 {
			t.Fatalf("members: %d", code)
		}
	}

	// Events: following next returns the feed in order, each once, then
	// poll, which finds nothing new and stays where it was.
	var last int64
	total := 0
	for next := "/api/v1/events?limit=10"; ; {
		var page struct {
			Events     []directory.Event
			Cursor     string
			Next, Poll string
		}
		if code := e.do(manage.RoleReadOnly, "GET", next, nil, &page); code != 200 || (page.Next == "") == (page.Poll == "") {
			t.Fatalf("events: %d next %q poll %q", code, page.Next, page.Poll)
		}
		for _, ev := range page.Events {
			if ev.Seq <= last {
				t.Fatalf("events out of order: %d after %d", ev.Seq, last)
			}
			last = ev.Seq
			total++
		}
		if page.Poll != "" {
			var again struct{ Events []directory.Event }
			if code := e.do(manage.RoleReadOnly, "GET", page.Poll, nil, &again); code != 200 || len(again.Events) != 0 {
				t.Fatalf("poll when caught up: %d %d events", code, len(again.Events))
			}
			break
		}
		next = page.Next
	}
	if total < run.Counts.Created {
		t.Fatalf("%d events for %d created objects", total, run.Counts.Created)
	}
	if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/events?after=abc", nil, nil); code != 400 {
		t.Fatalf("bad cursor: %d", code)
	}

	// Single-user sync, by username, as a help desk.
	var one1 directory.Run
	if code := e.do(manage.RoleHelpDesk, "POST", "/api/v1/sources/"+src.ID+"/sync-user", map[string]any{"user": u.Username}, &one1); code != 200 ||
		one1.Kind != directory.RunSingle || one1.Outcome != directory.OutcomeSucceeded || one1.SourceUsers != 1 {
		t.Fatalf("sync-user: %d %+v", code, one1)
	}
	if code := e.do(manage.RoleHelpDesk, "POST", "/api/v1/sources/"+src.ID+"/sync-user", "{}", nil); code != 400 {
		t.Fatalf("sync-user without a user: %d", code)
	}

	// Turned off: no sync.
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/disable", nil, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil); code != 409 {
		t.Fatalf("sync of a disabled source: %d", code)
	}
	var off api.SourceView
	e.do(manage.RoleReadOnly, "GET", "/api/v1/sources/"+src.ID, nil, &off)
	if off.Status.State != "turned_off" || off.NextRun != nil {
		t.Fatalf("disabled source: %+v", off.Status)
	}
	if code := e.do(manage.RoleHelpDesk, "POST", "/api/v1/sources/"+src.ID+"/sync-user", map[string]any{"user": u.Username}, nil); code != 409 {
		t.Fatalf("sync-user of a disabled source: %d", code)
	}
	if code := e.do(manage.RoleAdministrator, "DELETE", "/api/v1/sources/"+src.ID, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/sources/"+src.ID, nil, nil); code != 404 {
		t.Fatalf("deleted source: %d", code)
	}
}

func countGroupsCreated(t *testing.T, e *env, runID string) int {
	n := 0
	cs, err := e.st.Changes(t.Context(), runID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Action == directory.ActionCreated && c.ObjectKind == directory.MemberGroup {
			n++
		}
	}
	return n
}

// TestQueuedOnce: requests made while a run of the source is queued get
// that run; five requests while one runs make two runs at most.
func TestQueuedOnce(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 300, 10)
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{
		"name": "c", "kind": "entra", "settings": settings, "secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	ids := []string{}
	for range 5 {
		var out directory.Run
		if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, &out); code != 202 || out.Outcome != directory.OutcomeQueued {
			t.Fatalf("sync request: %d %+v", code, out)
		}
		ids = append(ids, out.ID)
	}
	// Each run answered is answered to consecutive requests: once it runs,
	// the next request queues a new one.
	distinct := slices.Compact(slices.Clone(ids))
	if len(distinct) > 2 || len(distinct) != len(slices.Compact(slices.Sorted(slices.Values(ids)))) {
		t.Fatalf("run ids %v: want at most one run running and one queued", ids)
	}
	e.waitRun(src.ID, len(distinct))
	var out struct{ Runs []directory.Run }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/runs?source="+src.ID, nil, &out)
	if len(out.Runs) != len(distinct) {
		t.Fatalf("%d runs for 5 requests (%d distinct runs answered)", len(out.Runs), len(distinct))
	}
	for _, r := range out.Runs {
		if r.Outcome != directory.OutcomeSucceeded {
			t.Fatalf("run %s: %s %s", r.ID, r.Outcome, r.Reason)
		}
	}
}

func TestNotFoundAndMethod(t *testing.T) {
	e := newEnv(t)
	if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/nope", nil, nil); code != 404 {
		t.Fatalf("unknown route: %d", code)
	}
	if code := e.do(manage.RoleOwner, "PUT", "/api/v1/sources", "{}", nil); code != 405 {
		t.Fatalf("wrong method: %d", code)
	}
	if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/users?limit=0", nil, nil); code != 400 {
		t.Fatalf("limit 0: %d", code)
	}
	if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/users?state=gone", nil, nil); code != 400 {
		t.Fatalf("bad state: %d", code)
	}
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", big, nil); code != 413 {
		t.Fatalf("huge body: %d", code)
	}
	_ = fmt.Sprint
}

func dbPath(t *testing.T, e *env) string { return e.dbPath }

func TestTrash(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 10, 2)
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	e.waitRun(src.ID, 1)
	users := emu.Tenant().Users()
	if err := emu.Tenant().DeleteUser(users[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := emu.Tenant().DeleteUser(users[1].ID); err != nil {
		t.Fatal(err)
	}
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", map[string]string{"mode": "full"}, nil)
	if run := e.waitRun(src.ID, 2); run.Counts.Deleted != 2 {
		t.Fatalf("second run: %+v", run.Counts)
	}
	var trash struct{ Users []directory.User }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/trash", nil, &trash)
	if len(trash.Users) != 2 {
		t.Fatalf("trash holds %d users", len(trash.Users))
	}
	a, b := trash.Users[0], trash.Users[1]
	var refusal struct {
		Error struct{ Code, Message string }
	}
	if code := e.do(manage.RoleUserManager, "POST", "/api/v1/trash/users/"+a.ID+"/restore", nil, &refusal); code != 409 || !strings.Contains(refusal.Error.Message, "source c") {
		t.Fatalf("restore of a source's user: %d %+v", code, refusal)
	}
	var active struct{ Users []directory.User }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users?limit=1", nil, &active)
	if code := e.do(manage.RoleAdministrator, "DELETE", "/api/v1/trash/users/"+active.Users[0].ID, nil, nil); code != 409 {
		t.Fatalf("purge of an active user: %d", code)
	}
	if code := e.do(manage.RoleAdministrator, "DELETE", "/api/v1/trash/users/"+b.ID, nil, nil); code != 204 {
		t.Fatalf("purge: %d", code)
	}
	if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/users/"+b.ID, nil, nil); code != 404 {
		t.Fatalf("purged user: %d", code)
	}
	// Once the source is removed its objects are local, and may come back.
	e.do(manage.RoleAdministrator, "DELETE", "/api/v1/sources/"+src.ID, nil, nil)
	before, _ := e.st.Events(t.Context(), e.account.ID, 0, 0)
	var restored directory.User
	if code := e.do(manage.RoleUserManager, "POST", "/api/v1/trash/users/"+a.ID+"/restore", nil, &restored); code != 200 || restored.State == directory.StateTrash {
		t.Fatalf("restore: %d %+v", code, restored)
	}
	after, _ := e.st.Events(t.Context(), e.account.ID, 0, 0)
	if len(after) != len(before)+1 || after[len(after)-1].Type != directory.EventUserRestored {
		t.Fatalf("restore wrote no user.restored event")
	}
	if code := e.do(manage.RoleUserManager, "POST", "/api/v1/trash/groups/"+a.ID+"/restore", nil, nil); code != 404 {
		t.Fatalf("restore of a user as a group: %d", code)
	}
}

// TestAccountsAreIsolated: a token sees its own account only; another
// account's ids are not found, never forbidden (which would confirm them).
func TestAccountsAreIsolated(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 5, 1)
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	run := e.waitRun(src.ID, 1)
	var hook api.WebhookView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": "https://h.example/x"}, &hook)
	var users struct{ Users []directory.User }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users", nil, &users)
	var groups struct{ Groups []directory.Group }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/groups", nil, &groups)

	other, toks := newAccount(t, e.parts.Manager, "other", manage.RoleOwner)
	e.tokens["other"] = toks[manage.RoleOwner]
	for _, p := range []string{"/api/v1/sources/" + src.ID, "/api/v1/runs/" + run.ID, "/api/v1/runs/" + run.ID + "/changes",
		"/api/v1/users/" + users.Users[0].ID, "/api/v1/groups/" + groups.Groups[0].ID, "/api/v1/groups/" + groups.Groups[0].ID + "/members",
		"/api/v1/webhooks/" + hook.ID, "/api/v1/webhooks/" + hook.ID + "/deliveries"} {
		if code := e.do("other", "GET", p, nil, nil); code != 404 {
			t.Errorf("GET %s from another account: %d", p, code)
		}
	}
	for _, c := range []struct{ method, path string }{{"DELETE", "/api/v1/sources/" + src.ID}, {"POST", "/api/v1/sources/" + src.ID + "/sync"},
		{"PATCH", "/api/v1/users/" + users.Users[0].ID}, {"DELETE", "/api/v1/webhooks/" + hook.ID}} {
		if code := e.do("other", c.method, c.path, "{}", nil); code != 404 {
			t.Errorf("%s %s from another account: %d", c.method, c.path, code)
		}
	}
	var lists struct {
		Sources  []any
		Users    []any
		Events   []any
		Webhooks []any
		Runs     []any
	}
	for _, p := range []string{"/api/v1/sources", "/api/v1/users", "/api/v1/events", "/api/v1/webhooks", "/api/v1/runs"} {
		e.do("other", "GET", p, nil, &lists)
	}
	if len(lists.Sources)+len(lists.Users)+len(lists.Events)+len(lists.Webhooks)+len(lists.Runs) != 0 {
		t.Fatalf("another account's listings are not empty: %+v", lists)
	}
	var acc directory.Account
	e.do("other", "GET", "/api/v1/account", nil, &acc)
	if acc.ID != other.ID {
		t.Fatalf("account %+v", acc)
	}
}
