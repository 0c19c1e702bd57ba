package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// send is a request with extra headers; it answers the status, the
// headers and the body.
func (e *env) send(role manage.Role, method, path string, body any, hdr map[string]string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// TestConditionalRequests: GET gives an ETag and answers 304 to it; a
// PATCH or DELETE made against an older ETag is a 412 that changes
// nothing; against the current one it goes through with a new ETag.
func TestConditionalRequests(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 4, 1)
	code, h, body := e.send(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra",
		"settings": settings, "secret": emu.Credentials().ClientSecret, "schedule": "none"}, nil)
	var src api.SourceView
	json.Unmarshal(body, &src)
	if code != 201 || h.Get("Location") != "/api/v1/sources/"+src.ID || h.Get("ETag") == "" {
		t.Fatalf("create: %d Location %q ETag %q", code, h.Get("Location"), h.Get("ETag"))
	}
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	e.waitRun(src.ID, 1)
	var users struct{ Users []directory.User }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/users?limit=1", nil, &users)
	var hook api.WebhookView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": "https://h.example/x"}, &hook)

	for _, c := range []struct {
		path          string
		patch, patch2 map[string]any
		stored        func() string // what the refused change would have changed
	}{
		{"/api/v1/sources/" + src.ID, map[string]any{"description": "one"}, map[string]any{"description": "two"}, func() string {
			s, _ := e.st.Source(t.Context(), e.account.ID, src.ID)
			return s.Description
		}},
		{"/api/v1/users/" + users.Users[0].ID, map[string]any{"notes": "one"}, map[string]any{"notes": "two"}, func() string {
			u, _ := e.st.User(t.Context(), e.account.ID, users.Users[0].ID)
			return u.Notes
		}},
		{"/api/v1/webhooks/" + hook.ID, map[string]any{"url": "https://h.example/one"}, map[string]any{"url": "https://h.example/two"}, func() string {
			w, _ := e.st.Webhook(t.Context(), e.account.ID, hook.ID)
			return w.URL
		}},
	} {
		_, h, _ := e.send(manage.RoleOwner, "GET", c.path, nil, nil)
		old := h.Get("ETag")
		if code, h, body := e.send(manage.RoleOwner, "GET", c.path, nil, map[string]string{"If-None-Match": old}); code != 304 || len(body) != 0 || h.Get("ETag") != old {
			t.Errorf("%s If-None-Match current: %d %q", c.path, code, body)
		}
		code, h, _ := e.send(manage.RoleOwner, "PATCH", c.path, c.patch, map[string]string{"If-Match": old})
		current := h.Get("ETag")
		if code != 200 || current == "" || current == old {
			t.Fatalf("%s PATCH If-Match current: %d ETag %q (was %q)", c.path, code, current, old)
		}
		if code, _, _ := e.send(manage.RoleOwner, "GET", c.path, nil, map[string]string{"If-None-Match": old}); code != 200 {
			t.Errorf("%s If-None-Match stale: %d", c.path, code)
		}
		var refusal struct{ Error struct{ Code string } }
		code, _, body := e.send(manage.RoleOwner, "PATCH", c.path, c.patch2, map[string]string{"If-Match": old})
		json.Unmarshal(body, &refusal)
		if code != http.StatusPreconditionFailed || refusal.Error.Code != manage.CodePreconditionFailed {
			t.Errorf("%s PATCH against a stale ETag: %d %s", c.path, code, body)
		}
		if got := c.stored(); got != c.patch[firstKey(c.patch)] {
			t.Errorf("%s: a refused PATCH left %q stored", c.path, got)
		}
		if code, _, _ := e.send(manage.RoleOwner, "PATCH", c.path, c.patch2, map[string]string{"If-Match": "not quoted"}); code != 400 {
			t.Errorf("%s If-Match malformed: %d", c.path, code)
		}
	}
	// DELETE against a stale ETag keeps the webhook; against * removes it.
	if code, _, _ := e.send(manage.RoleOwner, "DELETE", "/api/v1/webhooks/"+hook.ID, nil, map[string]string{"If-Match": `"0000"`}); code != 412 {
		t.Fatalf("DELETE stale: %d", code)
	}
	if _, err := e.st.Webhook(t.Context(), e.account.ID, hook.ID); err != nil {
		t.Fatalf("a refused DELETE removed the webhook: %v", err)
	}
	if code, _, _ := e.send(manage.RoleOwner, "DELETE", "/api/v1/webhooks/"+hook.ID, nil, map[string]string{"If-Match": "*"}); code != 204 {
		t.Fatalf("DELETE *: %d", code)
	}
	// A route that cannot honour If-Match refuses it.
	if code, _, _ := e.send(manage.RoleOwner, "DELETE", "/api/v1/tokens/x", nil, map[string]string{"If-Match": "*"}); code != 400 {
		t.Fatalf("If-Match on tokens: %d", code)
	}
	// 401 says how to authenticate.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/users", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func firstKey(m map[string]any) string {
	for k := range m {
		return k
	}
	return ""
}
