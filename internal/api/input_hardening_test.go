package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

type apiError struct {
	Error struct{ Code, Message, Field string }
}

// TestSearchBounds is issue 10's points 10 and 14: a search longer than
// 400 characters was a 500 ("LIKE or GLOB pattern too complex"), and a
// search holding a NUL returned every row. Both are invalid input now,
// naming the field, on users and groups alike.
func TestSearchBounds(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 6, 2)
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	e.waitRun(src.ID, 1)
	for _, list := range []string{"users", "groups"} {
		for _, q := range []string{strings.Repeat("a", 401), strings.Repeat("x", 50001), "\x00", "a\x00", "%\x00"} {
			var out apiError
			code := e.do(manage.RoleReadOnly, "GET", "/api/v1/"+list+"?search="+url.QueryEscape(q), nil, &out)
			if code != http.StatusBadRequest || out.Error.Field != "search" {
				t.Errorf("%s search of %d bytes %.8q: %d %+v, want 400 naming search", list, len(q), q, code, out)
			}
		}
		// At the bound, a search is a search: it finds nothing, no error.
		var page struct{ Users, Groups []any }
		if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/"+list+"?search="+strings.Repeat("a", 400), nil, &page); code != http.StatusOK {
			t.Errorf("%s search of 400 characters: %d", list, code)
		}
	}
}

// TestNullBodiesRefused: a null body answered 200 and {"tags":null}
// cleared a user's tags; each is a 400 now, and the stored user keeps
// its tags.
func TestNullBodiesRefused(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 4, 1)
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	e.waitRun(src.ID, 1)
	var users struct{ Users []directory.User }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users", nil, &users)
	id := users.Users[0].ID
	if code := e.do(manage.RoleAdministrator, "PATCH", "/api/v1/users/"+id, `{"tags":["vip"]}`, nil); code != http.StatusOK {
		t.Fatalf("set tags: %d", code)
	}
	var hook api.WebhookView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": "https://h.example/x"}, &hook)
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "/api/v1/users/" + id, "null"},
		{"PATCH", "/api/v1/users/" + id, " null "},
		{"PATCH", "/api/v1/users/" + id, `{"tags":null}`},
		{"PATCH", "/api/v1/users/" + id, `[]`},
		{"PATCH", "/api/v1/users/" + id, `"x"`},
		{"PATCH", "/api/v1/sources/" + src.ID, "null"},
		{"PATCH", "/api/v1/webhooks/" + hook.ID, "null"},
		{"POST", "/api/v1/webhooks", "null"},
		{"POST", "/api/v1/tokens", "null"},
	} {
		var out apiError
		if code := e.do(manage.RoleOwner, c.method, c.path, c.body, &out); code != http.StatusBadRequest {
			t.Errorf("%s %s %s: %d %+v, want 400", c.method, c.path, c.body, code, out)
		}
	}
	var u directory.User
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users/"+id, nil, &u)
	if !slices.Equal(u.Tags, []string{"vip"}) {
		t.Errorf("tags after refused edits: %q, want [vip]", u.Tags)
	}
	var hooks struct{ Webhooks []api.WebhookView }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/webhooks", nil, &hooks)
	if len(hooks.Webhooks) != 1 {
		t.Errorf("%d webhooks after a null create, want 1", len(hooks.Webhooks))
	}
}
