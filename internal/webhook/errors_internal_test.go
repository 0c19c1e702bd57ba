package webhook

import (
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/safehttp"
)

func TestDescribe(t *testing.T) {
	dial := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8443}, Err: err}
	}
	for _, c := range []struct {
		err     error
		summary string
	}{
		{&statusError{status: 502, text: "502 Bad Gateway"}, "answered 502"},
		{&statusError{status: 308, text: "308 Permanent Redirect", redirect: true}, "answered 308 (redirects are not followed)"},
		{&timeoutError{after: time.Second}, "timed out"},
		{dial(&safehttp.BlockedError{Host: "x", Addr: netip.MustParseAddr("10.1.2.3"), Reason: "a private address"}), "receiver address not allowed"},
		{&net.DNSError{Name: "hooks.example", Err: "no such host", IsNotFound: true}, "receiver host not found"},
		{dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "receiver refused the connection"},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), "connection lost"},
		{io.ErrUnexpectedEOF, "connection lost"},
		{x509.UnknownAuthorityError{}, "TLS handshake failed"},
		{dial(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "receiver unreachable"},
		{fmt.Errorf("something else at 10.1.2.3"), "delivery failed"},
	} {
		full, summary := describe(c.err)
		if summary != c.summary || full == "" {
			t.Errorf("%v: summary %q, want %q", c.err, summary, c.summary)
		}
	}
}
