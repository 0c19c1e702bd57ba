package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// pagingEnv is a directory with something in every listing: two runs, a
// trash holding users, a webhook with deliveries.
func pagingEnv(t *testing.T) (e *env, src api.SourceView, run directory.Run, groupID, hookID string) {
	e = newEnv(t)
	emu, settings := emulator(t, 24, 4)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	run = e.waitRun(src.ID, 1)
	for _, u := range emu.Tenant().Users()[:5] {
		if err := emu.Tenant().DeleteUser(u.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", map[string]string{"mode": "full"}, nil)
	if r := e.waitRun(src.ID, 2); r.Counts.Deleted != 5 {
		t.Fatalf("second run: %+v", r)
	}
	var groups struct{ Groups []directory.Group }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/groups?limit=1", nil, &groups)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(receiver.Close)
	var hook api.WebhookView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": receiver.URL, "event_types": []string{"user.enrolled"}}, &hook)
	for range 5 {
		e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks/"+hook.ID+"/test", nil, nil)
	}
	return e, src, run, groups.Groups[0].ID, hook.ID
}

// listing is one page of any listing, its items kept raw.
type listing struct {
	items []string // each item's id (or seq)
	next  string
	link  string
}

// getPage reads a page, naming each item of the listing's keys by its id
// or seq.
func getPage(t *testing.T, e *env, path string, keys ...string) listing {
	t.Helper()
	var body map[string]json.RawMessage
	code, h := e.doHeader(manage.RoleOwner, "GET", path, nil, &body)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", path, code)
	}
	var l listing
	for _, k := range keys {
		var items []map[string]any
		if err := json.Unmarshal(body[k], &items); err != nil || items == nil {
			t.Fatalf("GET %s: %s is not a list: %s", path, k, body[k])
		}
		for _, it := range items {
			id, ok := it["id"]
			if !ok {
				id = it["seq"]
			}
			l.items = append(l.items, fmt.Sprint(id))
		}
	}
	if n, ok := body["next"]; ok {
		if err := json.Unmarshal(n, &l.next); err != nil || l.next == "" {
			t.Fatalf("GET %s: next %s: want a URL or no next at all", path, n)
		}
	}
	l.link = h.Get("Link")
	return l
}

// TestEveryListingPagesAlike walks every paged listing two items at a
// time by its next URLs and compares what it saw with the listing in one
// page: every item once, in the same order; next and the Link header on
// every page but the last, neither on the last.
func TestEveryListingPagesAlike(t *testing.T) {
	e, _, run, groupID, hookID := pagingEnv(t)
	var ms struct{ Members []directory.Member }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/groups/"+groupID+"/members?effective=true", nil, &ms)
	memberID := ""
	for _, m := range ms.Members {
		if m.Kind == directory.MemberUser {
			memberID = m.ID
		}
	}
	// More sources and webhooks than a page of two.
	for i, name := range []string{"b-second", "A-third"} {
		emu, settings := emulatorSeed(t, 2, 1, int64(21+i))
		var out any
		if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": name, "kind": "entra", "settings": settings,
			"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &out); code != http.StatusCreated {
			t.Fatalf("source %s: %d %v", name, code, out)
		}
	}
	for _, u := range []string{"https://hooks.example/a", "https://hooks.example/b"} {
		e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": u}, nil)
	}
	listings := []struct {
		path string
		keys []string
		min  int // items the listing must hold for the walk to prove anything
	}{
		{"/api/v1/runs", []string{"runs"}, 2},
		{"/api/v1/runs/" + run.ID + "/changes", []string{"changes"}, 20},
		{"/api/v1/users?state=active,pending_deletion", []string{"users"}, 20},
		{"/api/v1/groups", []string{"groups"}, 4},
		{"/api/v1/groups/" + groupID + "/members?effective=true", []string{"members"}, 2},
		{"/api/v1/users/" + memberID + "/groups?transitive=true", []string{"groups"}, 1},
		{"/api/v1/users/" + memberID + "/changes", []string{"changes"}, 2}, // created, added to a group
		{"/api/v1/trash", []string{"users", "groups"}, 5},
		{"/api/v1/webhooks/" + hookID + "/deliveries", []string{"deliveries"}, 5},
		{"/api/v1/enrollments", []string{"enrollments"}, 0},
		{"/api/v1/mail", []string{"mails"}, 0},
		{"/api/v1/sources", []string{"sources"}, 3},
		{"/api/v1/webhooks", []string{"webhooks"}, 3},
		{"/api/v1/tokens", []string{"tokens"}, 3},
		{"/api/v1/accounts", []string{"accounts"}, 1},
		{"/api/v1/targets", []string{"targets"}, 0},
	}
	for _, l := range listings {
		sep := "?"
		if strings.Contains(l.path, "?") {
			sep = "&"
		}
		whole := getPage(t, e, l.path+sep+"limit=1000", l.keys...)
		if len(whole.items) < l.min || whole.next != "" || whole.link != "" {
			t.Errorf("%s in one page: %d items (want %d or more), next %q, Link %q", l.path, len(whole.items), l.min, whole.next, whole.link)
			continue
		}
		var walked []string
		pages := 0
		for next := l.path + sep + "limit=2"; next != ""; pages++ {
			p := getPage(t, e, next, l.keys...)
			if len(p.items) > 2 {
				t.Fatalf("%s: %d items on a page of 2", next, len(p.items))
			}
			if p.next != "" && p.link != "<"+p.next+`>; rel="next"` {
				t.Errorf("%s: next %q but Link %q", next, p.next, p.link)
			}
			walked = append(walked, p.items...)
			if next = p.next; pages > 100 {
				t.Fatalf("%s: paging does not end", l.path)
			}
		}
		if !slices.Equal(walked, whole.items) {
			t.Errorf("%s by twos (%d pages):\n%v\nin one page:\n%v", l.path, pages, walked, whole.items)
		}
	}
}

// TestUnknownQueryParameters: a parameter a route does not take is a 400
// that names it, on every route, and changes nothing.
func TestUnknownQueryParameters(t *testing.T) {
	e := newEnv(t)
	var s api.Server
	for _, rt := range s.Routes() {
		path := strings.NewReplacer("{id}", "x", "{kind}", "users").Replace(rt.Pattern)
		var out struct {
			Error struct{ Code, Message, Field string }
		}
		code := e.do(manage.RoleOwner, rt.Method, path+"?page_size=5&cursor=abc", "{}", &out)
		if code != http.StatusBadRequest || out.Error.Code != api.CodeUnknownParameter || out.Error.Field != "cursor" ||
			!strings.Contains(out.Error.Message, "cursor, page_size") {
			t.Errorf("%s %s with unknown parameters: %d %+v", rt.Method, path, code, out.Error)
		}
	}
	// A sync asked with an unknown parameter queues nothing.
	emu, settings := emulator(t, 3, 1)
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync?mode=full", nil, nil); code != http.StatusBadRequest {
		t.Fatalf("sync?mode=full: %d", code)
	}
	if runs, _ := e.st.Runs(t.Context(), e.account.ID, "", 0); len(runs) != 0 {
		t.Fatalf("a refused sync left %d runs", len(runs))
	}
	// The filters a listing documents are taken.
	if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/users?state=active&source=c&search=a&limit=3", nil, nil); code != http.StatusOK {
		t.Fatalf("users with its filters: %d", code)
	}
}

// TestCursorsBelongToTheirListing: a cursor is opaque and names its
// listing; one of another listing, or a forged one, is a 400.
func TestCursorsBelongToTheirListing(t *testing.T) {
	e, _, _, _, _ := pagingEnv(t)
	users := getPage(t, e, "/api/v1/users?limit=1", "users")
	after := users.next[strings.Index(users.next, "after=")+len("after="):]
	after, _, _ = strings.Cut(after, "&")
	for _, path := range []string{"/api/v1/groups?after=" + after, "/api/v1/runs?after=" + after, "/api/v1/events?after=" + after,
		"/api/v1/users/" + users.items[0] + "/changes?after=" + after,
		"/api/v1/users?after=dXNlcnMeZ2FyYmFnZQ"} { // base64url of "users\x1egarbage"
		var out struct{ Error struct{ Code, Field string } }
		if code := e.do(manage.RoleReadOnly, "GET", path, nil, &out); code != http.StatusBadRequest || out.Error.Field != "after" {
			t.Errorf("%s: %d %+v", path, code, out.Error)
		}
	}
}

// TestStaleEventsCursor: a cursor older than the retention, or one this
// feed never gave, answers 410 telling the reader to resynchronize; a
// fresh one reads on.
func TestStaleEventsCursor(t *testing.T) {
	e, _, _, _, _ := pagingEnv(t)
	last, err := e.st.LastEventSeq(t.Context(), e.account.ID)
	if err != nil || last == 0 {
		t.Fatalf("last event %d %v", last, err)
	}
	now := time.Now()
	for _, c := range []struct {
		cursor string
		status int
	}{
		{manage.EventCursor(last-3, now.Add(-manage.DefaultEventRetention-time.Hour)), http.StatusGone},
		{manage.EventCursor(last+1000, now), http.StatusGone},
		{manage.EventCursor(last-3, now.Add(-manage.DefaultEventRetention+time.Hour)), http.StatusOK},
	} {
		var out struct {
			Events []directory.Event
			Error  struct{ Code, Message string }
		}
		code := e.do(manage.RoleReadOnly, "GET", "/api/v1/events?after="+c.cursor, nil, &out)
		if code != c.status {
			t.Errorf("cursor %s: %d, want %d", c.cursor, code, c.status)
		}
		if code == http.StatusGone && (out.Error.Code != manage.CodeCursorExpired || !strings.Contains(out.Error.Message, "30 days") ||
			!strings.Contains(out.Error.Message, "resynchronize")) {
			t.Errorf("410: %+v", out.Error)
		}
		if code == http.StatusOK && len(out.Events) != 3 {
			t.Errorf("a fresh cursor read %d events, want the last 3", len(out.Events))
		}
	}
}

// TestUserLookupsAndFilters: a user by id, username or email; its groups,
// direct and transitive, each holding it; the user filters agree with
// what each user says of itself; groups by name.
func TestUserLookupsAndFilters(t *testing.T) {
	e, src, _, _, _ := pagingEnv(t)
	var all struct{ Users []directory.User }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users?limit=1000", nil, &all)
	u := all.Users[3]
	for _, key := range []string{u.ID, u.Username, strings.ToUpper(u.Email)} {
		var got directory.User
		if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/users/"+url.PathEscape(key), nil, &got); code != 200 || got.ID != u.ID {
			t.Errorf("user by %q: %d %s", key, code, got.ID)
		}
	}
	// Groups of every user, direct within transitive, and each direct group lists the user.
	withGroups := 0
	for _, u := range all.Users {
		var direct, trans struct{ Groups []directory.Group }
		e.do(manage.RoleReadOnly, "GET", "/api/v1/users/"+u.ID+"/groups", nil, &direct)
		e.do(manage.RoleReadOnly, "GET", "/api/v1/users/"+u.ID+"/groups?transitive=true", nil, &trans)
		for _, g := range direct.Groups {
			var ms struct{ Members []directory.Member }
			e.do(manage.RoleReadOnly, "GET", "/api/v1/groups/"+g.ID+"/members", nil, &ms)
			if !slices.ContainsFunc(ms.Members, func(m directory.Member) bool { return m.ID == u.ID }) {
				t.Errorf("%s says it is in %s, whose members do not list it", u.Username, g.Name)
			}
			if !slices.ContainsFunc(trans.Groups, func(x directory.Group) bool { return x.ID == g.ID }) {
				t.Errorf("%s: direct group %s missing from its transitive groups", u.Username, g.Name)
			}
		}
		for _, g := range trans.Groups {
			var ms struct{ Members []directory.Member }
			e.do(manage.RoleReadOnly, "GET", "/api/v1/groups/"+g.ID+"/members?effective=true", nil, &ms)
			if !slices.ContainsFunc(ms.Members, func(m directory.Member) bool { return m.ID == u.ID }) {
				t.Errorf("%s says it is in %s through nesting, whose effective members do not list it", u.Username, g.Name)
			}
			// The group filter agrees.
			var in struct{ Users []directory.User }
			e.do(manage.RoleReadOnly, "GET", "/api/v1/users?limit=1000&group="+url.QueryEscape(g.Name), nil, &in)
			if !slices.ContainsFunc(in.Users, func(x directory.User) bool { return x.ID == u.ID }) {
				t.Errorf("users?group=%s leaves out %s", g.Name, u.Username)
			}
		}
		if len(direct.Groups) > 0 {
			withGroups++
		}
	}
	if withGroups == 0 {
		t.Fatal("no user is in any group: the test proves nothing")
	}
	// Tag and email domain filters against what users hold.
	e.do(manage.RoleUserManager, "PATCH", "/api/v1/users/"+u.ID, map[string]any{"tags": []string{"VIP"}}, nil)
	var tagged struct{ Users []directory.User }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users?tag=vip", nil, &tagged)
	if len(tagged.Users) != 1 || tagged.Users[0].ID != u.ID {
		t.Errorf("users?tag=vip: %d users", len(tagged.Users))
	}
	domain := u.Email[strings.Index(u.Email, "@")+1:]
	var byDomain struct{ Users []directory.User }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users?limit=1000&email_domain="+domain, nil, &byDomain)
	want := 0
	for _, x := range all.Users {
		if strings.HasSuffix(strings.ToLower(x.Email), "@"+strings.ToLower(domain)) {
			want++
		}
	}
	if len(byDomain.Users) != want || want == 0 {
		t.Errorf("users?email_domain=%s: %d, want %d", domain, len(byDomain.Users), want)
	}
	var since struct{ Users []directory.User }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users?updated_since="+url.QueryEscape(u.UpdatedAt.Add(time.Hour).Format(time.RFC3339)), nil, &since)
	if len(since.Users) != 0 {
		t.Errorf("users updated since an hour from now: %d", len(since.Users))
	}
	var g1 struct{ Groups []directory.Group }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/groups?limit=1", nil, &g1)
	var named struct{ Groups []directory.Group }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/groups?source="+src.Name+"&name="+url.QueryEscape(strings.ToUpper(g1.Groups[0].Name)), nil, &named)
	if len(named.Groups) != 1 || named.Groups[0].ID != g1.Groups[0].ID {
		t.Errorf("groups?name=: %+v", named.Groups)
	}
	for _, q := range []string{"updated_since=yesterday", "group=nope", "email_domain=a@b", "transitive=maybe"} {
		path := "/api/v1/users?" + q
		if strings.HasPrefix(q, "transitive") {
			path = "/api/v1/users/" + u.ID + "/groups?" + q
		}
		var out struct{ Error struct{ Field string } }
		if code := e.do(manage.RoleReadOnly, "GET", path, nil, &out); code != 400 || out.Error.Field != strings.Split(q, "=")[0] {
			t.Errorf("%s: %d %+v", path, code, out.Error)
		}
	}
}
