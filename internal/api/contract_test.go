package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/api/client"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// checkAgainstDoc validates one exchange against the document: the status
// must be one the operation lists (not only its default), and the body
// and headers must match what it says of that status.
func checkAgainstDoc(t *testing.T, doc *openapi3.T, router routers.Router, req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	t.Helper()
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := router.FindRoute(vreq)
	if err != nil {
		t.Errorf("%s %s: not in the document: %v", req.Method, req.URL.Path, err)
		return
	}
	if route.Operation.Responses.Status(resp.StatusCode) == nil {
		t.Errorf("%s %s answered %d, which the document does not list: %.300s", req.Method, req.URL.Path, resp.StatusCode, body)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}); err != nil {
		t.Errorf("%s %s -> %d does not match openapi.json: %v\n%.500s", req.Method, req.URL, resp.StatusCode, err, body)
	}
}

// contractClient is a client whose every exchange is checked against the
// document.
type contractClient struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	base   string
	codes  map[string][]int // "METHOD /path" -> statuses seen
}

func (cc *contractClient) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	checkAgainstDoc(cc.t, cc.doc, cc.router, req, reqBody, resp, body)
	if route, _, err := cc.router.FindRoute(req); err == nil {
		k := route.Method + " " + route.Path
		cc.codes[k] = append(cc.codes[k], resp.StatusCode)
	}
	return resp, nil
}

// TestContract walks every operation of the OpenAPI document through the
// client, with each role's token where it matters: a call a role may
// make, the same without a token (401, with WWW-Authenticate), and with a
// query parameter the operation does not take (400); every answer,
// success or error, headers included, is checked against the document.
// TestEveryListingIsPaged: every GET of the document that answers a list
// of resources takes limit and after and answers next and a Link header:
// no listing is left whole (the events feed has its own cursor and poll,
// the export streams).
func TestEveryListingIsPaged(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	lists := 0
	for path, item := range doc.Paths.Map() {
		o := item.Get
		if o == nil || path == "/events" {
			continue
		}
		ok := o.Responses.Status(200)
		if ok == nil || ok.Value.Content.Get("application/json") == nil {
			continue
		}
		ref := ok.Value.Content.Get("application/json").Schema
		if ref.Ref != "" {
			continue // a resource (its lists are its own fields), not a listing
		}
		schema := ref.Value
		isList := false
		for _, p := range schema.Properties {
			if p.Value.Type.Is("array") && p.Value.Items != nil && p.Value.Items.Ref != "" {
				isList = true
			}
		}
		if !isList {
			continue
		}
		lists++
		var params []string
		for _, p := range o.Parameters {
			params = append(params, p.Value.Name)
		}
		if !slices.Contains(params, "limit") || !slices.Contains(params, "after") || schema.Properties["next"] == nil || ok.Value.Headers["Link"] == nil {
			t.Errorf("GET %s lists without paging: parameters %v, next %v, Link %v", path, params, schema.Properties["next"] != nil, ok.Value.Headers["Link"] != nil)
		}
	}
	if lists < 18 {
		t.Fatalf("only %d listings found in the document", lists)
	}
	t.Logf("%d listings, each paged", lists)
}

func TestContract(t *testing.T) {
	e, src, run, groupID, hookID := pagingEnv(t)
	doc, router := loadSpec(t, e.srv.URL)
	cc := &contractClient{t: t, doc: doc, router: router, base: e.srv.URL, codes: map[string][]int{}}
	clientFor := func(role manage.Role) *client.Client {
		c := client.New(e.srv.URL, e.tokens[role])
		c.HTTP = &http.Client{Transport: cc}
		return c
	}
	ctx := t.Context()
	owner := clientFor(manage.RoleOwner)
	emu2, settings2 := emulatorSeed(t, 2, 1, 11)

	// What the path parameters name.
	var users []directory.User
	for u, err := range owner.Users(ctx, client.UserFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	var trashed []directory.User
	for u, err := range owner.Users(ctx, client.UserFilter{State: "pending_deletion"}) {
		if err != nil {
			t.Fatal(err)
		}
		trashed = append(trashed, u)
	}
	var tok struct{ ID string }
	owner.Call(ctx, client.Request{Op: client.Operation{Method: "POST", Path: "/tokens"}, Body: map[string]any{"role": "read_only", "name": "contract"}}, &tok)
	params := func(path string) []string {
		var out []string
		for _, seg := range strings.Split(path, "/") {
			switch {
			case seg == "{kind}":
				out = append(out, "users")
			case seg == "{run}":
				out = append(out, "missing")
			case seg != "{id}":
			case strings.HasPrefix(path, "/sources"):
				out = append(out, src.ID)
			case strings.HasPrefix(path, "/runs"):
				out = append(out, run.ID)
			case strings.HasPrefix(path, "/groups"):
				out = append(out, groupID)
			case strings.HasPrefix(path, "/trash"):
				out = append(out, trashed[0].ID)
			case strings.HasPrefix(path, "/webhooks"):
				out = append(out, hookID)
			case strings.HasPrefix(path, "/tokens"):
				out = append(out, tok.ID)
			case strings.HasPrefix(path, "/users"):
				out = append(out, users[1].ID)
			default:
				out = append(out, "missing")
			}
		}
		return out
	}
	bodies := map[string]any{
		"POST /sources":                      map[string]any{"name": "second", "kind": "entra", "settings": settings2, "secret": emu2.Credentials().ClientSecret, "schedule": "none"},
		"PATCH /sources/{id}":                map[string]any{"description": "contract"},
		"POST /sources/{id}/sync":            map[string]any{"mode": "dry_run"},
		"POST /sources/{id}/sync-user":       map[string]any{"user": users[1].Username, "dry_run": true},
		"PATCH /users/{id}":                  map[string]any{"tags": []string{"contract"}},
		"POST /webhooks":                     map[string]any{"url": "https://hooks.example/contract"},
		"PATCH /webhooks/{id}":               map[string]any{"enabled": false},
		"POST /tokens":                       map[string]any{"role": "help_desk"},
		"PATCH /enrollments/settings":        map[string]any{"subject": "Welcome"},
		"POST /enrollments/verify":           map[string]any{"token": "nope"},
		"POST /users/{id}/enrollment":        map[string]any{},
		"POST /mail/test":                    map[string]any{"to": "admin@example.com"},
		"POST /targets":                      map[string]any{},
		"PATCH /targets/{id}":                map[string]any{},
		"POST /users/{id}/enrollment/resend": nil,
	}
	type op struct {
		method, path string
		o            *openapi3.Operation
	}
	var ops []op
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			ops = append(ops, op{method, path, o})
		}
	}
	// Reads first, then changes, deletes last (they remove what the
	// others name).
	rank := map[string]int{"GET": 0, "POST": 1, "PATCH": 1, "DELETE": 2}
	slices.SortFunc(ops, func(a, b op) int {
		if d := rank[a.method] - rank[b.method]; d != 0 {
			return d
		}
		return strings.Compare(a.path, b.path)
	})
	anon := client.New(e.srv.URL, "")
	anon.HTTP = &http.Client{Transport: cc}
	for _, o := range ops {
		key := o.method + " " + o.path
		role := manage.Role(o.o.Extensions["x-min-role"].(string))
		c := owner
		if role != "none" {
			c = clientFor(role)
		}
		req := client.Request{Op: client.Operation{Method: o.method, Path: o.path}, Params: params(o.path)}
		if o.method == "POST" || o.method == "PATCH" {
			req.Body = bodies[key]
			if req.Body == nil {
				req.Body = map[string]any{}
			}
		}
		// Without a token: 401 and WWW-Authenticate, unless public.
		if role != "none" {
			_, err := anon.Do(ctx, req)
			if client.StatusOf(err) != http.StatusUnauthorized {
				t.Errorf("%s without a token: %v", key, err)
			}
		}
		// An unknown query parameter: 400 naming it; nothing done.
		bad := req
		bad.Query = url.Values{"page_size": {"5"}}
		var apiErr *client.Error
		if _, err := c.Do(ctx, bad); !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Field != "page_size" {
			t.Errorf("%s?page_size=5: %v", key, err)
		}
		// The call itself, as the least role that may make it.
		resp, err := c.Do(ctx, req)
		if err == nil {
			resp.Body.Close()
		}
	}
	// Every operation was called, and most succeeded.
	ok := 0
	for _, o := range ops {
		codes := cc.codes[o.method+" "+o.path]
		if len(codes) < 2 {
			t.Errorf("%s %s: called %d times", o.method, o.path, len(codes))
		}
		if slices.ContainsFunc(codes, func(c int) bool { return c < 300 }) {
			ok++
		}
	}
	t.Logf("%d operations, %d answered 2xx, every answer checked against openapi.json", len(ops), ok)
	// The operations the client types succeed: the walk proves their
	// success answers, not only their errors.
	for _, o := range client.Operations {
		if !slices.ContainsFunc(cc.codes[o.Method+" "+o.Path], func(c int) bool { return c < 300 }) {
			t.Errorf("%s %s never succeeded: %v", o.Method, o.Path, cc.codes[o.Method+" "+o.Path])
		}
	}
}
