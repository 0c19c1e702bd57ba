package ldap

import (
	"context"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
)

// LookupUser reads one user in scope, by anchor (GUID), userPrincipalName
// (as mapped: alice@corp.example.com also finds alice@corp.local when that
// suffix is mapped) or sAMAccountName, with the groups in scope it is a
// direct member of. A user outside the scope is *connector.Error KindNotFound.
func (s *source) LookupUser(ctx context.Context, idOrName string) (directory.SourceUser, []directory.SourceMembership, error) {
	idOrName = strings.TrimSpace(idOrName)
	if idOrName == "" {
		return directory.SourceUser{}, nil, connector.Errorf(connector.KindInvalid, "ldap: look up a user: no name given")
	}
	ss, err := s.connect(ctx)
	if err != nil {
		return directory.SourceUser{}, nil, err
	}
	defer ss.close()
	sc, err := s.schema(ss)
	if err != nil {
		return directory.SourceUser{}, nil, err
	}
	if err := ss.checkScope(sc); err != nil {
		return directory.SourceUser{}, nil, err
	}
	match := sc.lookupFilter(idOrName)
	filter := "(&" + sc.userFilter + match + ")"
	var found []*goldap.Entry
	for _, base := range sc.searchBases() {
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			filter, sc.userAttrs, sc.controls())
		err := ss.pagedSearch(req, func(e *goldap.Entry) error {
			if _, dn := parseExtendedDN(e.DN); sc.inScope(dn) {
				found = append(found, e)
			}
			return nil
		})
		if err != nil {
			return directory.SourceUser{}, nil, ss.readErr("look up "+idOrName, base, err)
		}
	}
	switch len(found) {
	case 0:
		return directory.SourceUser{}, nil, &connector.Error{Kind: connector.KindNotFound,
			Message: fmt.Sprintf("ldap: no user %q in the source's scope (OUs and user filter)", idOrName)}
	case 1:
	default:
		return directory.SourceUser{}, nil, &connector.Error{Kind: connector.KindInvalid,
			Message: fmt.Sprintf("ldap: %q names %d users; give the user's GUID or full UPN", idOrName, len(found))}
	}
	e := found[0]
	a, ok := sc.anchorOf(e)
	if !ok {
		return directory.SourceUser{}, nil, connector.Errorf(connector.KindNotFound, "ldap: user %q has no anchor (%s)", idOrName, sc.attrs[AttrAnchor])
	}
	u := sc.user(e, a)
	var ms []directory.SourceMembership
	err = ss.groupsOf(sc, u.DN, func(g known) error {
		ms = append(ms, directory.SourceMembership{GroupExternalID: g.id, MemberExternalID: a.id, MemberKind: directory.MemberUser})
		return nil
	})
	if err != nil {
		return directory.SourceUser{}, nil, err
	}
	return u, ms, nil
}

// lookupFilter matches a user by what an administrator may type. Every
// piece of input is escaped: it is data, never filter syntax.
func (sc *schema) lookupFilter(q string) string {
	var terms []string
	if f, ok := sc.anchorFilter(q); ok {
		terms = append(terms, f)
	}
	if upn := sc.attrs[AttrUsername]; upn != "" {
		terms = append(terms, "("+upn+"="+goldap.EscapeFilter(q)+")")
		// The name may carry a mapped suffix; the directory holds the original.
		if at := strings.LastIndexByte(q, '@'); at >= 0 {
			for from, to := range sc.suffixMap {
				if strings.EqualFold(q[at+1:], to) {
					terms = append(terms, "("+upn+"="+goldap.EscapeFilter(q[:at+1]+from)+")")
				}
			}
		}
	}
	if sam := sc.attrs[AttrAccountName]; sam != "" {
		name := q
		// sAMAccountName@domain is the username of a user without a UPN.
		if at := strings.LastIndexByte(q, '@'); at >= 0 && strings.EqualFold(q[at+1:], sc.domain) {
			name = q[:at]
		}
		terms = append(terms, "("+sam+"="+goldap.EscapeFilter(name)+")")
		if name != q {
			terms = append(terms, "("+sam+"="+goldap.EscapeFilter(q)+")")
		}
	}
	return "(|" + strings.Join(terms, "") + ")"
}

// anchorFilter matches an object by its external id: its GUID (objectGUID
// or, on AD, ms-DS-ConsistencyGuid) or the anchor attribute's value. It
// reports false for an id that cannot be an anchor (text where the anchor
// is a GUID).
func (sc *schema) anchorFilter(id string) (string, bool) {
	attr := sc.attrs[AttrAnchor]
	if attr == "" {
		return "", false
	}
	isGUID := strings.EqualFold(attr, attrObjectGUID) || strings.Contains(strings.ToLower(attr), "guid")
	if !isGUID {
		return "(" + attr + "=" + goldap.EscapeFilter(id) + ")", true
	}
	g, ok := ParseGUID(id)
	switch {
	case !ok:
		return "", false
	case sc.flavor == FlavorAD && strings.EqualFold(attr, attrObjectGUID):
		return "(|" + guidFilter(attrObjectGUID, g) + guidFilter(attrConsistencyGUID, g) + ")", true
	}
	return guidFilter(attr, g), true
}

// ParentGroups lists, for each group (by external id), the groups in scope
// it is a direct member of: one search for the group, one for its parents.
func (s *source) ParentGroups(ctx context.Context, groupIDs []string) ([]directory.SourceMembership, error) {
	ss, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer ss.close()
	sc, err := s.schema(ss)
	if err != nil {
		return nil, err
	}
	var out []directory.SourceMembership
	for _, id := range groupIDs {
		f, ok := sc.anchorFilter(id)
		if !ok {
			continue
		}
		dn, err := ss.findDN(sc, "(&"+sc.groupFilter+f+")")
		if err != nil || dn == "" {
			return out, err
		}
		err = ss.groupsOf(sc, dn, func(g known) error {
			out = append(out, directory.SourceMembership{GroupExternalID: g.id, MemberExternalID: id, MemberKind: directory.MemberGroup})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// findDN finds the DN of the one entry in scope the filter matches, or ""
// when there is none.
func (ss *session) findDN(sc *schema, filter string) (string, error) {
	found := ""
	for _, base := range sc.searchBases() {
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			filter, []string{"1.1"}, sc.controls())
		err := ss.pagedSearch(req, func(e *goldap.Entry) error {
			if _, dn := parseExtendedDN(e.DN); sc.inScope(dn) {
				found = dn
			}
			return nil
		})
		if err != nil {
			return "", ss.readErr("find "+filter, base, err)
		}
	}
	return found, nil
}
