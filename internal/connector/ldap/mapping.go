package ldap

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
)

// AD attributes the connector reads whatever the mapping says.
const (
	attrObjectGUID      = "objectGUID"
	attrConsistencyGUID = "mS-DS-ConsistencyGuid"
	attrUAC             = "userAccountControl"
	attrAccountExpires  = "accountExpires"
	attrGroupType       = "groupType"
	attrObjectClass     = "objectClass"
	attrIsDeleted       = "isDeleted"
	attrLastKnownParent = "lastKnownParent"
	attrRDNName         = "name"
	attrParentGUID      = "parentGUID"
	attrSAMAccountName  = "sAMAccountName"
)

const (
	uacAccountDisable = 0x2
	// groupType's top bit marks a security group; the low bits its scope.
	groupTypeSecurity    = 0x80000000
	groupTypeGlobal      = 0x2
	groupTypeDomainLocal = 0x4
	groupTypeUniversal   = 0x8
	// accountExpires values that mean "never".
	filetimeNever = 0x7FFFFFFFFFFFFFFF
)

// schema is a source's settings resolved against one server: which
// attributes to read, which filters to use, which subtrees are in scope.
type schema struct {
	flavor      string
	attrs       map[string]string
	userClass   string // the object class filter alone
	groupClass  string
	userFilter  string // the class filter ANDed with the configured one
	groupFilter string
	customUser  bool // a configured filter narrows users beyond their class
	customGroup bool
	userAttrs   []string
	groupAttrs  []string
	domain      string // DNS name of the domain, for sAMAccountName@domain
	suffixMap   map[string]string
	clk         clock.Clock
	baseDN      string
	base        *goldap.DN
	include     []*goldap.DN
	includeRaw  []string
	exclude     []*goldap.DN
	ranged      bool // read member with range retrieval (AD)
}

func (s *source) schema(ss *session) (*schema, error) {
	sc := &schema{flavor: ss.flavor, attrs: DefaultAttributes(ss.flavor), clk: s.clk, baseDN: s.cfg.BaseDN}
	for k, v := range s.cfg.Attributes {
		sc.attrs[k] = v
	}
	ad := ss.flavor == FlavorAD
	sc.ranged = ad
	switch {
	case s.cfg.UserClass != "":
		sc.userClass = "(objectClass=" + s.cfg.UserClass + ")"
	case ad:
		// Computers are users too in AD's schema; contacts are persons but
		// not users. This leaves people (and inetOrgPerson, a user subclass).
		sc.userClass = "(&(objectClass=user)(!(objectClass=computer)))"
	default:
		sc.userClass = "(objectClass=inetOrgPerson)"
	}
	switch {
	case s.cfg.GroupClass != "":
		sc.groupClass = "(objectClass=" + s.cfg.GroupClass + ")"
	case ad:
		sc.groupClass = "(objectClass=group)"
	default:
		sc.groupClass = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
	}
	sc.userFilter, sc.customUser = andFilter(sc.userClass, s.cfg.UserFilter)
	sc.groupFilter, sc.customGroup = andFilter(sc.groupClass, s.cfg.GroupFilter)

	var err error
	if sc.base, err = goldap.ParseDN(s.cfg.BaseDN); err != nil {
		return nil, fmt.Errorf("ldap: base DN: %w", err)
	}
	for _, ou := range s.cfg.IncludeOUs {
		d, _ := goldap.ParseDN(ou)
		sc.include = append(sc.include, d)
		sc.includeRaw = append(sc.includeRaw, ou)
	}
	for _, ou := range s.cfg.ExcludeOUs {
		d, _ := goldap.ParseDN(ou)
		sc.exclude = append(sc.exclude, d)
	}
	nc := ss.root.defaultNC
	if nc == "" {
		nc = s.cfg.BaseDN
	}
	sc.domain = dnsDomainOf(nc)
	sc.suffixMap = map[string]string{}
	for from, to := range s.cfg.UPNSuffixMap {
		sc.suffixMap[strings.ToLower(strings.TrimPrefix(from, "@"))] = strings.TrimPrefix(to, "@")
	}

	user := []string{attrObjectClass}
	for _, k := range []string{AttrAnchor, AttrUsername, AttrAccountName, AttrEmail, AttrProxyAddresses, AttrDisplayName,
		AttrGivenName, AttrSurname, AttrJobTitle, AttrDepartment, AttrMobilePhone, AttrBusinessPhones} {
		if a := sc.attrs[k]; a != "" {
			user = append(user, a)
		}
	}
	group := []string{attrObjectClass}
	for _, k := range []string{AttrAnchor, AttrGroupName, AttrGroupDesc, AttrGroupMail} {
		if a := sc.attrs[k]; a != "" {
			group = append(group, a)
		}
	}
	if ad {
		user = append(user, attrUAC, attrAccountExpires, attrSAMAccountName)
		group = append(group, attrGroupType, attrSAMAccountName, attrRDNName)
		if sc.attrs[AttrAnchor] == attrObjectGUID {
			user = append(user, attrConsistencyGUID)
			group = append(group, attrConsistencyGUID)
		}
	}
	sc.userAttrs, sc.groupAttrs = dedupFold(user), dedupFold(group)
	return sc, nil
}

// andFilter ANDs a class filter with a configured filter.
func andFilter(class, custom string) (string, bool) {
	if strings.TrimSpace(custom) == "" {
		return class, false
	}
	return "(&" + class + wrapFilter(custom) + ")", true
}

func dedupFold(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range in {
		if k := strings.ToLower(a); !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	return out
}

// dnsDomainOf turns DC=corp,DC=example,DC=com into corp.example.com.
func dnsDomainOf(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return ""
	}
	var parts []string
	for _, rdn := range d.RDNs {
		for _, a := range rdn.Attributes {
			if strings.EqualFold(a.Type, "DC") {
				parts = append(parts, a.Value)
			}
		}
	}
	return strings.ToLower(strings.Join(parts, "."))
}

// searchBases are the subtrees to search: the included OUs, less those
// inside another included OU (which would read entries twice), or the base.
func (sc *schema) searchBases() []string {
	if len(sc.include) == 0 {
		return []string{sc.baseDN}
	}
	var bases []string
	for i, d := range sc.include {
		nested := false
		for j, o := range sc.include {
			if i != j && (o.AncestorOfFold(d) || (o.EqualFold(d) && j < i)) {
				nested = true
			}
		}
		if !nested {
			bases = append(bases, sc.includeRaw[i])
		}
	}
	return bases
}

// inScope reports whether an entry's DN lies in the source's scope.
func (sc *schema) inScope(dn string) bool {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return false
	}
	within := func(root *goldap.DN) bool { return root.EqualFold(d) || root.AncestorOfFold(d) }
	if !within(sc.base) {
		return false
	}
	if len(sc.include) > 0 {
		in := false
		for _, root := range sc.include {
			if within(root) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	for _, root := range sc.exclude {
		if within(root) {
			return false
		}
	}
	return true
}

// anchor is an object's identity at the source.
type anchor struct {
	// guid is the objectGUID (AD) or nil; key identifies the object in
	// member values: the raw GUID on AD, the folded DN elsewhere.
	guid []byte
	// id is the external ID: the standard GUID string of ms-DS-ConsistencyGuid
	// or objectGUID, or the anchor attribute's value.
	id string
	// raw is the anchor's bytes, for onPremisesImmutableId.
	raw []byte
}

// anchorOf reads an entry's anchor, or reports why it has none.
func (sc *schema) anchorOf(e *goldap.Entry) (anchor, bool) {
	attr := sc.attrs[AttrAnchor]
	var a anchor
	if sc.flavor == FlavorAD {
		a.guid = e.GetEqualFoldRawAttributeValue(attrObjectGUID)
	}
	if strings.EqualFold(attr, attrObjectGUID) {
		if sc.flavor != FlavorAD {
			// objectGUID as the anchor of a generic read: the GUID alone,
			// with no AD consistency rules and members still keyed by DN.
			raw := e.GetEqualFoldRawAttributeValue(attrObjectGUID)
			if len(raw) != 16 {
				return a, false
			}
			a.raw, a.id = raw, FormatGUID(raw)
			return a, true
		}
		raw := a.guid
		if cg := e.GetEqualFoldRawAttributeValue(attrConsistencyGUID); len(cg) == 16 {
			raw = cg
		}
		if len(raw) != 16 {
			return a, false
		}
		a.raw, a.id = raw, FormatGUID(raw)
		return a, true
	}
	raw := e.GetEqualFoldRawAttributeValue(attr)
	if len(raw) == 0 {
		return a, false
	}
	if len(raw) == 16 && strings.Contains(strings.ToLower(attr), "guid") {
		a.raw, a.id = raw, FormatGUID(raw)
	} else {
		a.raw, a.id = raw, string(raw)
	}
	return a, true
}

// FormatGUID writes a 16-byte objectGUID in its standard string form. AD
// stores the first three fields little-endian, so the bytes
// e0 04 25 3f 89 4f d3 11 9a 0c 03 05 e8 2c 33 01 read
// 3f2504e0-4f89-11d3-9a0c-0305e82c3301, as Windows shows them.
func FormatGUID(b []byte) string {
	if len(b) != 16 {
		return hex.EncodeToString(b)
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]),
		b[8:10], b[10:16])
}

// ParseGUID reads a GUID in its standard string form (braces optional)
// back into AD's byte order.
func ParseGUID(s string) ([]byte, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, false
	}
	h, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(h) != 16 { // a dash in place of a digit leaves fewer
		return nil, false
	}
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:4], binary.BigEndian.Uint32(h[0:4]))
	binary.LittleEndian.PutUint16(b[4:6], binary.BigEndian.Uint16(h[4:6]))
	binary.LittleEndian.PutUint16(b[6:8], binary.BigEndian.Uint16(h[6:8]))
	copy(b[8:], h[8:])
	return b, true
}

// guidBase is the DN form AD accepts for an object by its GUID.
func guidBase(guid []byte) string { return "<GUID=" + hex.EncodeToString(guid) + ">" }

// guidFilter matches an attribute against raw GUID bytes.
func guidFilter(attr string, guid []byte) string {
	var b strings.Builder
	b.WriteString("(" + attr + "=")
	for _, c := range guid {
		fmt.Fprintf(&b, "\\%02x", c)
	}
	b.WriteString(")")
	return b.String()
}

// parseExtendedDN splits an extended DN, <GUID=...>;<SID=...>;CN=..., as
// AD writes it under the extended DN control, into the GUID and the DN.
func parseExtendedDN(v string) (guid []byte, dn string) {
	for strings.HasPrefix(v, "<") {
		end := strings.Index(v, ">")
		if end < 0 {
			break
		}
		part := v[1:end]
		if h, ok := strings.CutPrefix(part, "GUID="); ok {
			if g, err := hex.DecodeString(h); err == nil && len(g) == 16 {
				guid = g
			} else if g, ok := ParseGUID(h); ok {
				guid = g
			}
		}
		v = strings.TrimPrefix(v[end+1:], ";")
	}
	return guid, v
}

// foldDN is the key of a DN in maps: parsed and case-folded, so that two
// spellings of one DN meet.
func foldDN(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return strings.ToLower(d.String())
}

// user maps an entry to a source user.
func (sc *schema) user(e *goldap.Entry, a anchor) directory.SourceUser {
	_, dn := parseExtendedDN(e.DN)
	get := func(key string) string {
		if attr := sc.attrs[key]; attr != "" {
			return e.GetEqualFoldAttributeValue(attr)
		}
		return ""
	}
	u := directory.SourceUser{ExternalID: a.id, Enabled: true}
	u.AccountName = get(AttrAccountName)
	u.Username = sc.username(get(AttrUsername), u.AccountName)
	if pa := sc.attrs[AttrProxyAddresses]; pa != "" {
		u.ProxyAddresses = e.GetEqualFoldAttributeValues(pa)
	}
	u.Email = get(AttrEmail)
	if u.Email == "" {
		u.Email = primarySMTP(u.ProxyAddresses)
	}
	u.DisplayName = get(AttrDisplayName)
	u.GivenName = get(AttrGivenName)
	u.Surname = get(AttrSurname)
	u.JobTitle = get(AttrJobTitle)
	u.Department = get(AttrDepartment)
	u.MobilePhone = get(AttrMobilePhone)
	if bp := sc.attrs[AttrBusinessPhones]; bp != "" {
		u.BusinessPhones = e.GetEqualFoldAttributeValues(bp)
	}
	u.DN = dn
	if sc.flavor == FlavorAD {
		u.Enabled = sc.enabled(e.GetEqualFoldAttributeValue(attrUAC), e.GetEqualFoldAttributeValue(attrAccountExpires))
		if len(a.raw) == 16 {
			// Entra's onPremisesImmutableId for a synced user is the base64
			// of the same anchor, which lets the engine match the two.
			u.ImmutableID = base64.StdEncoding.EncodeToString(a.raw)
		}
	}
	return u
}

// username is the UPN with its suffix mapped; an account without a UPN
// (possible in AD, where the UPN is optional) is known as
// sAMAccountName@domain, which is also what AD accepts at logon.
func (sc *schema) username(upn, sam string) string {
	if upn == "" {
		if sam == "" || sc.flavor != FlavorAD || sc.domain == "" {
			return upn
		}
		upn = sam + "@" + sc.domain
	}
	if at := strings.LastIndexByte(upn, '@'); at >= 0 {
		if to, ok := sc.suffixMap[strings.ToLower(upn[at+1:])]; ok {
			upn = upn[:at+1] + to
		}
	}
	return upn
}

// enabled applies userAccountControl's ACCOUNTDISABLE bit and accountExpires.
func (sc *schema) enabled(uac, expires string) bool {
	if n, err := strconv.ParseInt(uac, 10, 64); err == nil && n&uacAccountDisable != 0 {
		return false
	}
	return !expired(expires, sc.clk.Now())
}

// expired reads accountExpires, a FILETIME (100 ns intervals since
// 1601-01-01 UTC) where 0 and 0x7FFFFFFFFFFFFFFF mean never.
func expired(v string, now time.Time) bool {
	ft, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ft == 0 || ft == filetimeNever {
		return false
	}
	return !now.Before(FiletimeToTime(ft))
}

// FiletimeToTime converts a Windows FILETIME.
func FiletimeToTime(ft int64) time.Time {
	const epochDiff = 116444736000000000 // 1601 to 1970 in 100 ns
	return time.Unix(0, 0).Add(time.Duration(ft-epochDiff) * 100).UTC()
}

// TimeToFiletime converts a time to a Windows FILETIME.
func TimeToFiletime(t time.Time) int64 {
	const epochDiff = 116444736000000000
	return t.UnixNano()/100 + epochDiff
}

// primarySMTP returns the primary address in proxyAddresses: the one whose
// prefix is SMTP in capitals (smtp: in lower case marks the others).
func primarySMTP(proxies []string) string {
	for _, p := range proxies {
		if addr, ok := strings.CutPrefix(p, "SMTP:"); ok {
			return addr
		}
	}
	return ""
}

// group maps an entry to a source group.
func (sc *schema) group(e *goldap.Entry, a anchor) directory.SourceGroup {
	_, dn := parseExtendedDN(e.DN)
	g := directory.SourceGroup{ExternalID: a.id}
	get := func(key string) string {
		if attr := sc.attrs[key]; attr != "" {
			return e.GetEqualFoldAttributeValue(attr)
		}
		return ""
	}
	g.Name = get(AttrGroupName)
	if g.Name == "" {
		g.Name = e.GetEqualFoldAttributeValue(attrRDNName)
	}
	g.Description = get(AttrGroupDesc)
	g.Mail = get(AttrGroupMail)
	g.MailEnabled = g.Mail != ""
	g.DN = dn
	if sc.flavor == FlavorAD {
		g.SecurityEnabled, g.GroupTypes = groupTypeOf(e.GetEqualFoldAttributeValue(attrGroupType))
	} else {
		// Groups in a generic directory exist to grant access.
		g.SecurityEnabled = true
	}
	return g
}

// groupTypeOf decodes groupType: the security bit and the scope.
func groupTypeOf(v string) (security bool, types []string) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false, nil
	}
	t := uint32(n)
	security = t&groupTypeSecurity != 0
	switch {
	case t&groupTypeGlobal != 0:
		types = []string{"global"}
	case t&groupTypeDomainLocal != 0:
		types = []string{"domain_local"}
	case t&groupTypeUniversal != 0:
		types = []string{"universal"}
	}
	return security, types
}

// isA reports whether an entry's objectClass values include class.
func isA(e *goldap.Entry, class string) bool {
	for _, c := range e.GetEqualFoldAttributeValues(attrObjectClass) {
		if strings.EqualFold(c, class) {
			return true
		}
	}
	return false
}
