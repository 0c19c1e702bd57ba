package safehttp

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzCheckHost feeds the screen host names and addresses as users write
// them in URLs: an address it lets through is a public one, and a name it
// lets through does not end in a suffix that only resolves inside a
// network.
func FuzzCheckHost(f *testing.F) {
	for _, seed := range []string{"example.com", "127.0.0.1", "[::1]", "::ffff:10.0.0.1", "0x7f.1", "2130706433", "127.1", "localhost.",
		"metadata.google.internal", "fe80::1%eth0", "100.64.0.1", "8.8.8.8", "2606:4700::1", "64:ff9b::a00:1", "a.local.", "x.localhost"} {
		f.Add(seed)
	}
	s := NewScreen(AllowList{})
	f.Fuzz(func(t *testing.T, host string) {
		if s.CheckHost(host) != nil {
			return
		}
		h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
		if ip, err := netip.ParseAddr(h); err == nil {
			ip = ip.Unmap()
			if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() || cgnat.Contains(ip) {
				t.Fatalf("%q (%s) allowed", host, ip)
			}
			return
		}
		if h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".internal") || strings.HasSuffix(h, ".local") || !strings.Contains(h, ".") {
			t.Fatalf("%q allowed", host)
		}
	})
}
