package entraemu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/safehttp"
)

// Server serves a tenant over HTTPS: the login endpoints and Graph share
// one listener, so URL is both the authority host and the Graph base URL.
type Server struct {
	t       *Tenant
	ln      net.Listener
	srv     *http.Server
	url     string
	caPEM   []byte
	handler http.Handler
	mu      sync.Mutex
	caFile  string
	done    chan struct{}
}

// Start serves the tenant on addr (such as "127.0.0.1:0") over HTTPS, with
// a certificate for 127.0.0.1, ::1, localhost and Options.Hosts issued by a
// CA generated for this server; clients trust CAPEM.
func (t *Tenant) Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("entraemu: listen: %w", err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	caPEM, cert, err := newCertificates(append([]string{"127.0.0.1", "::1", "localhost", host}, t.opts.Hosts...))
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{t: t, ln: ln, caPEM: caPEM, url: "https://" + net.JoinHostPort(host, port), done: make(chan struct{})}
	t.graphURL.Store(s.url)
	if s.handler, err = s.routes(); err != nil {
		ln.Close()
		return nil, err
	}
	// The limits of every dirsync server: a client that trickles its
	// request or never reads its answer is cut off, as Graph would.
	s.srv = safehttp.NewServer(s)
	s.srv.TLSConfig.Certificates = []tls.Certificate{cert}
	// Clients that do not trust the CA fail their handshakes; that is
	// theirs to report, not noise for the emulator's log.
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	go func() {
		defer close(s.done)
		s.srv.ServeTLS(ln, "", "")
	}()
	return s, nil
}

// URL is https://HOST:PORT: the login authority host and the Graph base URL.
func (s *Server) URL() string { return s.url }

// CAPEM is the PEM of the CA that issued the server's certificate.
func (s *Server) CAPEM() []byte { return append([]byte(nil), s.caPEM...) }

// Tenant is the tenant the server serves.
func (s *Server) Tenant() *Tenant { return s.t }

// Close stops the server and closes its connections.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Credentials are what a client needs to connect: written as JSON by
// `dirsync emulate entra --credentials-out`. ClientID and ClientSecret are
// the sync app's, which may read the directory (Roles); WriteApp is a second
// app that may also change it (User.ReadWrite.All, Group.ReadWrite.All),
// for users' own scripts and tests.
type Credentials struct {
	TenantID     string          `json:"tenant_id"`
	Domain       string          `json:"domain"`
	ClientID     string          `json:"client_id"`
	ClientSecret string          `json:"client_secret"`
	Roles        []string        `json:"roles,omitempty"`
	AuthorityURL string          `json:"authority_url"`
	GraphURL     string          `json:"graph_url"`
	CAFile       string          `json:"ca_file,omitempty"`
	WriteApp     *AppCredentials `json:"write_app,omitempty"`
}

// AppCredentials are one app's client ID, secret and permissions.
type AppCredentials struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Roles        []string `json:"roles"`
}

// Credentials are the sync app's credentials for this server, with the
// write app's.
func (s *Server) Credentials() Credentials {
	c := s.credentials(s.t.DefaultApp())
	w := s.t.AdminApp()
	c.WriteApp = &AppCredentials{ClientID: w.ClientID, ClientSecret: w.Secret, Roles: w.Roles}
	return c
}

// AdminCredentials are the credentials of the write app (as ClientID and
// ClientSecret).
func (s *Server) AdminCredentials() Credentials { return s.credentials(s.t.AdminApp()) }

func (s *Server) credentials(a App) Credentials {
	s.mu.Lock()
	caFile := s.caFile
	s.mu.Unlock()
	return Credentials{
		TenantID:     s.t.ID(),
		Domain:       s.t.Domain(),
		ClientID:     a.ClientID,
		ClientSecret: a.Secret,
		Roles:        a.Roles,
		AuthorityURL: s.url,
		GraphURL:     s.url,
		CAFile:       caFile,
	}
}

// HTTPClient returns a client that trusts the server's CA, for tests and
// tools.
func (s *Server) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
}

func newCertificates(hosts []string) (caPEM []byte, leaf tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, leaf, fmt.Errorf("entraemu: CA key: %w", err)
	}
	now := time.Now()
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
		return n
	}
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "dirsync emulated Entra ID CA", Organization: []string{"dirsync"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, leaf, fmt.Errorf("entraemu: CA certificate: %w", err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, leaf, fmt.Errorf("entraemu: server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "dirsync emulated Entra ID"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(397 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, leaf, fmt.Errorf("entraemu: server certificate: %w", err)
	}
	leaf = tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), leaf, nil
}
