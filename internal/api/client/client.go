// Package client is a small Go client of dirsync's REST API v1: a bearer
// token, the one error shape as a Go error, listings followed page by
// page through their next links, conditional updates by ETag, the export
// and the events feed. Every operation it calls is listed in Operations,
// which a test checks against the OpenAPI document (api/openapi.json), and
// the contract test drives the server through it, so neither the client
// nor the document can drift from the server.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
)

// Operation is one operation of the API: a method and a path template
// under /api/v1, as the OpenAPI document writes them.
type Operation struct {
	Method, Path string
}

// Operations the typed methods of Client call.
var (
	OpGetAccount     = Operation{"GET", "/account"}
	OpListSources    = Operation{"GET", "/sources"}
	OpCreateSource   = Operation{"POST", "/sources"}
	OpGetSource      = Operation{"GET", "/sources/{id}"}
	OpUpdateSource   = Operation{"PATCH", "/sources/{id}"}
	OpDeleteSource   = Operation{"DELETE", "/sources/{id}"}
	OpSync           = Operation{"POST", "/sources/{id}/sync"}
	OpListRuns       = Operation{"GET", "/runs"}
	OpGetRun         = Operation{"GET", "/runs/{id}"}
	OpListChanges    = Operation{"GET", "/runs/{id}/changes"}
	OpListUsers      = Operation{"GET", "/users"}
	OpGetUser        = Operation{"GET", "/users/{id}"}
	OpUpdateUser     = Operation{"PATCH", "/users/{id}"}
	OpListUserGroups = Operation{"GET", "/users/{id}/groups"}
	OpListGroups     = Operation{"GET", "/groups"}
	OpGetGroup       = Operation{"GET", "/groups/{id}"}
	OpListMembers    = Operation{"GET", "/groups/{id}/members"}
	OpListTrash      = Operation{"GET", "/trash"}
	OpEvents         = Operation{"GET", "/events"}
	OpExport         = Operation{"GET", "/export"}
	OpListWebhooks   = Operation{"GET", "/webhooks"}
	OpCreateWebhook  = Operation{"POST", "/webhooks"}
	OpDeleteWebhook  = Operation{"DELETE", "/webhooks/{id}"}
	OpListDeliveries = Operation{"GET", "/webhooks/{id}/deliveries"}
)

// Operations lists every operation the typed methods call.
var Operations = []Operation{OpGetAccount, OpListSources, OpCreateSource, OpGetSource, OpUpdateSource, OpDeleteSource, OpSync,
	OpListRuns, OpGetRun, OpListChanges, OpListUsers, OpGetUser, OpUpdateUser, OpListUserGroups, OpListGroups, OpGetGroup,
	OpListMembers, OpListTrash, OpEvents, OpExport, OpListWebhooks, OpCreateWebhook, OpDeleteWebhook, OpListDeliveries}

// Client calls one dirsync server with one token.
type Client struct {
	// BaseURL is the server's address, without /api/v1.
	BaseURL string
	Token   string
	HTTP    *http.Client // nil means http.DefaultClient
}

// New returns a client of the server at baseURL.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimSuffix(baseURL, "/"), Token: token}
}

// Error is the API's one error shape, with the status it came with.
type Error struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("dirsync: %d %s (%s): %s", e.Status, e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("dirsync: %d %s: %s", e.Status, e.Code, e.Message)
}

// StatusOf is the HTTP status of an API error, 0 for any other error.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Request is one call: an operation, its path parameters in order, and
// what else it carries.
type Request struct {
	Op     Operation
	Params []string   // the path template's {...} in order
	Query  url.Values // nil for none
	Body   any        // marshalled to JSON; nil for none
	Header http.Header
	// URL, when set, is a URL the API gave (a next link), used as is.
	URL string
}

// path fills the template's parameters.
func (r Request) path() (string, error) {
	p, params := r.Op.Path, r.Params
	for strings.Contains(p, "{") {
		if len(params) == 0 {
			return "", fmt.Errorf("dirsync: %s %s: a path parameter is missing", r.Op.Method, r.Op.Path)
		}
		i, j := strings.Index(p, "{"), strings.Index(p, "}")
		p = p[:i] + url.PathEscape(params[0]) + p[j+1:]
		params = params[1:]
	}
	return "/api/v1" + p, nil
}

// Do sends the request and returns the response, its body unread, when
// the status is below 400; otherwise the API's error.
func (c *Client) Do(ctx context.Context, r Request) (*http.Response, error) {
	target := r.URL
	if target == "" {
		p, err := r.path()
		if err != nil {
			return nil, err
		}
		target = p
		if len(r.Query) > 0 {
			target += "?" + r.Query.Encode()
		}
	}
	var body io.Reader
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return nil, fmt.Errorf("dirsync: %s %s: %w", r.Op.Method, r.Op.Path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Op.Method, c.BaseURL+target, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("dirsync: %s %s: %w", r.Op.Method, r.Op.Path, err)
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	defer resp.Body.Close()
	var eb struct{ Error *Error }
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(data, &eb) != nil || eb.Error == nil {
		return nil, &Error{Status: resp.StatusCode, Code: "http", Message: strings.TrimSpace(string(data))}
	}
	eb.Error.Status = resp.StatusCode
	return nil, eb.Error
}

// Call sends the request and decodes a JSON answer into out (when not
// nil); it returns the response's header.
func (c *Client) Call(ctx context.Context, r Request, out any) (http.Header, error) {
	resp, err := c.Do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.Header, fmt.Errorf("dirsync: %s %s: decode: %w", r.Op.Method, r.Op.Path, err)
		}
	}
	return resp.Header, nil
}

// List reads every item of a listing, page after page by its next links;
// key is the name of the items in a page ("users"). It stops at the first
// error, which it yields.
func List[T any](ctx context.Context, c *Client, r Request, key string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			var page map[string]json.RawMessage
			if _, err := c.Call(ctx, r, &page); err != nil {
				var zero T
				yield(zero, err)
				return
			}
			var items []T
			if err := json.Unmarshal(page[key], &items); err != nil {
				var zero T
				yield(zero, fmt.Errorf("dirsync: %s %s: %s: %w", r.Op.Method, r.Op.Path, key, err))
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			var next string
			if raw, ok := page["next"]; !ok || json.Unmarshal(raw, &next) != nil || next == "" {
				return
			}
			r.URL = next
		}
	}
}
