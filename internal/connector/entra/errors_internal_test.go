package entra

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/graph"
)

// A DNS failure cannot be produced on loopback without depending on the
// machine's resolver, so the error a failed lookup gives is built here as
// net/http builds it.
func TestDNSFailureExplained(t *testing.T) {
	c := &conn{cfg: Config{Tenant: "contoso.onmicrosoft.com"}, cloud: graph.CloudUSGov}
	dnsErr := &url.Error{Op: "Get", URL: "https://login.microsoftonline.us/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration", Err: &net.OpError{
		Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "login.microsoftonline.us", IsNotFound: true},
	}}
	if graph.Transient(dnsErr) {
		t.Error("a name that does not exist was taken as transient")
	}
	err := c.classify(&graph.AuthError{Cause: dnsErr, Err: errors.New("ClientSecretCredential: " + dnsErr.Error())}, "", "")
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Kind != connector.KindNetwork || !strings.Contains(ce.Message, "cannot resolve login.microsoftonline.us") {
		t.Fatalf("err = %v", err)
	}
	// A resolver that timed out may answer next time.
	if !graph.Transient(&net.DNSError{Err: "i/o timeout", Name: "graph.microsoft.us", IsTimeout: true}) {
		t.Error("a DNS timeout was taken as permanent")
	}
}

func TestExpiryNote(t *testing.T) {
	now := time.Date(2025, 3, 1, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		date string
		ok   bool
		says string
	}{
		{"2025-02-27", false, "2 days ago"},
		{"2025-03-01", true, "today"},
		{"2025-03-08", true, "in 7 days: create a new one soon"},
		{"2026-03-01", true, "in 365 days"},
	} {
		ok, msg := expiryNote(tc.date, now)
		if ok != tc.ok || !strings.Contains(msg, tc.says) {
			t.Errorf("%s: %v %q", tc.date, ok, msg)
		}
	}
}

func TestGraphErrorKinds(t *testing.T) {
	c := &conn{cfg: Config{Tenant: "t"}, cloud: graph.CloudGlobal}
	for _, tc := range []struct {
		err  error
		kind connector.ErrorKind
	}{
		{&graph.Error{Status: 410, Code: "syncStateNotFound"}, connector.KindCursor},
		{&graph.Error{Status: 400, Code: "resyncRequired"}, connector.KindCursor},
		{&graph.Error{Status: 404, Code: "Request_ResourceNotFound"}, connector.KindNotFound},
		{&graph.Error{Status: 401, Code: "InvalidAuthenticationToken"}, connector.KindAuth},
		{fmt.Errorf("%w: %w", graph.ErrRetryBudget, &graph.Error{Status: 504}), connector.KindUnavailable},
		{&graph.Error{Status: 400, Code: "Request_BadRequest"}, connector.KindProtocol},
		{&graph.AuthError{Status: 503}, connector.KindUnavailable},
		{&graph.AuthError{Status: 400, Codes: []int{700027}}, connector.KindAuth},
	} {
		if k := connector.KindOf(c.classify(tc.err, "read", "")); k != tc.kind {
			t.Errorf("%v: kind %s, want %s", tc.err, k, tc.kind)
		}
	}
}
