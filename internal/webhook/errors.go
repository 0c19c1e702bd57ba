package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/dirsync/dirsync/internal/safehttp"
)

// statusError is a receiver's non-2xx answer.
type statusError struct {
	status   int
	text     string // "502 Bad Gateway"
	redirect bool
}

func (e *statusError) Error() string {
	if e.redirect {
		return "receiver answered " + e.text + ": redirects are not followed"
	}
	return "receiver answered " + e.text
}

// timeoutError is a delivery that took longer than the dispatcher's Timeout.
type timeoutError struct {
	after time.Duration
	err   error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("timed out after %s without a complete answer", e.after)
}
func (e *timeoutError) Unwrap() error { return e.err }
func (e *timeoutError) Timeout() bool { return true }

// Describe is describe, for deliveries made outside the dispatcher (the
// application layer's test delivery).
func Describe(err error) (full, summary string) { return describe(err) }

// describe turns a failed delivery into the full error, for
// administrators, and a summary without internal detail (no address, no
// port, no certificate or DNS detail) for the other roles.
func describe(err error) (full, summary string) {
	full = err.Error()
	var (
		se   *statusError
		te   *timeoutError
		be   *safehttp.BlockedError
		dns  *net.DNSError
		cert *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		hn   x509.HostnameError
		rec  tls.RecordHeaderError
		ne   net.Error
	)
	switch {
	case errors.As(err, &se) && se.redirect:
		return full, "answered " + strconv.Itoa(se.status) + " (redirects are not followed)"
	case errors.As(err, &se):
		return full, "answered " + strconv.Itoa(se.status)
	case errors.As(err, &be):
		return full, "receiver address not allowed"
	case errors.As(err, &te):
		return full, "timed out"
	case errors.As(err, &dns):
		return "cannot resolve " + dns.Name + ": " + dns.Err, "receiver host not found"
	case errors.As(err, &cert) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &rec):
		return full, "TLS handshake failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return full, "receiver refused the connection"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE):
		return full, "connection lost"
	case errors.As(err, &ne) && ne.Timeout():
		return full, "timed out"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return full, "receiver unreachable"
	}
	return full, "delivery failed"
}
