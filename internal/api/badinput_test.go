package api_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// TestNoServerErrorOnBadInput sends every route, as the owner and with
// real ids, a set of malformed queries and bodies: each answer must be a
// 4xx in the error shape (or a success), never a 5xx.
func TestNoServerErrorOnBadInput(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 8, 2)
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	run := e.waitRun(src.ID, 1)
	var users struct{ Users []directory.User }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users", nil, &users)
	var hook api.WebhookView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": "https://h.example/x"}, &hook)

	queries := []string{"limit=abc", "limit=-1", "limit=99999999999999999999", "after=%FF%FE", "after=@@@", "after=-5",
		"after_user=zz", "after_group=!!", "state=weird", "state=", "source=nope", "effective=maybe", "search=" + url.QueryEscape("%_'\";--\x00")}
	bodies := []string{"", "null", "[]", "{", `{"name":null}`, `{"name":7,"kind":[],"settings":"x","secret":1}`, `{"mode":"sideways"}`,
		`{"url":"http://[::1"}`, `{"tags":"x"}`, `{"tags":[1,2]}`, `{"notes":{}}`, `{"role":"god"}`, `{"schedule":{"kind":"weekly","weekdays":[9]}}`,
		`{"schedule":"monthly 31,32,33 25:00"}`, `{"user":""}`, `{"event_types":["x"]}`, `{"settings":{"tenant":"common","unknown":1}}`,
		`{} {}`, strings.Repeat("[", 10000)}
	idRE := regexp.MustCompile(`\{[a-z]+\}`)
	var s api.Server
	n := 0
	for _, rt := range s.Routes() {
		if rt.Method == "DELETE" {
			continue // deletes take no input but the id, covered by the role test
		}
		path := idRE.ReplaceAllStringFunc(rt.Pattern, func(p string) string {
			switch {
			case p == "{kind}":
				return "users"
			case strings.HasPrefix(rt.Pattern, "/api/v1/sources"):
				return src.ID
			case strings.HasPrefix(rt.Pattern, "/api/v1/runs"):
				return run.ID
			case strings.HasPrefix(rt.Pattern, "/api/v1/webhooks"):
				return hook.ID
			default:
				return users.Users[0].ID
			}
		})
		for _, q := range queries {
			var body any
			if rt.Method != "GET" {
				body = "{}"
			}
			code := e.do(manage.RoleOwner, rt.Method, path+"?"+q, body, nil)
			n++
			if code >= 500 && code != http.StatusNotImplemented {
				t.Errorf("%s %s?%s: %d", rt.Method, path, q, code)
			}
		}
		if rt.Method == "GET" {
			continue
		}
		for _, b := range bodies {
			code := e.do(manage.RoleOwner, rt.Method, path, b, nil)
			n++
			if code >= 500 && code != http.StatusNotImplemented {
				t.Errorf("%s %s with %.40q: %d", rt.Method, path, b, code)
			}
		}
	}
	t.Logf("%d bad requests, no server error", n)
}
