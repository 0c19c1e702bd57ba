package entra_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/graph/graphtest"
)

// healthyTenant answers what Check reads.
func healthyTenant(t *testing.T, e *env) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1.0/organization":
			io.WriteString(w, `{"value":[{"id":"84841066-274d-4ec0-a5c1-276be684bdd3","displayName":"Contoso","verifiedDomains":[{"isDefault":false,"isInitial":true,"name":"contoso.onmicrosoft.com","type":"Managed"},{"isDefault":true,"isInitial":false,"name":"contoso.com","type":"Managed"}]}]}`)
		case "/v1.0/users":
			if r.URL.Query().Get("$top") != "1" {
				t.Errorf("Check read more than one user: %s", r.URL.RawQuery)
			}
			io.WriteString(w, `{"@odata.nextLink":"`+e.graph.URL+`/v1.0/users?$skiptoken=more","value":[{"id":"u1","userPrincipalName":"a@contoso.com"}]}`)
		case "/v1.0/groups/delta":
			if r.URL.Query().Get("$deltatoken") != "latest" {
				t.Errorf("Check walked groups: %s", r.URL.RawQuery)
			}
			io.WriteString(w, `{"@odata.deltaLink":"`+e.graph.URL+`/v1.0/groups/delta?$deltatoken=now","value":[]}`)
		default:
			t.Errorf("unexpected %s", r.URL)
			w.WriteHeader(404)
		}
	}
}

func TestCheckHealthy(t *testing.T) {
	e := newEnv(t)
	e.handle(healthyTenant(t, e))
	cfg := e.config()
	cfg.SecretExpires = "2025-03-20" // the test clock says 2025-03-01
	results, err := e.open(t, cfg).Check(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range results {
		names = append(names, r.Name)
		if !r.OK {
			t.Errorf("%s: %s", r.Name, r.Message)
		}
	}
	if strings.Join(names, ",") != "sign in,tenant,read users,read groups,secret expiry" {
		t.Errorf("steps %v", names)
	}
	if !strings.Contains(results[1].Message, "Contoso (contoso.com)") {
		t.Errorf("tenant step %q", results[1].Message)
	}
	if !strings.Contains(results[4].Message, "in 19 days") {
		t.Errorf("expiry step %q", results[4].Message)
	}
	if e.hits.Load() != 3 {
		t.Errorf("%d Graph requests, want 3", e.hits.Load())
	}
}

func TestCheckOrganizationForbiddenIsNotFatal(t *testing.T) {
	e := newEnv(t)
	healthy := healthyTenant(t, e)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/organization" {
			e.serve(t, w, 403, "error-authorization-denied.json")
			return
		}
		healthy(w, r)
	})
	results, err := e.open(t, e.config()).Check(ctx(t))
	if err != nil || !results[1].OK || !strings.Contains(results[1].Message, "Organization.Read.All") {
		t.Fatalf("results %+v, err %v", results, err)
	}
}

func TestCheckFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, e *env, cfg *entra.Config)
		kind  connector.ErrorKind
		code  string
		step  string
		says  []string
	}{
		{
			name: "tenant not found",
			setup: func(t *testing.T, e *env, cfg *entra.Config) {
				e.login.DiscoveryAnswer = func(string) (int, []byte) {
					return 400, graphtest.Testdata(t, "token-error-tenant-not-found.json", "")
				}
			},
			kind: connector.KindNotFound, code: "AADSTS90002", step: "sign in",
			says: []string{`tenant "contoso.onmicrosoft.com" was not found`, "custom cloud"},
		},
		{
			name: "application not found",
			setup: func(t *testing.T, e *env, cfg *entra.Config) {
				e.login.TokenAnswer = func(int, url.Values) (int, []byte) {
					return 400, graphtest.Testdata(t, "token-error-app-not-found.json", "")
				}
			},
			kind: connector.KindAuth, code: "AADSTS700016", step: "sign in",
			says: []string{"application " + clientID + " was not found", "Application (client) ID"},
		},
		{
			name: "wrong secret",
			setup: func(t *testing.T, e *env, cfg *entra.Config) {
				e.login.TokenAnswer = func(int, url.Values) (int, []byte) {
					return 401, graphtest.Testdata(t, "token-error-invalid-secret.json", "")
				}
			},
			kind: connector.KindAuth, code: "AADSTS7000215", step: "sign in",
			says: []string{"secret is wrong", "Value", "not its Secret ID"},
		},
		{
			name: "expired secret",
			setup: func(t *testing.T, e *env, cfg *entra.Config) {
				cfg.SecretExpires = "2025-02-01"
				e.login.TokenAnswer = func(int, url.Values) (int, []byte) {
					return 401, graphtest.Testdata(t, "token-error-expired-secret.json", "")
				}
			},
			kind: connector.KindAuth, code: "AADSTS7000222", step: "sign in",
			says: []string{"secret has expired (on 2025-02-01)", "create a new secret"},
		},
		{
			name: "users permission missing",
			setup: func(t *testing.T, e *env, cfg *entra.Config) {
				healthy := healthyTenant(t, e)
				e.handle(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/v1.0/users" {
						e.serve(t, w, 403, "error-authorization-denied.json")
						return
					}
					healthy(w, r)
				})
			},
			kind: connector.KindPermission, code: "Authorization_RequestDenied", step: "read users",
			says: []string{"User.Read.All", "Application, not Delegated", "Grant admin consent"},
		},
		{
			name: "members permission missing",
			setup: func(t *testing.T, e *env, cfg *entra.Config) {
				healthy := healthyTenant(t, e)
				e.handle(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/v1.0/groups/delta" {
						e.serve(t, w, 403, "error-authorization-denied.json")
						return
					}
					healthy(w, r)
				})
			},
			kind: connector.KindPermission, code: "Authorization_RequestDenied", step: "read groups",
			says: []string{"GroupMember.Read.All", "admin consent"},
		},
		{
			name: "untrusted certificate",
			setup: func(t *testing.T, e *env, cfg *entra.Config) {
				srv := graphtest.UntrustedTLSServer(t, http.NotFoundHandler())
				cfg.AuthorityURL = srv.URL
			},
			kind: connector.KindTLS, step: "sign in",
			says: []string{"is not trusted", "--ca-file", "signing in at"},
		},
		{
			name: "nothing listening",
			setup: func(t *testing.T, e *env, cfg *entra.Config) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				cfg.AuthorityURL = "https://" + ln.Addr().String()
				ln.Close()
			},
			kind: connector.KindNetwork, step: "sign in",
			says: []string{"refused the connection", "retried"},
		},
		{
			name: "graph throttling",
			setup: func(t *testing.T, e *env, cfg *entra.Config) {
				healthy := healthyTenant(t, e)
				e.handle(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/v1.0/users" {
						w.Header().Set("Retry-After", "20")
						e.serve(t, w, 429, "error-throttled.json")
						return
					}
					healthy(w, r)
				})
			},
			kind: connector.KindThrottled, code: "TooManyRequests", step: "read users",
			says: []string{"throttling"},
		},
		{
			name: "graph down",
			setup: func(t *testing.T, e *env, cfg *entra.Config) {
				e.handle(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
			},
			kind: connector.KindUnavailable, step: "tenant",
			says: []string{"HTTP 503"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.handle(healthyTenant(t, e))
			cfg := e.config()
			tc.setup(t, e, &cfg)
			results, err := e.open(t, cfg).Check(ctx(t))
			var ce *connector.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v", err)
			}
			t.Logf("%s: %s", tc.step, err)
			if ce.Kind != tc.kind || ce.Code != tc.code {
				t.Errorf("kind %s code %q, want %s %q: %v", ce.Kind, ce.Code, tc.kind, tc.code, err)
			}
			for _, s := range tc.says {
				if !strings.Contains(ce.Message, s) {
					t.Errorf("message %q does not say %q", ce.Message, s)
				}
			}
			last := results[len(results)-1]
			if last.OK || last.Name != tc.step || last.Message != ce.Message {
				t.Errorf("last step %+v, want failed %q", last, tc.step)
			}
			for _, r := range results[:len(results)-1] {
				if !r.OK {
					t.Errorf("step %s failed before the failing one", r.Name)
				}
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(e.logs.String(), secret) {
				t.Error("the client secret leaked into an error or the log")
			}
		})
	}
}

func TestCheckAllMessagesDiffer(t *testing.T) {
	// Each AADSTS failure an admin meets must read differently.
	seen := map[string]string{}
	for _, file := range []string{"token-error-tenant-not-found.json", "token-error-app-not-found.json", "token-error-invalid-secret.json", "token-error-expired-secret.json"} {
		e := newEnv(t)
		body := graphtest.Testdata(t, file, "")
		e.login.TokenAnswer = func(int, url.Values) (int, []byte) { return 400, body }
		_, err := e.open(t, e.config()).Check(ctx(t))
		var ce *connector.Error
		if !errors.As(err, &ce) {
			t.Fatalf("%s: %v", file, err)
		}
		if other, dup := seen[ce.Message]; dup {
			t.Errorf("%s and %s give the same message", file, other)
		}
		seen[ce.Message] = file
	}
}

func TestConfigValidate(t *testing.T) {
	good := entra.Config{Tenant: tenant, ClientID: clientID}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*entra.Config)
		field string
	}{
		{"no tenant", func(c *entra.Config) { c.Tenant = "" }, "tenant"},
		{"common tenant", func(c *entra.Config) { c.Tenant = "common" }, "tenant"},
		{"tenant with spaces", func(c *entra.Config) { c.Tenant = "contoso corp" }, "tenant"},
		{"no client id", func(c *entra.Config) { c.ClientID = "" }, "client_id"},
		{"client id not a guid", func(c *entra.Config) { c.ClientID = "my-app" }, "client_id"},
		{"unknown cloud", func(c *entra.Config) { c.Cloud = "mars" }, "cloud"},
		{"custom without urls", func(c *entra.Config) { c.Cloud = "custom" }, "authority_url"},
		{"custom with http", func(c *entra.Config) {
			c.Cloud, c.AuthorityURL, c.GraphURL = "custom", "http://127.0.0.1:8443", "https://127.0.0.1:8443"
		}, "authority_url"},
		{"custom with bad graph url", func(c *entra.Config) {
			c.Cloud, c.AuthorityURL, c.GraphURL = "custom", "https://127.0.0.1:8443", "ftp://x"
		}, "graph_url"},
		{"urls without custom", func(c *entra.Config) { c.GraphURL = "https://graph.example" }, "graph_url"},
		{"bad ca", func(c *entra.Config) { c.CAPEM = "not a certificate" }, "ca_pem"},
		{"bad auth method", func(c *entra.Config) { c.AuthMethod = "password" }, "auth_method"},
		{"bad expiry", func(c *entra.Config) { c.SecretExpires = "31/12/2025" }, "secret_expires"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			var ce *connector.Error
			if !errors.As(err, &ce) || ce.Kind != connector.KindInvalid || !strings.Contains(ce.Message, tc.field) {
				t.Errorf("err = %v, want KindInvalid naming %s", err, tc.field)
			}
		})
	}
	for _, cloud := range []string{"", "global", "usgov", "usgovdod", "china"} {
		c := good
		c.Cloud = cloud
		if err := c.Validate(); err != nil {
			t.Errorf("cloud %q: %v", cloud, err)
		}
	}
	c := good
	c.Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	if err := c.Validate(); err != nil {
		t.Errorf("tenant GUID: %v", err)
	}
}

func TestOpenRefusesBadSecrets(t *testing.T) {
	cfg := entra.Config{Tenant: tenant, ClientID: clientID}
	if _, err := entra.Open(cfg, nil, entra.Options{}); connector.KindOf(err) != connector.KindInvalid {
		t.Errorf("empty secret: %v", err)
	}
	cfg.AuthMethod = entra.AuthCertificate
	_, err := entra.Open(cfg, []byte("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"), entra.Options{})
	if connector.KindOf(err) != connector.KindInvalid || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("bad certificate: %v", err)
	}
}

func TestCertificateAuthCheck(t *testing.T) {
	e := newEnv(t)
	e.handle(healthyTenant(t, e))
	cfg := e.config()
	cfg.AuthMethod = entra.AuthCertificate
	cfg.SecretExpires = "2020-01-01" // meaningless for a certificate: no step
	c, err := entra.Open(cfg, graphtest.ClientCertificatePEM(t), entra.Options{Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	results, err := c.Check(ctx(t))
	if err != nil || len(results) != 4 {
		t.Fatalf("results %+v err %v", results, err)
	}
	if f := e.login.TokenRequests()[0]; f.Get("client_assertion") == "" || f.Has("client_secret") {
		t.Error("certificate sign-in did not send an assertion")
	}
}
