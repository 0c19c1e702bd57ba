package safehttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"code.dny.dev/ssrf"
)

// ErrBlocked is wrapped by every refusal of a Screen.
var ErrBlocked = errors.New("address not allowed")

// BlockedError is a refused target: an address in a special range, or a
// host name that only resolves inside a network.
type BlockedError struct {
	Host   string     // the host as given
	Addr   netip.Addr // the address refused; invalid when the name itself was
	Reason string     // "a loopback address", "a private address", ...
}

func (e *BlockedError) Error() string {
	what := e.Host
	if e.Addr.IsValid() && e.Addr.String() != e.Host {
		what = fmt.Sprintf("%s (%s)", e.Host, e.Addr)
	}
	return fmt.Sprintf("%s is %s: only public addresses may be targets unless the deployment's allow list names them", what, e.Reason)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// AllowList names the private targets a deployment trusts: address ranges
// (CIDRs, or single addresses) and host names ("hooks.corp.example", or
// "*.corp.example" for every name under it). A host name on the list is
// dialed wherever its DNS points, so list names only of a DNS you trust.
type AllowList struct {
	Prefixes []netip.Prefix
	Hosts    []string // lower case, without a trailing dot
}

// ParseAllowList reads allow list entries: each a CIDR ("10.1.0.0/16"), an
// address ("192.168.1.20"), or a host name, possibly "*."-prefixed.
// An entry may hold several, separated by commas or spaces.
func ParseAllowList(entries []string) (AllowList, error) {
	var a AllowList
	for _, e := range entries {
		for _, f := range strings.FieldsFunc(e, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
			if err := a.add(f); err != nil {
				return AllowList{}, err
			}
		}
	}
	return a, nil
}

func (a *AllowList) add(entry string) error {
	if p, err := netip.ParsePrefix(entry); err == nil {
		a.Prefixes = append(a.Prefixes, p.Masked())
		return nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(entry, "[]")); err == nil {
		if ip.Zone() != "" {
			return fmt.Errorf("allow list entry %q: an address with a zone cannot be allowed", entry)
		}
		ip = ip.Unmap()
		a.Prefixes = append(a.Prefixes, netip.PrefixFrom(ip, ip.BitLen()))
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(entry), ".")
	if !validHostPattern(name) || numericLabel(name[strings.LastIndexByte(name, '.')+1:]) {
		return fmt.Errorf("allow list entry %q is neither a CIDR, an IP address nor a host name", entry)
	}
	a.Hosts = append(a.Hosts, name)
	return nil
}

// validHostPattern reports whether name is a DNS name, optionally "*."-prefixed.
func validHostPattern(name string) bool {
	name = strings.TrimPrefix(name, "*.")
	if name == "" || len(name) > 253 || strings.Contains(name, "*") {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// Empty reports whether nothing is allowed beyond public addresses.
func (a AllowList) Empty() bool { return len(a.Prefixes) == 0 && len(a.Hosts) == 0 }

// Strings lists the entries as ParseAllowList reads them.
func (a AllowList) Strings() []string {
	out := make([]string, 0, len(a.Prefixes)+len(a.Hosts))
	for _, p := range a.Prefixes {
		out = append(out, p.String())
	}
	return append(out, a.Hosts...)
}

// AllowsAddr reports whether ip is in one of the listed ranges.
func (a AllowList) AllowsAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return slices.ContainsFunc(a.Prefixes, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// AllowsHost reports whether the host name is listed.
func (a AllowList) AllowsHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, h := range a.Hosts {
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

// Screen decides which targets may be dialed: public addresses, and what
// its allow list names. It is safe for concurrent use.
type Screen struct {
	allow AllowList
	guard *ssrf.Guardian
}

// NewScreen returns a Screen that allows public addresses and allow.
//
// What is public is the IANA special-purpose registries' complement, kept
// up to date by code.dny.dev/ssrf: refused are loopback, "this network"
// (0.0.0.0/8) and unspecified, private (RFC 1918, fc00::/7), shared
// address space (CGNAT, 100.64.0.0/10), link-local (169.254.0.0/16,
// fe80::/10), multicast, documentation, benchmarking and reserved ranges,
// 6to4 and NAT64 (which embed an IPv4 address), and any IPv6 address
// outside global unicast (2000::/3).
func NewScreen(allow AllowList) *Screen {
	return &Screen{allow: allow, guard: ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())}
}

// AllowList returns what the screen allows beyond public addresses.
func (s *Screen) AllowList() AllowList { return s.allow }

// CheckAddr returns a *BlockedError when ip may not be dialed; host names
// the target in that error.
func (s *Screen) CheckAddr(host string, ip netip.Addr) error {
	ip = ip.Unmap()
	if s.allow.AllowsAddr(ip) {
		return nil
	}
	if ip.Zone() != "" {
		return &BlockedError{Host: host, Addr: ip, Reason: "an address with a zone"}
	}
	if err := s.guard.SafeAddr(ip); err != nil {
		return &BlockedError{Host: host, Addr: ip, Reason: addrReason(ip)}
	}
	return nil
}

// CheckHost refuses, without resolving anything, a host that is plainly
// not a public target: an IP literal in a special range, "localhost", a
// name under a suffix that only resolves inside a network (.internal,
// .local, .localhost, .home.arpa, .lan), a single-label name (resolved
// through the local search domains), or a number that some resolvers read
// as an IPv4 address ("2130706433", "0x7f.1", "127.1"). The dialer checks
// the address again after DNS, so a public-looking name that resolves to a
// private address is still refused when dialed.
func (s *Screen) CheckHost(host string) error {
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if h == "" {
		return &BlockedError{Host: host, Reason: "empty"}
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return s.CheckAddr(host, ip)
	}
	if s.allow.AllowsHost(h) {
		return nil
	}
	labels := strings.Split(h, ".")
	last := labels[len(labels)-1]
	switch {
	case h == "localhost" || strings.HasSuffix(h, ".localhost"):
		return &BlockedError{Host: host, Reason: "a loopback name"}
	case len(labels) == 1:
		return &BlockedError{Host: host, Reason: "a single-label name, resolved only inside a network"}
	case numericLabel(last):
		return &BlockedError{Host: host, Reason: "a number, which some resolvers read as an IPv4 address"}
	}
	for _, suffix := range internalSuffixes {
		if strings.HasSuffix(h, suffix) {
			return &BlockedError{Host: host, Reason: "a name under " + suffix + ", resolved only inside a network"}
		}
	}
	return nil
}

// internalSuffixes are DNS suffixes reserved for, or customary in, names
// that only resolve inside a network (metadata.google.internal among them).
var internalSuffixes = []string{".internal", ".local", ".localdomain", ".home.arpa", ".lan", ".intranet", ".corp"}

// numericLabel reports whether a top-level label looks like a number: no
// real top-level domain does, and inet_aton reads "127.1", "0x7f.1" or
// "2130706433" as IPv4 addresses.
func numericLabel(l string) bool {
	if strings.HasPrefix(l, "0x") {
		return true
	}
	return l != "" && strings.Trim(l, "0123456789") == ""
}

// addrReason names the special range ip is in, for an administrator.
func addrReason(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsUnspecified() || (ip.Is4() && ip.As4()[0] == 0):
		return "an unspecified (\"this network\") address"
	case ip.IsPrivate():
		return "a private address"
	case cgnat.Contains(ip):
		return "a shared (carrier-grade NAT) address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address (cloud metadata services live there)"
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case ip == broadcast:
		return "the broadcast address"
	}
	return "a special-purpose address (reserved, documentation, benchmarking or translation)"
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// dialer returns a dialer like d whose every connection, to every address a
// name resolves to, is checked by the screen just before it is made.
func (s *Screen) dialer(d *net.Dialer) *screenDialer { return &screenDialer{s: s, d: d} }

type screenDialer struct {
	s *Screen
	d *net.Dialer
}

// DialContext dials address (host:port) unless the screen refuses the
// address the host resolves to. A host on the allow list is dialed
// wherever it resolves.
func (sd *screenDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if sd.s.allow.AllowsHost(host) {
		return sd.d.DialContext(ctx, network, address)
	}
	d := *sd.d
	// Control runs after DNS, on each address the dialer is about to
	// connect to: the address checked is the address used, so a name
	// cannot answer one address to a check and another to the dial.
	d.ControlContext = func(_ context.Context, _, addr string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return &BlockedError{Host: host, Reason: "not an IP address and port (" + addr + ")"}
		}
		return sd.s.CheckAddr(host, ap.Addr())
	}
	return d.DialContext(ctx, network, address)
}
