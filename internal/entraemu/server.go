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
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server serves a tenant over HTTPS: the login endpoints and Graph share
// one listener, so URL is both the authority host and the Graph base URL.
type Server struct {
	t      *Tenant
	ln     net.Listener
	srv    *http.Server
	url    string
	caPEM  []byte
	mu     sync.Mutex
	caFile string
	done   chan struct{}
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
	s.srv = &http.Server{
		Handler:           s,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		// Clients that do not trust the CA fail their handshakes; that is
		// theirs to report, not noise for the emulator's log.
		ErrorLog: log.New(io.Discard, "", 0),
	}
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
// `dirsync emulate entra --credentials-out`.
type Credentials struct {
	TenantID     string `json:"tenant_id"`
	Domain       string `json:"domain"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	AuthorityURL string `json:"authority_url"`
	GraphURL     string `json:"graph_url"`
	CAFile       string `json:"ca_file,omitempty"`
}

// Credentials are the generated sync app's credentials for this server.
func (s *Server) Credentials() Credentials { return s.credentials(s.t.DefaultApp()) }

// AdminCredentials are the credentials of the admin app, which may write.
func (s *Server) AdminCredentials() Credentials { return s.credentials(s.t.AdminApp()) }

func (s *Server) credentials(a App) Credentials {
	s.mu.Lock()
	caFile := s.caFile
	s.mu.Unlock()
	return Credentials{
		TenantID:     s.t.id,
		Domain:       s.t.domain,
		ClientID:     a.ClientID,
		ClientSecret: a.Secret,
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

// ServeHTTP adds latency and request ids, applies injected faults, and
// routes to the login or Graph endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := s.t
	t.stats.requests.Add(1)
	defer func() {
		// A bug in a handler answers 500 and is reported, rather than
		// vanishing into net/http's discarded error log.
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log.Printf("entraemu: panic serving %s %s: %v\n%s", r.Method, r.URL.Path, p, debug.Stack())
			writeResponse(w, graphError(500, "generalException", "An internal server error occurred.", reqIDs{w.Header().Get("request-id"), w.Header().Get("client-request-id")}, t.now()))
		}
	}()
	if d := time.Duration(t.latency.Load()); d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		}
	}
	reqID := newRandomGUID()
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	h := w.Header()
	h.Set("request-id", reqID)
	h.Set("client-request-id", clientReqID)
	h.Set("Strict-Transport-Security", "max-age=31536000")
	ids := reqIDs{reqID, clientReqID}

	if f := t.faults.match(r.Method, r.URL.Path, false); f != nil {
		t.stats.faults.Add(1)
		if f.Reset {
			resetConnection(w)
			return
		}
		writeResponse(w, faultResponse(f, ids, t.now()))
		return
	}
	t.maybeExpireDeleted()

	path := r.URL.Path
	switch {
	case path == churnPath:
		s.serveChurn(w, r)
	case strings.HasPrefix(path, "/v1.0/") || path == "/v1.0":
		t.stats.graph.Add(1)
		s.serveGraphHTTP(w, r, ids)
	case strings.HasPrefix(path, "/beta/"):
		writeResponse(w, graphError(400, "BadRequest", "The emulator serves only the v1.0 endpoint.", ids, t.now()))
	default:
		t.stats.login.Add(1)
		s.serveLogin(w, r, ids)
	}
}

type reqIDs struct{ request, client string }

// resetConnection drops the connection without an answer: with HTTP/1 the
// TCP connection is reset (RST, not FIN); with HTTP/2 the stream is.
func resetConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		conn, _, err := hj.Hijack()
		if err == nil {
			raw := conn
			if tc, ok := conn.(*tls.Conn); ok {
				raw = tc.NetConn()
			}
			if tcp, ok := raw.(*net.TCPConn); ok {
				tcp.SetLinger(0)
			}
			raw.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// gresp is a response built by a handler, written to the wire or into a
// $batch response.
type gresp struct {
	status int
	header http.Header
	body   []byte
}

func writeResponse(w http.ResponseWriter, r *gresp) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	if len(r.body) > 0 && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(r.status)
	w.Write(r.body)
}

func newRandomGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("entraemu: random: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatGUID(b)
}
