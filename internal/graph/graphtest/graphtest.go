// Package graphtest holds test servers for code that talks to Entra ID and
// Graph: a login endpoint that azidentity's real client-credentials flow
// runs against (OpenID discovery and the token endpoint, answering
// Microsoft's documented error bodies on demand), and helpers to serve the
// documented Graph responses kept in internal/graph/testdata.
//
// It is a fake of the login service, deliberately small: the full emulated
// tenant lives in internal/entraemu.
package graphtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
)

// Login is a fake Microsoft identity platform authority on 127.0.0.1.
type Login struct {
	Server *httptest.Server
	// URL is the authority host to configure, such as https://127.0.0.1:1234.
	URL string

	mu       sync.Mutex
	forms    []url.Values
	issued   int
	discover int
	// TokenAnswer, when set, decides the token endpoint's answer for the
	// n-th token request (from 1): status and body. A zero status issues
	// a token.
	TokenAnswer func(n int, form url.Values) (status int, body []byte)
	// DiscoveryAnswer, when set, answers the OpenID discovery of a tenant
	// instead (Entra answers an unknown tenant there, with AADSTS90002).
	DiscoveryAnswer func(tenant string) (status int, body []byte)
	// ExpiresIn is the lifetime of issued tokens; an hour when zero.
	ExpiresIn time.Duration
}

// NewLogin starts a Login server; it stops with the test.
func NewLogin(t testing.TB) *Login {
	l := &Login{}
	l.Server = httptest.NewTLSServer(http.HandlerFunc(l.serve))
	l.URL = l.Server.URL
	t.Cleanup(l.Server.Close)
	return l
}

// CAPEM returns the PEM of the certificate that httptest's TLS servers
// share, to trust them the way an admin trusts a proxy's CA.
func CAPEM(s *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// TokenRequests returns the form of every token request so far.
func (l *Login) TokenRequests() []url.Values {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]url.Values(nil), l.forms...)
}

// Token returns the access token the n-th issued token carries (from 1).
func Token(n int) string { return fmt.Sprintf("access-token-%d", n) }

func (l *Login) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[1] == "v2.0" && parts[2] == ".well-known" && parts[3] == "openid-configuration":
		tenant := parts[0]
		l.mu.Lock()
		l.discover++
		answer := l.DiscoveryAnswer
		l.mu.Unlock()
		if answer != nil {
			if status, body := answer(tenant); status != 0 {
				writeJSON(w, status, body)
				return
			}
		}
		base := l.URL + "/" + tenant
		doc, _ := json.Marshal(map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"issuer":                                base + "/v2.0",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		})
		writeJSON(w, http.StatusOK, doc)
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token" && r.Method == http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		l.mu.Lock()
		l.forms = append(l.forms, r.PostForm)
		n := len(l.forms)
		answer := l.TokenAnswer
		exp := l.ExpiresIn
		l.mu.Unlock()
		if answer != nil {
			if status, body := answer(n, r.PostForm); status != 0 {
				writeJSON(w, status, body)
				return
			}
		}
		if exp == 0 {
			exp = time.Hour
		}
		l.mu.Lock()
		l.issued++
		tok := Token(l.issued)
		l.mu.Unlock()
		body, _ := json.Marshal(map[string]any{
			"token_type":     "Bearer",
			"expires_in":     int(exp.Seconds()),
			"ext_expires_in": int(exp.Seconds()),
			"access_token":   tok,
		})
		writeJSON(w, http.StatusOK, body)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Testdata reads a documented response from internal/graph/testdata with
// Graph's documented host rewritten to base, so that its links lead back to
// the test server.
func Testdata(t testing.TB, name, base string) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "testdata", name))
	if err != nil {
		t.Fatalf("testdata: %v", err)
	}
	return []byte(strings.ReplaceAll(string(b), "https://graph.microsoft.com", base))
}

// ServeTestdata answers with status and a documented body; see Testdata.
func ServeTestdata(t testing.TB, w http.ResponseWriter, status int, name, base string) {
	writeJSON(w, status, Testdata(t, name, base))
}

// UntrustedTLSServer starts a TLS server on 127.0.0.1 whose certificate
// (self-signed, made here) nobody trusts.
func UntrustedTLSServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "untrusted test server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	// The refused handshakes are the point; keep them out of the test log.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// ClientCertificatePEM makes a self-signed certificate and its private key
// as one PEM, the form an admin gives dirsync for certificate auth. Entra
// takes RSA keys only.
func ClientCertificatePEM(t testing.TB) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "dirsync test app"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
}

// Clock is a clock.Clock for retry tests: its time moves only when the
// code under test waits, and every wait (a timer) fires at once, advancing
// the time by its length and being recorded. Attempt timeouts (AfterFunc)
// run on real time, so a slow test server is still cut off.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

var _ clock.Clock = (*Clock)(nil)

// NewClock returns a Clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer records d, advances the clock by it and returns a timer that
// has already fired.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	t := firedTimer{make(chan time.Time, 1)}
	t.ch <- c.now
	return t
}

// NewTicker is not used by the Graph client; it ticks on real time.
func (c *Clock) NewTicker(d time.Duration) clock.Ticker { return clock.System.NewTicker(d) }

// AfterFunc calls f after d of real time: it bounds attempts, and a test
// server that hangs must still be cut off.
func (c *Clock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return clock.System.AfterFunc(d, f)
}

type firedTimer struct{ ch chan time.Time }

func (t firedTimer) C() <-chan time.Time      { return t.ch }
func (t firedTimer) Stop() bool               { return false }
func (t firedTimer) Reset(time.Duration) bool { return false }

// Sleeps returns the waits so far.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
