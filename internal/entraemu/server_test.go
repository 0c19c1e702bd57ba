package entraemu

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/safehttp"
)

// The emulator's server has the limits of every dirsync server (read,
// write and idle timeouts, header size): a request whose headers pass the
// limit is refused with 431 before any handler runs, as a front door
// would.
func TestServerHasSafehttpLimits(t *testing.T) {
	tn, err := New(Options{Users: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tn.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := safehttp.DefaultServer
	if s.srv.ReadHeaderTimeout != want.ReadHeaderTimeout || s.srv.ReadTimeout != want.ReadTimeout ||
		s.srv.WriteTimeout != want.WriteTimeout || s.srv.IdleTimeout != want.IdleTimeout {
		t.Errorf("timeouts %v %v %v %v, want safehttp's", s.srv.ReadHeaderTimeout, s.srv.ReadTimeout, s.srv.WriteTimeout, s.srv.IdleTimeout)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/v1.0/users", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 2*want.MaxHeaderBytes))
	// HTTP/1.1, where the refusal is a status (HTTP/2 answers a GOAWAY).
	tr := s.HTTPClient().Transport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2, tr.TLSNextProto = false, map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a request with %d bytes of headers: %s, want 431", 2*want.MaxHeaderBytes, resp.Status)
	}
}
