package ldap

import (
	"context"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/connector"
)

// Check tests the settings against the directory one step at a time:
// connect (network and TLS), bind, the server, the base DN, the included
// OUs, reading users, reading groups, and (on AD) whether incremental reads
// are allowed. Each failing step has its own message; the first failure
// ends the check and is returned as an *connector.Error.
func (s *source) Check(ctx context.Context) ([]connector.CheckResult, error) {
	var results []connector.CheckResult
	pass := func(name, format string, args ...any) {
		results = append(results, connector.CheckResult{Name: name, OK: true, Message: fmt.Sprintf(format, args...)})
	}
	fail := func(name string, err error) ([]connector.CheckResult, error) {
		msg := err.Error()
		if ce := asConnectorError(err); ce != nil {
			msg = strings.TrimPrefix(ce.Message, "ldap: ")
		}
		results = append(results, connector.CheckResult{Name: name, OK: false, Message: msg})
		return results, err
	}

	ss, err := s.connect(ctx)
	if err != nil {
		switch connector.KindOf(err) {
		case connector.KindNetwork, connector.KindTLS:
			return fail("connect", err)
		default:
			pass("connect", "reached the directory over TLS")
			return fail("bind", err)
		}
	}
	defer ss.close()
	tlsNote := "TLS certificate verified"
	if s.cfg.InsecureSkipVerify {
		tlsNote = "WARNING: TLS certificate NOT verified (insecure_skip_tls_verify)"
	}
	pass("connect", "reached %s; %s", ss.url, tlsNote)
	pass("bind", "bound as %q", s.cfg.BindDN)
	kind := "generic LDAP directory"
	if ss.flavor == FlavorAD {
		kind = "Active Directory"
	}
	if ss.root.vendor != "" {
		kind += " (" + ss.root.vendor + ")"
	}
	pass("server", "%s, default naming context %q", kind, ss.root.defaultNC)

	sc, err := s.schema(ss)
	if err != nil {
		return fail("base_dn", err)
	}
	if err := ss.exists(sc.baseDN); err != nil {
		return fail("base_dn", ss.scopeErr(err, "the base DN %q does not exist (or the bind account cannot see it)", sc.baseDN))
	}
	pass("base_dn", "base DN %q exists", sc.baseDN)
	if len(sc.includeRaw) > 0 {
		for _, ou := range sc.includeRaw {
			if err := ss.exists(ou); err != nil {
				return fail("ous", ss.scopeErr(err, "the included OU %q does not exist: check its spelling, or whether it was renamed or moved", ou))
			}
		}
		pass("ous", "the %d included OU(s) exist", len(sc.includeRaw))
	}

	n, err := ss.probe(sc, sc.userFilter, sc.userAttrs)
	if err != nil {
		return fail("read_users", err)
	}
	if n.count == 0 {
		return fail("read_users", &connector.Error{Kind: connector.KindPermission, Message: fmt.Sprintf(
			"ldap: no user is visible in scope (filter %s): the bind account may lack the right to list and read these OUs "+
				"(grant it Read on them), or the scope and filter select nobody", sc.userFilter)})
	}
	if n.missing != "" {
		return fail("read_users", &connector.Error{Kind: connector.KindPermission, Message: fmt.Sprintf(
			"ldap: the bind account can see users but not read their %s attribute (%s): grant it Read Property on user objects",
			n.missing, n.dn)})
	}
	pass("read_users", "users are readable (%s)", n.dn)

	g, err := ss.probe(sc, sc.groupFilter, sc.groupAttrs)
	if err != nil {
		return fail("read_groups", err)
	}
	if g.count == 0 {
		pass("read_groups", "no group in scope (filter %s)", sc.groupFilter)
	} else {
		pass("read_groups", "groups are readable (%s)", g.dn)
	}

	if ss.flavor == FlavorAD {
		if _, err := ss.dirSyncMark(sc); err != nil {
			results = append(results, connector.CheckResult{Name: "incremental", OK: false, Message: strings.TrimPrefix(
				asConnectorErrorMessage(err), "ldap: ") + "; each sync will read the whole directory"})
		} else {
			pass("incremental", "the DirSync control is allowed: syncs after the first read only changes")
		}
	}
	return results, nil
}

func asConnectorErrorMessage(err error) string {
	if ce := asConnectorError(err); ce != nil {
		return ce.Message
	}
	return err.Error()
}

type probeResult struct {
	count   int
	dn      string
	missing string
}

// probe reads the first entry a filter finds in scope and reports whether
// its anchor and name attributes came back: AD returns entries without the
// attributes an account may not read, rather than an error.
func (ss *session) probe(sc *schema, filter string, attrs []string) (probeResult, error) {
	var p probeResult
	stop := fmt.Errorf("found")
	for _, base := range sc.searchBases() {
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
		err := ss.pagedSearchSize(req, 10, func(e *goldap.Entry) error {
			if !sc.inScope(e.DN) {
				return nil
			}
			p.count++
			p.dn = e.DN
			if _, ok := sc.anchorOf(e); !ok {
				p.missing = sc.attrs[AttrAnchor]
			}
			return stop
		})
		if err == stop {
			return p, nil
		}
		if err != nil {
			return p, ss.readErr("read "+base, base, err)
		}
	}
	return p, nil
}
