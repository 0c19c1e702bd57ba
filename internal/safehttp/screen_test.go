package safehttp_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/safehttp"
)

func TestCheckHostRefusesTheInsideOfTheNetwork(t *testing.T) {
	s := safehttp.NewScreen(safehttp.AllowList{})
	refused := map[string]string{
		"127.0.0.1":                "loopback",
		"127.8.9.10":               "loopback",
		"localhost":                "loopback",
		"LOCALHOST.":               "loopback",
		"api.localhost":            "loopback",
		"[::1]":                    "loopback",
		"::ffff:127.0.0.1":         "loopback",
		"0.0.0.0":                  "unspecified",
		"0.1.2.3":                  "unspecified",
		"::":                       "unspecified",
		"169.254.169.254":          "link-local",
		"fe80::1":                  "link-local",
		"10.0.0.1":                 "private",
		"172.16.5.4":               "private",
		"192.168.1.1":              "private",
		"fc00::1":                  "private",
		"fd12:3456::1":             "private",
		"100.64.0.1":               "carrier-grade NAT",
		"100.127.255.254":          "carrier-grade NAT",
		"224.0.0.1":                "multicast",
		"ff02::1":                  "multicast",
		"255.255.255.255":          "broadcast",
		"192.0.2.7":                "special-purpose",
		"198.18.0.1":               "special-purpose",
		"64:ff9b::a00:1":           "special-purpose",
		"2002:7f00:1::":            "special-purpose",
		"metadata.google.internal": ".internal",
		"printer.local":            ".local",
		"intranet":                 "single-label",
		"metadata":                 "single-label",
		"2130706433":               "single-label",
		"0x7f.1":                   "number",
		"127.1":                    "number",
		"10.0.0.1.":                "private",
		"router.home.arpa":         ".home.arpa",
	}
	for host, want := range refused {
		err := s.CheckHost(host)
		if !errors.Is(err, safehttp.ErrBlocked) {
			t.Errorf("%s: %v, want refused", host, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %q does not say %q", host, err, want)
		}
	}
	for _, host := range []string{"example.com", "hooks.example.com.", "93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "[2001:4860::8888]", "100.128.0.1"} {
		if err := s.CheckHost(host); err != nil {
			t.Errorf("%s refused: %v", host, err)
		}
	}
}

func TestAllowList(t *testing.T) {
	a, err := safehttp.ParseAllowList([]string{"10.1.0.0/16, 192.168.7.9", "hooks.corp.example *.svc.cluster.local", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.Strings(), " "); got != "10.1.0.0/16 192.168.7.9/32 fd00::/8 hooks.corp.example *.svc.cluster.local" {
		t.Fatalf("entries %q", got)
	}
	s := safehttp.NewScreen(a)
	for _, ok := range []string{"10.1.2.3", "192.168.7.9", "::ffff:10.1.0.1", "fd00::5", "hooks.corp.example", "HOOKS.corp.example.", "a.svc.cluster.local", "b.c.svc.cluster.local"} {
		if err := s.CheckHost(ok); err != nil {
			t.Errorf("%s: %v, want allowed", ok, err)
		}
	}
	for _, no := range []string{"10.2.0.1", "192.168.7.10", "127.0.0.1", "svc.cluster.local", "x.cluster.local", "fe80::1"} {
		if err := s.CheckHost(no); !errors.Is(err, safehttp.ErrBlocked) {
			t.Errorf("%s: %v, want refused", no, err)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "*", "a..b", "-x.example", "http://x", "fe80::1%eth0", "a*.example"} {
		if _, err := safehttp.ParseAllowList([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// screenedGet GETs target through a transport screened by allow.
func screenedGet(t *testing.T, allow safehttp.AllowList, target string) (*http.Response, error) {
	t.Helper()
	c := safehttp.NewClient(safehttp.DefaultClient.NewTransport(safehttp.TransportOptions{Screen: safehttp.NewScreen(allow)}))
	resp, err := c.Get(target)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestScreenedDialerChecksTheAddressDialed(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	_, port, _ := net.SplitHostPort(u.Host)

	// "localhost" is resolved by the dialer, not by CheckHost: the refusal
	// comes from the check on the address actually dialed.
	for _, target := range []string{srv.URL, "http://localhost:" + port, "http://[::ffff:127.0.0.1]:" + port} {
		_, err := screenedGet(t, safehttp.AllowList{}, target)
		var be *safehttp.BlockedError
		if !errors.As(err, &be) || !be.Addr.IsLoopback() {
			t.Errorf("%s: %v, want a refused loopback address", target, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the server was reached %d times", hits)
	}

	allowIP, _ := safehttp.ParseAllowList([]string{"127.0.0.1"})
	if resp, err := screenedGet(t, allowIP, srv.URL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("allowed address: %v", err)
	}
	allowName, _ := safehttp.ParseAllowList([]string{"localhost"})
	if resp, err := screenedGet(t, allowName, "http://localhost:"+port); err != nil || resp.StatusCode != 200 {
		t.Fatalf("allowed name: %v", err)
	}
	// The name is allowed, not the address behind it.
	if _, err := screenedGet(t, allowName, srv.URL); !errors.Is(err, safehttp.ErrBlocked) {
		t.Fatalf("address of an allowed name: %v", err)
	}
	if hits != 2 {
		t.Fatalf("%d hits, want 2", hits)
	}
}

func TestNoRedirects(t *testing.T) {
	hits := map[string]int{}
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) {
		hits["a"]++
		http.Redirect(w, r, "/b", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { hits["b"]++ })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	allow, _ := safehttp.ParseAllowList([]string{"127.0.0.0/8"})
	resp, err := screenedGet(t, allow, srv.URL+"/a")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusTemporaryRedirect || hits["a"] != 1 || hits["b"] != 0 {
		t.Fatalf("status %d, hits %v: the redirect was followed", resp.StatusCode, hits)
	}
}

func TestCheckAddrUnmaps(t *testing.T) {
	s := safehttp.NewScreen(safehttp.AllowList{})
	if err := s.CheckAddr("x", netip.MustParseAddr("::ffff:8.8.8.8")); err != nil {
		t.Fatalf("mapped public address refused: %v", err)
	}
	if err := s.CheckAddr("x", netip.MustParseAddr("::ffff:10.0.0.1")); !errors.Is(err, safehttp.ErrBlocked) {
		t.Fatalf("mapped private address: %v", err)
	}
}
