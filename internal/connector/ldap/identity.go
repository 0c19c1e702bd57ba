package ldap

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/connector"
)

var _ connector.Identifier = (*source)(nil)

// Identity names the directory the source reads: on Active Directory the
// domain's objectSid (read from the domain object the root DSE names), on
// a generic server the naming context that holds the base DN.
func (s *source) Identity(ctx context.Context) (connector.Identity, error) {
	ss, err := s.connect(ctx)
	if err != nil {
		return connector.Identity{}, err
	}
	defer ss.close()
	nc := namingContextOf(s.cfg.BaseDN, ss.root)
	if nc == "" {
		return connector.Identity{}, connector.Errorf(connector.KindProtocol, "ldap: %s names no naming context that holds the base DN %q", ss.url, s.cfg.BaseDN)
	}
	dns := dnsName(nc)
	names := []string{strings.ToLower(nc)}
	if dns != "" {
		names = append(names, dns)
	}
	if ss.flavor == FlavorAD {
		req := goldap.NewSearchRequest(nc, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{"objectSid"}, nil)
		res, err := ss.search(req)
		if err != nil {
			return connector.Identity{}, classifySearch("read the domain object", nc, err)
		}
		if len(res.Entries) == 1 {
			if sid := sidString(res.Entries[0].GetRawAttributeValue("objectSid")); sid != "" {
				return connector.Identity{Key: "ad:" + strings.ToLower(sid), Names: append(names, strings.ToLower(sid))}, nil
			}
		}
		// A domain object without a readable SID: its DNS name is the
		// next best name of an AD domain.
		if dns != "" {
			return connector.Identity{Key: "ad:" + dns, Names: names}, nil
		}
	}
	return connector.Identity{Key: "ldap:" + strings.ToLower(nc), Names: names}, nil
}

// namingContextOf is the server's naming context that holds base: the
// longest that base ends with, the default one first.
func namingContextOf(base string, root rootDSE) string {
	b := normDN(base)
	best := ""
	for _, nc := range append([]string{root.defaultNC}, root.namingContexts...) {
		n := normDN(nc)
		if n == "" || !(b == n || strings.HasSuffix(b, ","+n)) {
			continue
		}
		if len(n) > len(normDN(best)) {
			best = nc
		}
	}
	return best
}

// normDN lowercases a DN and drops the spaces around its separators.
func normDN(dn string) string {
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		parts[i] = strings.ToLower(strings.TrimSpace(k)) + "=" + strings.ToLower(strings.TrimSpace(v))
	}
	if dn == "" {
		return ""
	}
	return strings.Join(parts, ",")
}

// dnsName is the DNS name of a DN made of dc= components only
// (DC=corp,DC=example,DC=com is corp.example.com), "" otherwise.
func dnsName(dn string) string {
	var labels []string
	for _, rdn := range strings.Split(normDN(dn), ",") {
		v, ok := strings.CutPrefix(rdn, "dc=")
		if !ok {
			return ""
		}
		labels = append(labels, v)
	}
	return strings.Join(labels, ".")
}

// sidString renders a binary security identifier as S-1-5-21-...; "" when
// the bytes are not one.
func sidString(b []byte) string {
	if len(b) < 8 || b[0] != 1 || len(b) != 8+4*int(b[1]) {
		return ""
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "S-%d-%d", b[0], auth)
	for i := 0; i < int(b[1]); i++ {
		fmt.Fprintf(&sb, "-%d", binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	return sb.String()
}
