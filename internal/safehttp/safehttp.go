// Package safehttp is dirsync's network policy, in one place: the settings
// of every HTTP server dirsync runs (time to read a request, to write an
// answer, header sizes, TLS minimum), the settings of every HTTP client it
// sends with (dial, TLS and header timeouts, no redirects), and the
// screening dialer that keeps the targets users point dirsync at (webhook
// receivers) off loopback, private, link-local and the other special
// address ranges, checked on the address actually dialed, after DNS.
//
// A deployment that must reach private targets lists them in an AllowList
// (CIDRs and host names); nothing else private is ever dialed through a
// Screen.
package safehttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"
)

// ServerSettings are the limits of an HTTP server dirsync runs.
type ServerSettings struct {
	// ReadHeaderTimeout bounds reading a request's headers: a client that
	// trickles them is cut off.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers and body. Go
	// clears the deadline once the body has been read, so it does not cut
	// a long streamed answer (server-sent events, an NDJSON export).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer, from the end of the request's
	// headers. A handler that streams pushes it forward with
	// ExtendWriteDeadline as it goes.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (Go's default is 1 MB).
	MaxHeaderBytes int
	// TLSMinVersion is the oldest TLS a TLS listener accepts.
	TLSMinVersion uint16
}

// DefaultServer are the settings of dirsync serve and every server it runs.
var DefaultServer = ServerSettings{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      2 * time.Minute,
	IdleTimeout:       2 * time.Minute,
	MaxHeaderBytes:    64 << 10,
	TLSMinVersion:     tls.VersionTLS12,
}

// NewServer returns an *http.Server serving h with DefaultServer's settings.
func NewServer(h http.Handler) *http.Server { return DefaultServer.NewServer(h) }

// NewServer returns an *http.Server serving h with these settings. The
// caller may still set ErrorLog, BaseContext and the like.
func (s ServerSettings) NewServer(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           withDeadlines(h),
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    s.MaxHeaderBytes,
	}
	if s.TLSMinVersion != 0 {
		srv.TLSConfig = &tls.Config{MinVersion: s.TLSMinVersion}
	}
	return srv
}

type controllerKey struct{}

// withDeadlines keeps the connection's own ResponseController in the
// request's context, so that a streaming handler can move its deadline
// however many wrappers (metrics, logging) stand between it and the server.
func withDeadlines(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), controllerKey{}, rc)))
	})
}

// ExtendWriteDeadline gives a streaming answer d more to be written, from
// now: a handler that streams calls it before each chunk. It fails when r
// was not served by a server of this package.
func ExtendWriteDeadline(r *http.Request, d time.Duration) error {
	rc, ok := r.Context().Value(controllerKey{}).(*http.ResponseController)
	if !ok {
		return http.ErrNotSupported
	}
	return rc.SetWriteDeadline(time.Now().Add(d))
}

// ClientSettings are the limits of an HTTP client dirsync sends with.
type ClientSettings struct {
	// DialTimeout bounds opening a TCP connection.
	DialTimeout time.Duration
	// KeepAlive is the TCP keep-alive period.
	KeepAlive time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for an answer's headers once
	// the request is written. The body is bounded by each caller's own
	// deadline on the whole request.
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes pooled connections left unused.
	IdleConnTimeout time.Duration
	// MaxResponseHeaderBytes bounds an answer's headers.
	MaxResponseHeaderBytes int64
	// MaxIdleConnsPerHost is how many connections to one host are kept.
	MaxIdleConnsPerHost int
	// TLSMinVersion is the oldest TLS accepted from a server.
	TLSMinVersion uint16
}

// DefaultClient are the settings of every outbound HTTP client.
var DefaultClient = ClientSettings{
	DialTimeout:            10 * time.Second,
	KeepAlive:              30 * time.Second,
	TLSHandshakeTimeout:    10 * time.Second,
	ResponseHeaderTimeout:  time.Minute,
	IdleConnTimeout:        90 * time.Second,
	MaxResponseHeaderBytes: 256 << 10,
	MaxIdleConnsPerHost:    16,
	TLSMinVersion:          tls.VersionTLS12,
}

// TransportOptions say what a transport trusts and where it may go.
type TransportOptions struct {
	// RootCAs are the certificate authorities trusted; nil means the
	// system's.
	RootCAs *x509.CertPool
	// Screen, when set, refuses every address it does not allow. A
	// screened transport never uses a proxy: the proxy, not dirsync, would
	// then choose the address dialed.
	Screen *Screen
	// EnvironmentProxy sends through the proxy named by HTTPS_PROXY and
	// HTTP_PROXY (ignored when Screen is set).
	EnvironmentProxy bool
}

// NewTransport returns an *http.Transport with these settings.
func (s ClientSettings) NewTransport(o TransportOptions) *http.Transport {
	d := &net.Dialer{Timeout: s.DialTimeout, KeepAlive: s.KeepAlive}
	t := &http.Transport{
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{RootCAs: o.RootCAs, MinVersion: s.TLSMinVersion},
		TLSHandshakeTimeout:    s.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  s.ResponseHeaderTimeout,
		IdleConnTimeout:        s.IdleConnTimeout,
		MaxResponseHeaderBytes: s.MaxResponseHeaderBytes,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    s.MaxIdleConnsPerHost,
		ExpectContinueTimeout:  time.Second,
	}
	switch {
	case o.Screen != nil:
		t.DialContext = o.Screen.dialer(d).DialContext
	case o.EnvironmentProxy:
		t.Proxy = http.ProxyFromEnvironment
	}
	return t
}

// NewClient returns an *http.Client that sends with t and never follows a
// redirect: a 3xx answer is returned as it is, for the caller to refuse.
// A redirect would re-send a request's credentials (a bearer token, a
// client secret, a signed webhook body) to wherever it points.
func NewClient(t http.RoundTripper) *http.Client {
	return &http.Client{Transport: t, CheckRedirect: NoRedirects}
}

// NoRedirects is an http.Client CheckRedirect that follows no redirect.
func NoRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
