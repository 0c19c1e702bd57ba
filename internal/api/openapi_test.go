package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/manage"
)

func loadSpec(t *testing.T, serverURL string) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: serverURL + "/api/v1"}}
	// The export is NDJSON: the document says what each line is
	// (ExportLine); its body is checked as text.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.FileBodyDecoder)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// TestOpenAPIDescribesEveryRoute checks the document against the route
// table: the same operations, with the same least role.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc, _ := loadSpec(t, "http://127.0.0.1")
	var s api.Server
	seen := 0
	for _, rt := range s.Routes() {
		p := doc.Paths.Find(strings.TrimPrefix(rt.Pattern, "/api/v1"))
		if p == nil {
			t.Errorf("%s %s is not in openapi.json", rt.Method, rt.Pattern)
			continue
		}
		op := p.GetOperation(rt.Method)
		if op == nil {
			t.Errorf("%s %s is not in openapi.json", rt.Method, rt.Pattern)
			continue
		}
		seen++
		wantRole := string(manage.MinRole(rt.Action))
		if rt.Public {
			wantRole = "none"
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s %s needs no token, but openapi.json asks for one", rt.Method, rt.Pattern)
			}
		}
		if role, _ := op.Extensions["x-min-role"].(string); role != wantRole {
			t.Errorf("%s %s: openapi.json says %q, manage %q", rt.Method, rt.Pattern, role, wantRole)
		}
		// The query parameters documented are those the server takes
		// (any other is a 400).
		var documented []string
		for _, ps := range []openapi3.Parameters{p.Parameters, op.Parameters} {
			for _, pr := range ps {
				if pr.Value.In == openapi3.ParameterInQuery {
					documented = append(documented, pr.Value.Name)
				}
			}
		}
		if got, want := slices.Sorted(slices.Values(documented)), slices.Sorted(slices.Values(rt.Query)); !slices.Equal(got, want) {
			t.Errorf("%s %s: openapi.json documents query parameters %v, the server takes %v", rt.Method, rt.Pattern, got, want)
		}
	}
	ops := 0
	for _, p := range doc.Paths.Map() {
		ops += len(p.Operations())
	}
	if ops != seen {
		t.Errorf("openapi.json has %d operations, the server %d", ops, seen)
	}
}

// TestResponsesMatchOpenAPI validates real answers, successes and errors,
// against the document.
func TestResponsesMatchOpenAPI(t *testing.T) {
	e := newEnv(t)
	_, router := loadSpec(t, e.srv.URL)
	emu, settings := emulator(t, 20, 3)

	call := func(role manage.Role, method, path string, body any) []byte {
		t.Helper()
		var data []byte
		if body != nil {
			data, _ = json.Marshal(body)
		}
		req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		// Route the request as the document sees it.
		vreq, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(data))
		vreq.Header = req.Header
		route, params, err := router.FindRoute(vreq)
		if err != nil {
			t.Fatalf("%s %s: not in the document: %v", method, path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(out)),
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		}); err != nil {
			t.Errorf("%s %s -> %d does not match openapi.json: %v\n%.500s", method, path, resp.StatusCode, err, out)
		}
		return out
	}
	var src api.SourceView
	json.Unmarshal(call(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings, "secret": emu.Credentials().ClientSecret}), &src)
	call(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings, "secret": "x"})
	call(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": ""})
	call(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/test", nil)
	call(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", map[string]string{"mode": "full"})
	run := e.waitRun(src.ID, 1)
	call(manage.RoleReadOnly, "GET", "/api/v1/sources", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/sources/"+src.ID, nil)
	call(manage.RoleAdministrator, "PATCH", "/api/v1/sources/"+src.ID, map[string]any{"schedule": "weekly mon,thu 08:00 in America/New_York"})
	call(manage.RoleReadOnly, "GET", "/api/v1/runs", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/runs/"+run.ID, nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/runs/"+run.ID+"/changes?limit=50", nil)
	var users struct{ Users []map[string]any }
	json.Unmarshal(call(manage.RoleReadOnly, "GET", "/api/v1/users?limit=5", nil), &users)
	uid := users.Users[0]["id"].(string)
	call(manage.RoleReadOnly, "GET", "/api/v1/users/"+uid, nil)
	call(manage.RoleUserManager, "PATCH", "/api/v1/users/"+uid, map[string]any{"tags": []string{"a"}})
	call(manage.RoleUserManager, "PATCH", "/api/v1/users/"+uid, map[string]any{"surname": "X"})
	var groups struct{ Groups []map[string]any }
	json.Unmarshal(call(manage.RoleReadOnly, "GET", "/api/v1/groups", nil), &groups)
	gid := groups.Groups[0]["id"].(string)
	call(manage.RoleReadOnly, "GET", "/api/v1/groups/"+gid, nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/groups/"+gid+"/members?effective=true", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/trash", nil)
	call(manage.RoleUserManager, "POST", "/api/v1/trash/users/"+uid+"/restore", nil)
	call(manage.RoleAdministrator, "DELETE", "/api/v1/trash/users/"+uid, nil)
	call(manage.RoleHelpDesk, "POST", "/api/v1/sources/"+src.ID+"/sync-user", map[string]any{"user": users.Users[0]["username"]})
	call(manage.RoleHelpDesk, "POST", "/api/v1/sources/"+src.ID+"/sync-user", map[string]any{"user": "nobody@nowhere.example"})
	call(manage.RoleReadOnly, "GET", "/api/v1/events?limit=3", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/export", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/users/"+uid+"/groups?transitive=true", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/users?page_size=3", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/events?after="+manage.EventCursor(1, time.Now().Add(-manage.DefaultEventRetention-time.Hour)), nil)
	var hook api.WebhookView
	json.Unmarshal(call(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example/x"}), &hook)
	call(manage.RoleReadOnly, "GET", "/api/v1/webhooks", nil)
	call(manage.RoleAdministrator, "PATCH", "/api/v1/webhooks/"+hook.ID, map[string]any{"enabled": false})
	call(manage.RoleReadOnly, "GET", "/api/v1/webhooks/"+hook.ID+"/deliveries", nil)
	call(manage.RoleOwner, "GET", "/api/v1/tokens", nil)
	call(manage.RoleOwner, "POST", "/api/v1/tokens", map[string]any{"role": "help_desk"})
	call(manage.RoleReadOnly, "GET", "/api/v1/tokens", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/account", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/accounts", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/openapi.json", nil)
	call(manage.RoleAdministrator, "DELETE", "/api/v1/webhooks/"+hook.ID, nil)

	// A target fed by an LDAP source, in staging mode: added, tested,
	// synced (a staged plan), its errors, runs and one run.
	call(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "corp", "kind": "ldap", "secret": "pw",
		"settings": map[string]any{"urls": []string{"ldaps://127.0.0.1:1"}, "base_dn": "DC=corp,DC=example", "bind_dn": "svc@corp.example"}})
	tset := map[string]any{}
	for k, v := range settings {
		tset[k] = v
	}
	tset["client_id"] = emu.Credentials().WriteApp.ClientID
	var tgt api.TargetView
	json.Unmarshal(call(manage.RoleAdministrator, "POST", "/api/v1/targets", map[string]any{"name": "cloud", "settings": tset,
		"secret": emu.Credentials().WriteApp.ClientSecret, "sources": []string{"corp"}, "staging": true}), &tgt)
	call(manage.RoleAdministrator, "POST", "/api/v1/targets", map[string]any{"name": "cloud", "settings": tset, "secret": "x"})
	call(manage.RoleReadOnly, "GET", "/api/v1/targets", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/targets/"+tgt.ID, nil)
	call(manage.RoleAdministrator, "PATCH", "/api/v1/targets/"+tgt.ID, map[string]any{"usage_location": "US", "flows": map[string]string{"jobTitle": "department"}})
	call(manage.RoleAdministrator, "POST", "/api/v1/targets/"+tgt.ID+"/test", nil)
	var xrun api.ExportRunView
	json.Unmarshal(call(manage.RoleAdministrator, "POST", "/api/v1/targets/"+tgt.ID+"/sync", map[string]any{"mode": "full"}), &xrun)
	if xrun.Outcome != "staged" {
		t.Errorf("a staging target's sync: %+v", xrun)
	}
	call(manage.RoleAdministrator, "POST", "/api/v1/targets/"+tgt.ID+"/sync", map[string]any{"mode": "sideways"})
	call(manage.RoleReadOnly, "GET", "/api/v1/targets/"+tgt.ID+"/errors", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/targets/"+tgt.ID+"/runs", nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/targets/"+tgt.ID+"/runs/"+xrun.ID, nil)
	cfg := call(manage.RoleAdministrator, "GET", "/api/v1/config", nil)
	call(manage.RoleAdministrator, "POST", "/api/v1/config/import", map[string]any{"config": json.RawMessage(cfg), "dry_run": true})
	call(manage.RoleAdministrator, "POST", "/api/v1/config/import", map[string]any{"config": map[string]any{"version": 7}})
	call(manage.RoleReadOnly, "GET", "/api/v1/config", nil)
	call(manage.RoleAdministrator, "DELETE", "/api/v1/targets/"+tgt.ID, nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/targets/"+tgt.ID, nil)
	call(manage.RoleAdministrator, "DELETE", "/api/v1/sources/"+src.ID, nil)
	call(manage.RoleReadOnly, "GET", "/api/v1/sources/"+src.ID, nil)
}
