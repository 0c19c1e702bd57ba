package ldap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
)

// rangeStep is how many member values one ranged read asks for: AD's
// MaxValRange, so AD answers each request whole.
const rangeStep = 1500

// Snapshot reads every user and group in scope and their direct
// memberships. It reads users first, then groups, then each group's
// members, mapping member DNs (or, on AD, their GUIDs) to the anchors seen
// earlier: that index (about 60 bytes an object) is all it holds; entries
// themselves stream a page at a time.
//
// A user's primary group (Domain Users, by primaryGroupID) is not in that
// group's member attribute and is not reported, as Azure AD Connect does not.
func (s *source) Snapshot(ctx context.Context, sink connector.Sink) error {
	ss, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer ss.close()
	sc, err := s.schema(ss)
	if err != nil {
		return err
	}
	if err := ss.checkScope(sc); err != nil {
		return err
	}
	r := &reader{ss: ss, sc: sc, sink: sink, known: map[string]known{}, skipped: map[string]connector.Skipped{}}
	if err := r.users(); err != nil {
		return err
	}
	if err := r.groups(); err != nil {
		return err
	}
	if err := r.memberships(); err != nil {
		return err
	}
	return ctx.Err()
}

// checkScope verifies that the base DN and every included OU exist. An OU
// that was renamed or deleted must stop the sync with its name, never read
// as an empty subtree (which the engine would take for everyone leaving).
func (ss *session) checkScope(sc *schema) error {
	if err := ss.exists(sc.baseDN); err != nil {
		return ss.scopeErr(err, "the base DN %q does not exist (or the bind account cannot see it)", sc.baseDN)
	}
	for _, ou := range sc.includeRaw {
		if err := ss.exists(ou); err != nil {
			return ss.scopeErr(err, "the included OU %q does not exist: it may have been renamed, moved or deleted; "+
				"the sync stops rather than remove its users (fix the OU filter)", ou)
		}
	}
	return nil
}

func (ss *session) scopeErr(err error, format string, args ...any) error {
	if connector.KindOf(err) == connector.KindNotFound {
		return &connector.Error{Kind: connector.KindNotFound, Code: "LDAP 32", Message: "ldap: " + fmt.Sprintf(format, args...)}
	}
	return err
}

// exists reads an entry by DN.
func (ss *session) exists(dn string) error {
	res, err := ss.search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		return classifySearch("read "+dn, dn, err)
	}
	if len(res.Entries) == 0 {
		return &connector.Error{Kind: connector.KindNotFound, Code: "LDAP 32", Message: fmt.Sprintf("ldap: %q does not exist", dn)}
	}
	return nil
}

// known is an object the snapshot has read, by its member key.
type known struct {
	kind directory.MemberKind
	id   string
}

// reader is one snapshot in progress.
type reader struct {
	ss      *session
	sc      *schema
	sink    connector.Sink
	known   map[string]known
	skipped map[string]connector.Skipped // member classification cache
	groups_ []groupRef
}

type groupRef struct {
	key, id string
	base    string // where to read its members: <GUID=...> or the DN
}

// memberKey is how member values find an entry: its GUID on AD (immune to
// the DN's spelling and to renames), its folded DN elsewhere.
func (sc *schema) memberKey(e *goldap.Entry, a anchor) string {
	if len(a.guid) == 16 {
		return string(a.guid)
	}
	_, dn := parseExtendedDN(e.DN)
	return foldDN(dn)
}

func (sc *schema) controls() []goldap.Control {
	if sc.flavor == FlavorAD {
		// Member values as <GUID=...>;<SID=...>;DN, so members are matched
		// by GUID.
		return []goldap.Control{&goldap.ControlString{ControlType: goldap.ControlTypeMicrosoftExtendedDN}}
	}
	return nil
}

func (r *reader) users() error {
	return r.each("user", r.sc.userFilter, r.sc.userAttrs, func(e *goldap.Entry, a anchor, _, key string) error {
		u := r.sc.user(e, a)
		if u.Username == "" {
			return r.sink.Skip(connector.Skipped{Kind: "user", ExternalID: a.id, Code: directory.SkipNoUsername, Reason: "no username (" + r.sc.attrs[AttrUsername] + ")"})
		}
		r.known[key] = known{kind: directory.MemberUser, id: a.id}
		return r.sink.User(u)
	})
}

// each searches every base for the objects of a kind ("user", "group")
// and calls fn with each one in scope, with its anchor, DN and member key,
// once: objects without an anchor are reported skipped, objects met
// before (under two bases) passed over.
func (r *reader) each(kind, filter string, attrs []string, fn func(e *goldap.Entry, a anchor, dn, key string) error) error {
	for _, base := range r.sc.searchBases() {
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			filter, attrs, r.sc.controls())
		err := r.ss.pagedSearch(req, func(e *goldap.Entry) error {
			_, dn := parseExtendedDN(e.DN)
			if !r.sc.inScope(dn) {
				return nil
			}
			a, ok := r.sc.anchorOf(e)
			if !ok {
				return r.sink.Skip(connector.Skipped{Kind: kind, ExternalID: dn, Code: directory.SkipNoAnchor, Reason: "no anchor (" + r.sc.attrs[AttrAnchor] + ")"})
			}
			key := r.sc.memberKey(e, a)
			if _, dup := r.known[key]; dup {
				return nil
			}
			return fn(e, a, dn, key)
		})
		if err != nil {
			return r.ss.readErr("read "+kind+"s under "+base, base, err)
		}
	}
	return nil
}

// readErr classifies a search failure unless it already is classified.
func (ss *session) readErr(what, base string, err error) error {
	if asConnectorError(err) != nil || ss.ctx.Err() != nil {
		return ss.wrap(err)
	}
	var le *goldap.Error
	if errors.As(err, &le) {
		return classifySearch(what, base, err)
	}
	return err // the sink's own error
}

func (r *reader) groups() error {
	return r.each("group", r.sc.groupFilter, r.sc.groupAttrs, func(e *goldap.Entry, a anchor, dn, key string) error {
		r.known[key] = known{kind: directory.MemberGroup, id: a.id}
		ref := groupRef{key: key, id: a.id, base: dn}
		if len(a.guid) == 16 {
			ref.base = guidBase(a.guid)
		}
		r.groups_ = append(r.groups_, ref)
		return r.sink.Group(r.sc.group(e, a))
	})
}

// memberships reads each group's member attribute, a range at a time on AD,
// now that every user and group in scope is known.
func (r *reader) memberships() error {
	for _, g := range r.groups_ {
		err := r.ss.readMembers(r.sc, g.base, func(value string) error {
			return r.member(g, value)
		})
		if err != nil {
			return r.ss.readErr("read the members of "+g.base, g.base, err)
		}
	}
	return nil
}

func (r *reader) member(g groupRef, value string) error {
	guid, dn := parseExtendedDN(value)
	key := foldDN(dn)
	if len(guid) == 16 {
		key = string(guid)
	}
	if k, ok := r.known[key]; ok {
		return r.sink.Membership(directory.SourceMembership{GroupExternalID: g.id, MemberExternalID: k.id, MemberKind: k.kind})
	}
	sk, ok := r.skipped[key]
	if !ok {
		var err error
		if sk, err = r.ss.classify(r.sc, guid, dn); err != nil {
			return err
		}
		r.skipped[key] = sk
	}
	return r.sink.Skip(sk)
}

// classify explains why a member is not imported: what it is, and that it
// is not a user or group, or lies outside the scope.
func (ss *session) classify(sc *schema, guid []byte, dn string) (connector.Skipped, error) {
	id := dn
	if len(guid) == 16 {
		id = FormatGUID(guid)
	}
	if d, err := goldap.ParseDN(dn); err == nil && len(d.RDNs) > 1 {
		for _, rdn := range d.RDNs[1:] {
			for _, a := range rdn.Attributes {
				if strings.EqualFold(a.Value, "ForeignSecurityPrincipals") {
					return connector.Skipped{Kind: "foreignSecurityPrincipal", ExternalID: id, Code: directory.SkipNonDirectoryMember, Reason: "foreign security principal"}, nil
				}
			}
		}
	}
	base := dn
	if len(guid) == 16 {
		base = guidBase(guid)
	}
	res, err := ss.search(goldap.NewSearchRequest(base, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{attrObjectClass}, nil))
	if err != nil {
		if connector.KindOf(classifySearch("", base, err)) == connector.KindNotFound {
			return connector.Skipped{Kind: "unknown", ExternalID: id, Code: directory.SkipMemberNotFound, Reason: "member not found"}, nil
		}
		return connector.Skipped{}, err
	}
	if len(res.Entries) == 0 {
		return connector.Skipped{Kind: "unknown", ExternalID: id, Code: directory.SkipMemberNotFound, Reason: "member not found"}, nil
	}
	e := res.Entries[0]
	switch {
	case isA(e, "computer"):
		return connector.Skipped{Kind: "device", ExternalID: id, Code: directory.SkipNonDirectoryMember, Reason: "device"}, nil
	case isA(e, "contact"):
		return connector.Skipped{Kind: "contact", ExternalID: id, Code: directory.SkipNonDirectoryMember, Reason: "contact"}, nil
	case isA(e, "foreignSecurityPrincipal"):
		return connector.Skipped{Kind: "foreignSecurityPrincipal", ExternalID: id, Code: directory.SkipNonDirectoryMember, Reason: "foreign security principal"}, nil
	case isA(e, "group") || isA(e, "groupOfNames") || isA(e, "groupOfUniqueNames"):
		return connector.Skipped{Kind: "group", ExternalID: id, Code: directory.SkipMemberOutsideBase, Reason: "member outside the source's scope"}, nil
	case isA(e, "user") || isA(e, "person") || isA(e, "inetOrgPerson"):
		return connector.Skipped{Kind: "user", ExternalID: id, Code: directory.SkipMemberOutsideBase, Reason: "member outside the source's scope"}, nil
	}
	classes := e.GetEqualFoldAttributeValues(attrObjectClass)
	kind := "unknown"
	if len(classes) > 0 {
		kind = classes[len(classes)-1]
	}
	return connector.Skipped{Kind: kind, ExternalID: id, Code: directory.SkipNonDirectoryMember, Reason: "not a user or group"}, nil
}

// readMembers hands each value of a group's member attribute to fn. On AD
// it reads them by range retrieval (member;range=0-1499, then 1500-*, ...)
// so that groups beyond AD's MaxValRange (1,500 values) come whole; a
// server that answers the plain attribute is read in one go.
func (ss *session) readMembers(sc *schema, base string, fn func(string) error) error {
	memberAttr := sc.attrs[AttrMember]
	if memberAttr == "" {
		return nil
	}
	low := 0
	for {
		attr := memberAttr
		if sc.ranged {
			// An explicit window, not low-*: AD caps either at MaxValRange,
			// but Samba answers low-* whole, and the window keeps both alike.
			attr = fmt.Sprintf("%s;range=%d-%d", memberAttr, low, low+rangeStep-1)
		}
		res, err := ss.search(goldap.NewSearchRequest(base, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{attr}, sc.controls()))
		if err != nil {
			return err
		}
		if len(res.Entries) == 0 {
			return nil
		}
		next, more := -1, false
		for _, a := range res.Entries[0].Attributes {
			name, opts, _ := strings.Cut(a.Name, ";")
			if !strings.EqualFold(name, memberAttr) {
				continue
			}
			for _, v := range a.Values {
				if err := fn(v); err != nil {
					return err
				}
			}
			if r, ok := strings.CutPrefix(strings.ToLower(opts), "range="); ok {
				_, hi, _ := strings.Cut(r, "-")
				if hi != "*" {
					n, err := strconv.Atoi(hi)
					if err != nil {
						return connector.Errorf(connector.KindProtocol, "ldap: %s: unreadable range %q", base, a.Name)
					}
					next, more = n+1, true
				}
			}
		}
		if !more {
			return nil
		}
		low = next
	}
}
