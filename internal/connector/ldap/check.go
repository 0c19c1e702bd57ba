package ldap

import (
	"context"
	"fmt"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/connector"
)

// Check tests the settings against the directory one step at a time:
// connect (network and TLS), bind, the server, the base DN, the included
// OUs, reading users, reading groups, and (on AD) whether incremental reads
// are allowed. Each failing step has its own message; the first failure
// ends the check and is returned as an *connector.Error.
func (s *source) Check(ctx context.Context) ([]connector.CheckResult, error) {
	cl := connector.CheckLog{Prefix: "ldap: "}
	ss, err := s.connect(ctx)
	if err != nil {
		switch connector.KindOf(err) {
		case connector.KindNetwork, connector.KindTLS:
			return cl.Fail("connect", err)
		default:
			cl.Pass("connect", "reached the directory over TLS")
			return cl.Fail("bind", err)
		}
	}
	defer ss.close()
	s.checkServer(&cl, ss)
	sc, err := s.schema(ss)
	if err != nil {
		return cl.Fail("base_dn", err)
	}
	for _, step := range []func(*connector.CheckLog, *session, *schema) error{checkScope, checkReads} {
		if err := step(&cl, ss, sc); err != nil {
			return cl.Results, err
		}
	}
	if ss.flavor == FlavorAD {
		checkIncremental(&cl, ss, sc)
	}
	return cl.Results, nil
}

// checkServer records the connection, the bind and what the server is.
func (s *source) checkServer(cl *connector.CheckLog, ss *session) {
	tlsNote := "TLS certificate verified"
	if s.cfg.InsecureSkipVerify {
		tlsNote = "WARNING: TLS certificate NOT verified (insecure_skip_tls_verify)"
	}
	cl.Pass("connect", "reached %s; %s", ss.url, tlsNote)
	cl.Pass("bind", "bound as %q", s.cfg.BindDN)
	kind := "generic LDAP directory"
	if ss.flavor == FlavorAD {
		kind = "Active Directory"
	}
	if ss.root.vendor != "" {
		kind += " (" + ss.root.vendor + ")"
	}
	cl.Pass("server", "%s, default naming context %q", kind, ss.root.defaultNC)
}

// checkScope checks that the base DN and the included OUs exist.
func checkScope(cl *connector.CheckLog, ss *session, sc *schema) error {
	if err := ss.exists(sc.baseDN); err != nil {
		_, err = cl.Fail("base_dn", ss.scopeErr(err, "the base DN %q does not exist (or the bind account cannot see it)", sc.baseDN))
		return err
	}
	cl.Pass("base_dn", "base DN %q exists", sc.baseDN)
	if len(sc.includeRaw) == 0 {
		return nil
	}
	for _, ou := range sc.includeRaw {
		if err := ss.exists(ou); err != nil {
			_, err = cl.Fail("ous", ss.scopeErr(err, "the included OU %q does not exist: check its spelling, or whether it was renamed or moved", ou))
			return err
		}
	}
	cl.Pass("ous", "the %d included OU(s) exist", len(sc.includeRaw))
	return nil
}

// checkReads checks that users in scope can be listed and their
// attributes read, and groups listed.
func checkReads(cl *connector.CheckLog, ss *session, sc *schema) error {
	n, err := ss.probe(sc, sc.userFilter, sc.userAttrs)
	switch {
	case err != nil:
	case n.count == 0:
		err = &connector.Error{Kind: connector.KindPermission, Message: fmt.Sprintf(
			"ldap: no user is visible in scope (filter %s): the bind account may lack the right to list and read these OUs "+
				"(grant it Read on them), or the scope and filter select nobody", sc.userFilter)}
	case n.missing != "":
		err = &connector.Error{Kind: connector.KindPermission, Message: fmt.Sprintf(
			"ldap: the bind account can see users but not read their %s attribute (%s): grant it Read Property on user objects",
			n.missing, n.dn)}
	}
	if err != nil {
		_, err = cl.Fail("read_users", err)
		return err
	}
	cl.Pass("read_users", "users are readable (%s)", n.dn)

	g, err := ss.probe(sc, sc.groupFilter, sc.groupAttrs)
	if err != nil {
		_, err = cl.Fail("read_groups", err)
		return err
	}
	if g.count == 0 {
		cl.Pass("read_groups", "no group in scope (filter %s)", sc.groupFilter)
	} else {
		cl.Pass("read_groups", "groups are readable (%s)", g.dn)
	}
	return nil
}

// checkIncremental says whether AD lets the bind account read changes
// only (DirSync); without it every sync reads everything, which works.
func checkIncremental(cl *connector.CheckLog, ss *session, sc *schema) {
	if _, err := ss.dirSyncMark(sc); err != nil {
		cl.Add("incremental", false, cl.Message(err)+"; each sync will read the whole directory")
		return
	}
	cl.Pass("incremental", "the DirSync control is allowed: syncs after the first read only changes")
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
