package ldap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
)

// What an administrator's pickers ask of a directory: its tree of OUs, to
// include or exclude subtrees, and a search of its groups and users by the
// start of their names.

var (
	_ connector.ContainerBrowser = (*source)(nil)
	_ connector.Searcher         = (*source)(nil)
)

// containerFilter matches what holds objects in a directory tree: OUs,
// AD's containers (CN=Users) and domains, and X.500 organizations.
const containerFilter = "(|(objectClass=organizationalUnit)(objectClass=container)(objectClass=domain)(objectClass=organization)(objectClass=builtinDomain))"

// errEnough stops a paged search once a picker has what it shows.
var errEnough = errors.New("ldap: enough results")

// Containers lists the containers directly under dn (the base DN when dn
// is empty), whatever the source's OU filter says: the tree is where that
// filter is chosen. A dn outside the base DN is refused.
func (s *source) Containers(ctx context.Context, dn string, limit int) ([]connector.Container, bool, error) {
	if strings.TrimSpace(dn) == "" {
		dn = s.cfg.BaseDN
	}
	d, err := goldap.ParseDN(dn)
	base, berr := goldap.ParseDN(s.cfg.BaseDN)
	if err != nil || berr != nil || !(base.EqualFold(d) || base.AncestorOfFold(d)) {
		return nil, false, connector.Errorf(connector.KindInvalid, "ldap: %q is not a DN under the base DN %s", dn, s.cfg.BaseDN)
	}
	ss, err := s.connect(ctx)
	if err != nil {
		return nil, false, err
	}
	defer ss.close()
	var out []connector.Container
	more := false
	req := goldap.NewSearchRequest(dn, goldap.ScopeSingleLevel, goldap.NeverDerefAliases, 0, 0, false,
		containerFilter, []string{"ou", "cn", "dc", "o", "name", attrObjectClass}, nil)
	err = ss.pagedSearch(req, func(e *goldap.Entry) error {
		if len(out) == limit {
			more = true
			return errEnough
		}
		out = append(out, connector.Container{DN: e.DN, Name: containerName(e), Class: containerClass(e)})
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, false, ss.readErr("list the OUs under "+dn, dn, err)
	}
	slices.SortFunc(out, func(a, b connector.Container) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out, more, nil
}

func containerName(e *goldap.Entry) string {
	for _, a := range []string{"name", "ou", "cn", "dc", "o"} {
		if v := e.GetAttributeValue(a); v != "" {
			return v
		}
	}
	rdn, _, _ := strings.Cut(e.DN, ",")
	_, v, _ := strings.Cut(rdn, "=")
	return v
}

func containerClass(e *goldap.Entry) string {
	classes := e.GetAttributeValues(attrObjectClass)
	for _, c := range []string{"organizationalUnit", "container", "builtinDomain", "domain", "organization"} {
		if slices.ContainsFunc(classes, func(x string) bool { return strings.EqualFold(x, c) }) {
			return c
		}
	}
	return "container"
}

// SearchGroups finds the groups in the source's scope whose name starts
// with query, at most limit of them.
func (s *source) SearchGroups(ctx context.Context, query string, limit int) ([]directory.SourceGroup, bool, error) {
	var out []directory.SourceGroup
	more, err := s.search(ctx, query, limit, true, func(sc *schema, e *goldap.Entry, a anchor) {
		out = append(out, sc.group(e, a))
	})
	slices.SortFunc(out, func(a, b directory.SourceGroup) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out, more, err
}

// SearchUsers finds the users in the source's scope whose username,
// display name, email or account name starts with query.
func (s *source) SearchUsers(ctx context.Context, query string, limit int) ([]directory.SourceUser, bool, error) {
	var out []directory.SourceUser
	more, err := s.search(ctx, query, limit, false, func(sc *schema, e *goldap.Entry, a anchor) {
		out = append(out, sc.user(e, a))
	})
	slices.SortFunc(out, func(a, b directory.SourceUser) int {
		return strings.Compare(strings.ToLower(a.Username), strings.ToLower(b.Username))
	})
	return out, more, err
}

// search runs a picker's search: prefix matches on the naming attributes,
// within the source's scope, stopping after limit matches.
func (s *source) search(ctx context.Context, query string, limit int, groups bool, add func(*schema, *goldap.Entry, anchor)) (bool, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return false, connector.Errorf(connector.KindInvalid, "ldap: search: no text given")
	}
	ss, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	defer ss.close()
	sc, err := s.schema(ss)
	if err != nil {
		return false, err
	}
	keys := []string{AttrUsername, AttrDisplayName, AttrEmail, AttrAccountName}
	class, attrs := sc.userFilter, sc.userAttrs
	if groups {
		keys, class, attrs = []string{AttrGroupName, AttrGroupMail}, sc.groupFilter, sc.groupAttrs
	}
	var terms []string
	for _, k := range keys {
		if a := sc.attrs[k]; a != "" {
			// The query is data, never filter syntax.
			terms = append(terms, "("+a+"="+goldap.EscapeFilter(query)+"*)")
		}
	}
	if groups {
		terms = append(terms, "(cn="+goldap.EscapeFilter(query)+"*)")
	}
	filter := "(&" + class + "(|" + strings.Join(terms, "") + "))"
	n, more := 0, false
	for _, base := range sc.searchBases() {
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, sc.controls())
		err := ss.pagedSearch(req, func(e *goldap.Entry) error {
			_, dn := parseExtendedDN(e.DN)
			if !sc.inScope(dn) {
				return nil
			}
			a, ok := sc.anchorOf(e)
			if !ok {
				return nil
			}
			if n == limit {
				more = true
				return errEnough
			}
			n++
			add(sc, e, a)
			return nil
		})
		if errors.Is(err, errEnough) {
			break
		}
		if err != nil {
			return false, ss.readErr(fmt.Sprintf("search for %q", query), base, err)
		}
	}
	return more, nil
}
