// Package smtptest runs a real SMTP server on 127.0.0.1 for tests: built on
// github.com/emersion/go-smtp, it speaks STARTTLS or implicit TLS with a
// certificate of its own, asks for authentication when told to, refuses
// the recipients a test names, can hold a message in the middle of its
// transfer, and keeps what it received. Parse reads a received message as
// a mail client would: its headers and each MIME part, decoded.
package smtptest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Security is how clients must connect.
type Security string

// Security modes, as package mail names them.
const (
	StartTLS    Security = "starttls"
	ImplicitTLS Security = "tls"
	NoTLS       Security = "none"
)

// Options configure a Server.
type Options struct {
	Security Security
	// Username and Password, when set, are required (AUTH PLAIN) before
	// MAIL FROM.
	Username, Password string
}

// Received is one message the server took.
type Received struct {
	From string
	To   []string
	Data []byte
}

// Server is a running SMTP server.
type Server struct {
	t      testing.TB
	srv    *smtp.Server
	ln     net.Listener
	opts   Options
	caPool *x509.CertPool
	caPEM  []byte

	mu       sync.Mutex
	changed  chan struct{}
	received []Received
	refused  map[string]bool
	tempFail map[string]int
	hold     chan struct{} // when set, DATA waits on it before reading
	holding  chan struct{} // closed once a DATA waits on hold
	sessions int
}

// Start starts a server on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Security == "" {
		opts.Security = StartTLS
	}
	s := &Server{t: t, opts: opts, refused: map[string]bool{}, tempFail: map[string]int{}, changed: make(chan struct{})}
	cert, err := s.certificate()
	if err != nil {
		t.Fatal(err)
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &session{s: s}, nil
	}))
	s.srv.Domain = "127.0.0.1"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.srv.MaxMessageBytes = 10 << 20
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch opts.Security {
	case StartTLS:
		s.srv.TLSConfig = tlsConfig
		s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	case ImplicitTLS:
		s.ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsConfig)
	default:
		s.srv.AllowInsecureAuth = true
		s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go s.srv.Serve(s.ln)
	t.Cleanup(func() {
		s.Release()
		s.srv.Close()
	})
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// CertPool trusts the server's certificate.
func (s *Server) CertPool() *x509.CertPool { return s.caPool }

// CAPEM is the server's certificate authority, PEM encoded.
func (s *Server) CAPEM() []byte { return s.caPEM }

// Refuse makes the server refuse addr for good at RCPT TO (550 5.1.1).
func (s *Server) Refuse(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[strings.ToLower(addr)] = true
}

// TempFail makes the server answer addr's next n RCPT TO with 451, a
// failure that may pass.
func (s *Server) TempFail(addr string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tempFail[strings.ToLower(addr)] = n
}

// Hold makes the next messages wait in the middle of their transfer (after
// DATA, before the server reads the content) until Release; it returns a
// channel closed once one is waiting.
func (s *Server) Hold() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold, s.holding = make(chan struct{}), make(chan struct{})
	return s.holding
}

// Release lets held messages go on.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
}

// Messages returns what the server took, in order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Wait waits until the server has taken n messages in all, or fails the
// test after a generous wall-clock deadline (a send runs on real sockets,
// whatever clock the code under test has).
func (s *Server) Wait(n int) []Received {
	s.t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, ch := len(s.received), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-ch:
		case <-deadline.C:
			s.t.Fatalf("smtptest: %d messages received, want %d", got, n)
		}
	}
}

func (s *Server) add(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(to)
	if s.refused[key] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here: " + to}
	}
	if s.tempFail[key] > 0 {
		s.tempFail[key]--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	s := ss.s
	s.mu.Lock()
	hold, holding := s.hold, s.holding
	if holding != nil {
		close(holding)
		s.holding = nil
	}
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	data, err := io.ReadAll(r)
	if err != nil {
		// The client went away mid-message: nothing was received.
		return err
	}
	s.add(Received{From: ss.from, To: ss.to, Data: data})
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// certificate makes a CA and a certificate for 127.0.0.1 signed by it.
func (s *Server) certificate() (tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	s.caPool = x509.NewCertPool()
	s.caPool.AddCert(ca)
	s.caPEM = []byte("-----BEGIN CERTIFICATE-----\n" + wrap64(base64.StdEncoding.EncodeToString(caDER)) + "-----END CERTIFICATE-----\n")
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func wrap64(s string) string {
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

// Mail is a received message as a mail client shows it.
type Mail struct {
	Header mail.Header
	// Subject is the decoded subject.
	Subject string
	// ContentType is the top-level media type (multipart/alternative).
	ContentType string
	// Text and HTML are the decoded bodies of the text/plain and
	// text/html parts.
	Text, HTML string
}

// Parse reads a message's headers and MIME parts, decoding each part's
// transfer encoding and charset-declared text.
func Parse(data []byte) (Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Mail{}, err
	}
	out := Mail{Header: msg.Header}
	dec := new(mime.WordDecoder)
	if out.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return out, fmt.Errorf("subject: %w", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return out, fmt.Errorf("content type: %w", err)
	}
	out.ContentType = mt
	if !strings.HasPrefix(mt, "multipart/") {
		body, err := decodePart(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		if err != nil {
			return out, err
		}
		out.setPart(mt, body)
		return out, nil
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		pt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			return out, err
		}
		body, err := decodePart(p.Header.Get("Content-Transfer-Encoding"), p)
		if err != nil {
			return out, err
		}
		out.setPart(pt, body)
	}
}

func (m *Mail) setPart(mediaType, body string) {
	switch mediaType {
	case "text/plain":
		m.Text = body
	case "text/html":
		m.HTML = body
	}
}

func decodePart(cte string, r io.Reader) (string, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &stripNewlines{r: r})
	}
	b, err := io.ReadAll(r)
	return strings.ReplaceAll(string(b), "\r\n", "\n"), err
}

type stripNewlines struct{ r io.Reader }

func (s *stripNewlines) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// Sessions counts the connections the server has had.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Shutdown stops the server at once (a server going away).
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
