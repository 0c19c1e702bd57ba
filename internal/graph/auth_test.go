package graph_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/dirsync/dirsync/internal/graph"
	"github.com/dirsync/dirsync/internal/graph/graphtest"
)

const (
	tenant   = "contoso.onmicrosoft.com"
	clientID = "6731de76-14a6-49ae-97bc-6eba6914391e"
	secret   = "Yl48Q~not-a-real-secret-value-0123456789"
)

// authFixture is real azidentity against a fake login endpoint, plus a
// Graph server that accepts only the tokens that endpoint issued.
type authFixture struct {
	login  *graphtest.Login
	graph  *httptest.Server
	client *graph.Client
	clock  *graphtest.Clock
	hits   atomic.Int64
	// accept decides whether Graph takes an access token; default all.
	accept func(tok string) bool
}

func newAuthFixture(t *testing.T, certificate bool) *authFixture {
	t.Helper()
	f := &authFixture{login: graphtest.NewLogin(t), clock: graphtest.NewClock()}
	f.graph = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if f.accept != nil && !f.accept(tok) {
			graphtest.ServeTestdata(t, w, 401, "error-expired-token.json", f.graph.URL)
			return
		}
		io.WriteString(w, `{"value":[{"id":"1","userPrincipalName":"a@contoso.com"}]}`)
	}))
	t.Cleanup(f.graph.Close)
	f.client = newAuthClient(t, f.login.URL, f.graph.URL, graphtest.CAPEM(f.graph), certificate, f.clock)
	return f
}

func newAuthClient(t *testing.T, authority, graphURL string, caPEM []byte, certificate bool, clock *graphtest.Clock) *graph.Client {
	t.Helper()
	cloud, err := graph.CustomCloud(authority, graphURL)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := graph.NewHTTPClient(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	var cred azcore.TokenCredential
	if certificate {
		cred, err = graph.NewCertificateCredential(cloud, tenant, clientID, graphtest.ClientCertificatePEM(t), hc)
	} else {
		cred, err = graph.NewSecretCredential(cloud, tenant, clientID, secret, hc)
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := graph.New(graph.Options{
		Credential: cred,
		GraphURL:   cloud.GraphURL,
		HTTPClient: hc,
		Budget:     time.Minute,
		Clock:      clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func listOnce(c *graph.Client) error {
	return c.ListUsers(context.Background(), graph.Query{Top: 1}, func([]graph.User) error { return graph.ErrStop })
}

func TestSecretCredentialTokenUsed(t *testing.T) {
	f := newAuthFixture(t, false)
	f.accept = func(tok string) bool { return tok == graphtest.Token(1) }
	for range 3 {
		if err := listOnce(f.client); err != nil {
			t.Fatal(err)
		}
	}
	forms := f.login.TokenRequests()
	if len(forms) != 1 {
		t.Fatalf("%d token requests; azidentity's cache should serve the later calls", len(forms))
	}
	fm := forms[0]
	if fm.Get("grant_type") != "client_credentials" || fm.Get("client_id") != clientID || fm.Get("client_secret") != secret {
		t.Errorf("token request %v", redact(fm))
	}
	if !strings.Contains(fm.Get("scope"), f.graph.URL+"/.default") {
		t.Errorf("scope %q", fm.Get("scope"))
	}
}

func TestCertificateCredentialSendsAssertion(t *testing.T) {
	f := newAuthFixture(t, true)
	if err := listOnce(f.client); err != nil {
		t.Fatal(err)
	}
	fm := f.login.TokenRequests()[0]
	if fm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || strings.Count(fm.Get("client_assertion"), ".") != 2 || fm.Has("client_secret") {
		t.Errorf("token request %v", redact(fm))
	}
}

func TestExpiredTokenMidRunGetsFreshTokenFromAzidentity(t *testing.T) {
	f := newAuthFixture(t, false)
	if err := listOnce(f.client); err != nil {
		t.Fatal(err)
	}
	// The first token now "expires" at Graph, although azidentity still caches it.
	f.accept = func(tok string) bool { return tok != graphtest.Token(1) }
	if err := listOnce(f.client); err != nil {
		t.Fatal(err)
	}
	forms := f.login.TokenRequests()
	if len(forms) != 2 || !strings.Contains(forms[1].Get("claims"), "nbf") {
		t.Fatalf("token requests %d; the second must bypass the cache with claims", len(forms))
	}
	if f.hits.Load() != 3 {
		t.Errorf("%d Graph requests, want 3", f.hits.Load())
	}
	// Later calls use the fresh token from the cache, without another request.
	if err := listOnce(f.client); err != nil || len(f.login.TokenRequests()) != 2 {
		t.Errorf("err %v, %d token requests", err, len(f.login.TokenRequests()))
	}
}

func TestTokenErrorsParsed(t *testing.T) {
	for _, tc := range []struct {
		file   string
		status int
		code   int
		oauth  string
	}{
		{"token-error-invalid-secret.json", 401, 7000215, "invalid_client"},
		{"token-error-expired-secret.json", 401, 7000222, "invalid_client"},
		{"token-error-app-not-found.json", 400, 700016, "unauthorized_client"},
		{"token-error-invalid-scope.json", 400, 70011, "invalid_scope"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := newAuthFixture(t, false)
			f.login.TokenAnswer = func(int, url.Values) (int, []byte) {
				return tc.status, graphtest.Testdata(t, tc.file, "")
			}
			err := listOnce(f.client)
			var ae *graph.AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v", err)
			}
			if ae.Status != tc.status || !ae.Has(tc.code) || ae.OAuthError != tc.oauth || ae.TraceID != "255d1aef-8c98-452f-ac51-23d051240864" {
				t.Errorf("auth error %+v", ae)
			}
			if strings.Contains(ae.Description, "Trace ID") || !strings.HasPrefix(ae.Description, ae.AADSTS()+":") {
				t.Errorf("description %q", ae.Description)
			}
			if strings.Contains(err.Error(), secret) {
				t.Error("the secret is in the error message")
			}
			if f.hits.Load() != 0 || len(f.login.TokenRequests()) != 1 {
				t.Errorf("graph hits %d, token requests %d: a refused credential is not retried", f.hits.Load(), len(f.login.TokenRequests()))
			}
		})
	}
}

func TestTenantNotFoundAtDiscovery(t *testing.T) {
	f := newAuthFixture(t, false)
	f.login.DiscoveryAnswer = func(tenant string) (int, []byte) {
		return 400, graphtest.Testdata(t, "token-error-tenant-not-found.json", "")
	}
	err := listOnce(f.client)
	var ae *graph.AuthError
	if !errors.As(err, &ae) || !ae.Has(90002) || ae.AADSTS() != "AADSTS90002" {
		t.Fatalf("err = %v", err)
	}
}

func TestTokenEndpointUnreachableIsRetriedThenGivesUp(t *testing.T) {
	// A port nobody listens on: connection refused, every time.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	clock := graphtest.NewClock()
	c := newAuthClient(t, "https://"+addr, "https://"+addr, nil, false, clock)
	err = listOnce(c)
	var ae *graph.AuthError
	if !errors.Is(err, graph.ErrRetryBudget) || !errors.As(err, &ae) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v", err)
	}
	if len(clock.Sleeps()) < 3 {
		t.Errorf("sleeps %v: a refused connection is worth a few retries", clock.Sleeps())
	}
	if len(clock.Sleeps()) > 3 {
		t.Errorf("sleeps %v: a refused connection must fail fast, not retry for the whole budget", clock.Sleeps())
	}
}

func TestUntrustedLoginCertificate(t *testing.T) {
	srv := graphtest.UntrustedTLSServer(t, http.NotFoundHandler())
	clock := graphtest.NewClock()
	c := newAuthClient(t, srv.URL, srv.URL, nil, false, clock)
	err := listOnce(c)
	var ae *graph.AuthError
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &ae) || !errors.As(err, &unknown) {
		t.Fatalf("err = %v", err)
	}
	if len(clock.Sleeps()) != 0 || graph.Transient(ae.Cause) {
		t.Errorf("an untrusted certificate was retried")
	}
}

// redact hides the secret when a test prints a token request.
func redact(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if k == "client_secret" || k == "client_assertion" {
			out.Set(k, "[redacted]")
			continue
		}
		out[k] = vs
	}
	return out
}
