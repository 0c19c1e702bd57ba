package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/dirsync/dirsync/internal/safehttp"
)

// NewHTTPClient returns the HTTP client for both the login authority and
// Graph: the system's trusted roots plus extraCAPEM (PEM certificates of a
// TLS-inspecting proxy or an emulator), proxies from the environment, and
// safehttp's client settings (TLS 1.2 at least; dial, handshake and
// header timeouts). Nothing else may be trusted, so a certificate problem
// shows up as a TLS error instead of being papered over.
//
// It follows no redirect: a redirect would carry the client secret (to
// the login authority) or the access token (to Graph) to wherever it
// points. A 3xx answer fails the call instead.
func NewHTTPClient(extraCAPEM []byte) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		// Some systems have no readable pool; the extra CAs may still do.
		pool = x509.NewCertPool()
	}
	if len(extraCAPEM) > 0 && !pool.AppendCertsFromPEM(extraCAPEM) {
		return nil, errors.New("graph: extra CA certificates: no PEM certificate found")
	}
	t := safehttp.DefaultClient.NewTransport(safehttp.TransportOptions{RootCAs: pool, EnvironmentProxy: true})
	return safehttp.NewClient(t), nil
}

// netErrKey carries a netErrSlot through a token request's context.
type netErrKey struct{}

// netErrSlot records the transport error under a failed token request.
// azidentity flattens such an error into a string, and the connector needs
// its type to tell DNS from TLS from a refused connection.
type netErrSlot struct {
	mu  sync.Mutex
	err error
}

func (s *netErrSlot) set(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *netErrSlot) get() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// recordingTransport is the azcore Transporter given to azidentity: it
// sends with the shared client and notes transport errors in the slot that
// the request's context carries.
type recordingTransport struct{ hc *http.Client }

func (t recordingTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.hc.Do(req)
	if err != nil {
		if s, ok := req.Context().Value(netErrKey{}).(*netErrSlot); ok {
			s.set(err)
		}
	}
	return resp, err
}

func withNetErrSlot(ctx context.Context) (context.Context, *netErrSlot) {
	s := &netErrSlot{}
	return context.WithValue(ctx, netErrKey{}, s), s
}

// Transient reports whether a transport error may go away on its own: a
// reset or refused connection, a timeout, an early EOF. DNS names that do
// not exist and certificates that are not trusted do not heal by waiting.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if isTLSError(err) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	var addrErr *net.AddrError
	if errors.As(err, &addrErr) {
		return false
	}
	// An https URL pointing at a plain-HTTP port stays wrong.
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return false
	}
	// Resets, refusals, EOFs, timeouts, closed idle connections: worth another try.
	return true
}

// isTLSError reports whether err is a certificate or handshake failure.
func isTLSError(err error) bool {
	var (
		unknown   x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
	)
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verifyErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr)
}

// sameOrigin refuses a link from Graph that points elsewhere: the
// bearer token must only ever go to the Graph host it was issued for.
func sameOrigin(base, link string) error {
	b, err := parseURL(base)
	if err != nil {
		return err
	}
	l, err := parseURL(link)
	if err != nil {
		return fmt.Errorf("graph: bad link %q: %w", link, err)
	}
	if b.Scheme != l.Scheme || b.Host != l.Host {
		return fmt.Errorf("graph: refusing to follow link to %s://%s: not the Graph host %s", l.Scheme, l.Host, b.Host)
	}
	return nil
}
