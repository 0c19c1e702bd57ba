package entraemu

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
)

// newFakeClock is a clock for the tenant that moves only when told: token
// expiry, delta token age, deleted items retention and throttling buckets
// all read it.
func newFakeClock() *clock.Fake {
	return clock.NewFake(time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC))
}

func mustJSON(v any) []byte { return jsonw.Marshal(v) }

// claims are the access token claims the tests read.
type claims struct {
	Tid, AppID, Idtyp, AppIDAcr string
	Roles                       []string
	Exp, Iat                    int64
}

// tokenClaims decodes an access token's claims, without checking it.
func tokenClaims(t testing.TB, tok string) claims {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Tid      string   `json:"tid"`
		AppID    string   `json:"appid"`
		Idtyp    string   `json:"idtyp"`
		AppIDAcr string   `json:"appidacr"`
		Roles    []string `json:"roles"`
		Exp      int64    `json:"exp"`
		Iat      int64    `json:"iat"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return claims(c)
}

// start builds a tenant and serves it on 127.0.0.1 for the test.
func start(t testing.TB, opts Options) (*Tenant, *Server) {
	t.Helper()
	tn, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s, err := tn.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return tn, s
}

// secretCredential is how dirsync's client authenticates: azidentity with
// the emulator as a custom authority, instance discovery off, and a
// transport that trusts the emulator's CA.
func secretCredential(t testing.TB, s *Server, tenant, clientID, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL()},
			Transport: s.HTTPClient(),
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatalf("NewClientSecretCredential: %v", err)
	}
	return cred
}

func getToken(t testing.TB, s *Server, cred azcore.TokenCredential) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.URL() + "/.default"}})
	return tok.Token, err
}

// client is a minimal Graph client for the tests.
type client struct {
	t     testing.TB
	s     *Server
	hc    *http.Client
	token string
}

func newClient(t testing.TB, s *Server) *client {
	t.Helper()
	c := s.Credentials()
	tok, err := getToken(t, s, secretCredential(t, s, c.TenantID, c.ClientID, c.ClientSecret))
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return &client{t: t, s: s, hc: s.HTTPClient(), token: tok}
}

func newAdminClient(t testing.TB, s *Server) *client {
	t.Helper()
	c := s.AdminCredentials()
	tok, err := getToken(t, s, secretCredential(t, s, c.TenantID, c.ClientID, c.ClientSecret))
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return &client{t: t, s: s, hc: s.HTTPClient(), token: tok}
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r *response) errorCode() string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r *response) errorMessage() string {
	e, _ := r.body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

func (r *response) values() []map[string]any {
	vs, _ := r.body["value"].([]any)
	out := make([]map[string]any, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.(map[string]any))
	}
	return out
}

func (r *response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// do sends a request to a path below the server ("/v1.0/users") or to an
// absolute URL (a nextLink), with headers as name, value pairs.
func (c *client) do(method, path string, body any, headers ...string) *response {
	c.t.Helper()
	u := path
	if !strings.HasPrefix(u, "https://") {
		u = c.s.URL() + path
	}
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			rd = bytes.NewReader(mustJSON(b))
		}
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	out := &response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			c.t.Fatalf("%s %s: invalid JSON %q: %v", method, path, raw, err)
		}
	}
	return out
}

func (c *client) get(path string, headers ...string) *response {
	c.t.Helper()
	return c.do("GET", path, nil, headers...)
}

func (c *client) mustGet(path string, headers ...string) *response {
	c.t.Helper()
	r := c.get(path, headers...)
	if r.status != 200 {
		c.t.Fatalf("GET %s: %d %s", path, r.status, r.raw)
	}
	return r
}

// all follows nextLinks from path and returns every value.
func (c *client) all(path string, headers ...string) (values []map[string]any, pages int) {
	c.t.Helper()
	next := path
	for next != "" {
		r := c.mustGet(next, headers...)
		values = append(values, r.values()...)
		pages++
		next = r.str("@odata.nextLink")
		if pages > 10000 {
			c.t.Fatal("paging does not end")
		}
	}
	return values, pages
}

func ids(values []map[string]any) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		out = append(out, v["id"].(string))
	}
	return out
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
