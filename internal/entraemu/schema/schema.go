// Package schema describes each Graph entity type the emulator serves as a
// table of properties: how each is written to JSON, parsed from a POST or
// PATCH body, read by $filter and $search, selected by $select, and which
// belong to the default set. One table per type keeps $select, $filter,
// writes, the delta change masks and the JSON output in agreement.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/odata"
)

type propKind uint8

const (
	pStr       propKind = iota
	pBool               // always written as true/false
	pBoolNull           // false is written as null (Graph's nullable booleans)
	pStrs               // collection of strings
	pTime               // DateTimeOffset, zero is null
	pLicenses           // assignedLicenses
	pConstNull          // a property the emulator never sets: always null
	pConstList          // a collection the emulator never fills: always []
	pConstRaw           // a value the emulator writes the same for every object
)

type prop[T any] struct {
	name  string
	lname string
	bit   uint64
	def   bool // in the default property set
	write bool // may be set through POST and PATCH
	kind  propKind
	str   func(*T) *string
	bl    func(*T) *bool
	strs  func(*T) *[]string
	tm    func(*T) *time.Time
	lic   func(*T) *[]model.AssignedLicense
	raw   []byte
}

func (p *prop[T]) appendValue(b []byte, x *T) []byte {
	switch p.kind {
	case pStr:
		return jsonw.AppendStringOrNull(b, *p.str(x))
	case pBool:
		return jsonw.AppendBool(b, *p.bl(x))
	case pBoolNull:
		if !*p.bl(x) {
			return append(b, "null"...)
		}
		return append(b, "true"...)
	case pStrs:
		return jsonw.AppendStrings(b, *p.strs(x))
	case pTime:
		return jsonw.AppendTimeOrNull(b, *p.tm(x))
	case pLicenses:
		ls := *p.lic(x)
		b = append(b, '[')
		for i, l := range ls {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"disabledPlans":`...)
			b = jsonw.AppendStrings(b, l.DisabledPlans)
			b = append(b, `,"skuId":`...)
			b = jsonw.AppendString(b, l.SkuID)
			b = append(b, '}')
		}
		return append(b, ']')
	case pConstList:
		return append(b, "[]"...)
	case pConstRaw:
		return append(b, p.raw...)
	}
	return append(b, "null"...)
}

// isNull reports whether the property holds no value, in the sense of the
// delta rule "a property that has never been set is not included".
func (p *prop[T]) isNull(x *T) bool {
	switch p.kind {
	case pStr:
		return *p.str(x) == ""
	case pBool:
		return false
	case pBoolNull:
		return !*p.bl(x)
	case pStrs:
		return len(*p.strs(x)) == 0
	case pTime:
		return p.tm(x).IsZero()
	case pLicenses:
		return len(*p.lic(x)) == 0
	case pConstRaw:
		return false
	}
	return true
}

// set parses a JSON value from a POST or PATCH body into the property.
func (p *prop[T]) set(x *T, raw json.RawMessage) error {
	null := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	switch p.kind {
	case pStr:
		if null {
			*p.str(x) = ""
			return nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		*p.str(x) = s
		return nil
	case pBool, pBoolNull:
		if null && p.kind == pBoolNull {
			*p.bl(x) = false
			return nil
		}
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		*p.bl(x) = v
		return nil
	case pStrs:
		var ss []string
		if !null {
			if err := json.Unmarshal(raw, &ss); err != nil {
				return err
			}
		}
		*p.strs(x) = ss
		return nil
	}
	return fmt.Errorf("property %s cannot be set", p.name)
}

type Table[T any] struct {
	ODataType string // microsoft.graph.user
	Resource  string // User, as $filter errors name it
	props     []*prop[T]
	byName    map[string]*prop[T]
	DefMask   uint64
	AllMask   uint64
}

func newTable[T any](odataType, resource string, props ...*prop[T]) *Table[T] {
	t := &Table[T]{ODataType: odataType, Resource: resource, props: props, byName: map[string]*prop[T]{}}
	if len(props) > 64 {
		panic("entraemu: more than 64 properties in " + odataType)
	}
	for i, p := range props {
		p.bit = 1 << uint(i)
		p.lname = strings.ToLower(p.name)
		t.byName[p.lname] = p
		t.AllMask |= p.bit
		if p.def {
			t.DefMask |= p.bit
		}
	}
	return t
}

func (t *Table[T]) lookup(name string) *prop[T] {
	return t.byName[strings.ToLower(strings.TrimSpace(name))]
}

// EverSet is the mask of properties that hold a value now.
func (t *Table[T]) EverSet(x *T) uint64 {
	var m uint64
	for _, p := range t.props {
		if !p.isNull(x) {
			m |= p.bit
		}
	}
	return m
}

// Diff returns the mask of properties whose values differ between a and b.
func (t *Table[T]) Diff(a, b *T) uint64 {
	var m uint64
	var ba, bb []byte
	for _, p := range t.props {
		ba = p.appendValue(ba[:0], a)
		bb = p.appendValue(bb[:0], b)
		if !bytes.Equal(ba, bb) {
			m |= p.bit
		}
	}
	return m
}

// Append writes the properties in mask, in table order. With
// omitUnset, a property that is null now and has never held a value (per
// everSet) is left out, as delta responses do.
func (t *Table[T]) Append(o *jsonw.Object, x *T, mask uint64, omitUnset bool, everSet uint64) {
	for _, p := range t.props {
		if mask&p.bit == 0 {
			continue
		}
		if omitUnset && everSet&p.bit == 0 && p.isNull(x) {
			continue
		}
		o.Key(p.name)
		o.B = p.appendValue(o.B, x)
	}
}

// SelectMask parses $select. Unknown names are an error naming the first;
// names in extra (such as "members") are returned separately.
func (t *Table[T]) SelectMask(sel string, extra ...string) (mask uint64, extras []string, err error) {
	if strings.TrimSpace(sel) == "" {
		return t.DefMask, nil, nil
	}
	for _, name := range strings.Split(sel, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == "*" {
			mask |= t.AllMask
			continue
		}
		if p := t.lookup(name); p != nil {
			mask |= p.bit
			continue
		}
		matched := false
		for _, e := range extra {
			if strings.EqualFold(e, name) {
				extras = append(extras, e)
				matched = true
			}
		}
		if !matched {
			return 0, nil, fmt.Errorf("Could not find a property named '%s' on type '%s'.", name, t.ODataType)
		}
	}
	mask |= t.byName["id"].bit
	return mask, extras, nil
}

// ContextNames are the $select names as @odata.context lists them: in
// the order requested, with Graph's spelling. extra names (such as
// "members") are kept as given.
func (t *Table[T]) ContextNames(sel string, extra ...string) []string {
	var names []string
	for _, name := range strings.Split(sel, ",") {
		name = strings.TrimSpace(name)
		if p := t.lookup(name); p != nil {
			name = p.name
		} else {
			for _, e := range extra {
				if strings.EqualFold(e, name) {
					name = e
				}
			}
		}
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// ---- constructors ----

func sp[T any](name string, def, write bool, f func(*T) *string) *prop[T] {
	return &prop[T]{name: name, def: def, write: write, kind: pStr, str: f}
}

func bp[T any](name string, def, write bool, f func(*T) *bool) *prop[T] {
	return &prop[T]{name: name, def: def, write: write, kind: pBool, bl: f}
}

func bnp[T any](name string, def, write bool, f func(*T) *bool) *prop[T] {
	return &prop[T]{name: name, def: def, write: write, kind: pBoolNull, bl: f}
}

func lp[T any](name string, def, write bool, f func(*T) *[]string) *prop[T] {
	return &prop[T]{name: name, def: def, write: write, kind: pStrs, strs: f}
}

func tp[T any](name string, def bool, f func(*T) *time.Time) *prop[T] {
	return &prop[T]{name: name, def: def, kind: pTime, tm: f}
}

func nullp[T any](name string, def bool) *prop[T] {
	return &prop[T]{name: name, def: def, kind: pConstNull}
}

func emptyp[T any](name string, def bool) *prop[T] {
	return &prop[T]{name: name, def: def, kind: pConstList}
}

// rawp is a property the emulator writes as the same JSON for every object.
func rawp[T any](name string, def bool, raw string) *prop[T] {
	return &prop[T]{name: name, def: def, kind: pConstRaw, raw: []byte(raw)}
}

// Users follows Graph's order for the default set (the order the "List
// users" example shows), then the rest.
var Users = newTable("microsoft.graph.user", "User",
	lp("businessPhones", true, true, func(u *model.User) *[]string { return &u.BusinessPhones }),
	sp("displayName", true, true, func(u *model.User) *string { return &u.DisplayName }),
	sp("givenName", true, true, func(u *model.User) *string { return &u.GivenName }),
	sp("jobTitle", true, true, func(u *model.User) *string { return &u.JobTitle }),
	sp("mail", true, true, func(u *model.User) *string { return &u.Mail }),
	sp("mobilePhone", true, true, func(u *model.User) *string { return &u.MobilePhone }),
	sp("officeLocation", true, true, func(u *model.User) *string { return &u.OfficeLocation }),
	sp("preferredLanguage", true, true, func(u *model.User) *string { return &u.PreferredLanguage }),
	sp("surname", true, true, func(u *model.User) *string { return &u.Surname }),
	sp("userPrincipalName", true, true, func(u *model.User) *string { return &u.UserPrincipalName }),
	sp("id", true, false, func(u *model.User) *string { return &u.ID }),
	bp("accountEnabled", false, true, func(u *model.User) *bool { return &u.AccountEnabled }),
	sp("userType", false, true, func(u *model.User) *string { return &u.UserType }),
	sp("department", false, true, func(u *model.User) *string { return &u.Department }),
	sp("companyName", false, true, func(u *model.User) *string { return &u.CompanyName }),
	sp("city", false, true, func(u *model.User) *string { return &u.City }),
	sp("country", false, true, func(u *model.User) *string { return &u.Country }),
	sp("usageLocation", false, true, func(u *model.User) *string { return &u.UsageLocation }),
	sp("employeeId", false, true, func(u *model.User) *string { return &u.EmployeeID }),
	sp("mailNickname", false, true, func(u *model.User) *string { return &u.MailNickname }),
	lp("otherMails", false, true, func(u *model.User) *[]string { return &u.OtherMails }),
	// proxyAddresses and assignedLicenses are read-only in Graph: Exchange
	// and the assignLicense action maintain them.
	lp("proxyAddresses", false, false, func(u *model.User) *[]string { return &u.ProxyAddresses }),
	&prop[model.User]{name: "assignedLicenses", kind: pLicenses, lic: func(u *model.User) *[]model.AssignedLicense { return &u.AssignedLicenses }},
	sp("onPremisesImmutableId", false, true, func(u *model.User) *string { return &u.OnPremisesImmutableID }),
	sp("passwordPolicies", false, true, func(u *model.User) *string { return &u.PasswordPolicies }),
	bnp("onPremisesSyncEnabled", false, false, func(u *model.User) *bool { return &u.OnPremisesSyncEnabled }),
	sp("externalUserState", false, false, func(u *model.User) *string { return &u.ExternalUserState }),
	sp("creationType", false, false, func(u *model.User) *string { return &u.CreationType }),
	tp("createdDateTime", false, func(u *model.User) *time.Time { return &u.CreatedDateTime }),
	tp("deletedDateTime", false, func(u *model.User) *time.Time { return &u.DeletedDateTime }),
)

// Groups is Graph's default group property set, in the order the "List
// groups" example shows.
var Groups = newTable("microsoft.graph.group", "Group",
	sp("id", true, false, func(g *model.Group) *string { return &g.ID }),
	tp("deletedDateTime", true, func(g *model.Group) *time.Time { return &g.DeletedDateTime }),
	nullp[model.Group]("classification", true),
	tp("createdDateTime", true, func(g *model.Group) *time.Time { return &g.CreatedDateTime }),
	emptyp[model.Group]("creationOptions", true),
	sp("description", true, true, func(g *model.Group) *string { return &g.Description }),
	sp("displayName", true, true, func(g *model.Group) *string { return &g.DisplayName }),
	nullp[model.Group]("expirationDateTime", true),
	lp("groupTypes", true, true, func(g *model.Group) *[]string { return &g.GroupTypes }),
	bnp("isAssignableToRole", true, true, func(g *model.Group) *bool { return &g.IsAssignableToRole }),
	sp("mail", true, false, func(g *model.Group) *string { return &g.Mail }),
	bp("mailEnabled", true, true, func(g *model.Group) *bool { return &g.MailEnabled }),
	sp("mailNickname", true, true, func(g *model.Group) *string { return &g.MailNickname }),
	sp("membershipRule", true, true, func(g *model.Group) *string { return &g.MembershipRule }),
	sp("membershipRuleProcessingState", true, true, func(g *model.Group) *string { return &g.MembershipRuleProcessingState }),
	nullp[model.Group]("onPremisesDomainName", true),
	nullp[model.Group]("onPremisesLastSyncDateTime", true),
	nullp[model.Group]("onPremisesNetBiosName", true),
	sp("onPremisesSamAccountName", true, false, func(g *model.Group) *string { return &g.OnPremisesSamAccountName }),
	nullp[model.Group]("onPremisesSecurityIdentifier", true),
	bnp("onPremisesSyncEnabled", true, false, func(g *model.Group) *bool { return &g.OnPremisesSyncEnabled }),
	nullp[model.Group]("preferredDataLocation", true),
	nullp[model.Group]("preferredLanguage", true),
	lp("proxyAddresses", true, false, func(g *model.Group) *[]string { return &g.ProxyAddresses }),
	tp("renewedDateTime", true, func(g *model.Group) *time.Time { return &g.CreatedDateTime }),
	emptyp[model.Group]("resourceBehaviorOptions", true),
	emptyp[model.Group]("resourceProvisioningOptions", true),
	bp("securityEnabled", true, true, func(g *model.Group) *bool { return &g.SecurityEnabled }),
	sp("securityIdentifier", true, false, func(g *model.Group) *string { return &g.SecurityIdentifier }),
	nullp[model.Group]("theme", true),
	sp("visibility", true, true, func(g *model.Group) *string { return &g.Visibility }),
	emptyp[model.Group]("onPremisesProvisioningErrors", true),
	emptyp[model.Group]("serviceProvisioningErrors", true),
)

// Devices follows "List devices" and the device resource's default
// properties.
var Devices = newTable("microsoft.graph.device", "Device",
	sp("id", true, false, func(o *model.Object) *string { return &o.ID }),
	tp("deletedDateTime", true, func(o *model.Object) *time.Time { return &o.DeletedDateTime }),
	bp("accountEnabled", true, false, func(o *model.Object) *bool { return &o.AccountEnabled }),
	nullp[model.Object]("approximateLastSignInDateTime", true),
	nullp[model.Object]("complianceExpirationDateTime", true),
	tp("createdDateTime", true, func(o *model.Object) *time.Time { return &o.CreatedDateTime }),
	sp("deviceId", true, false, func(o *model.Object) *string { return &o.DeviceID }),
	nullp[model.Object]("deviceMetadata", true),
	nullp[model.Object]("deviceVersion", true),
	sp("displayName", true, false, func(o *model.Object) *string { return &o.DisplayName }),
	nullp[model.Object]("isCompliant", true),
	nullp[model.Object]("isManaged", true),
	nullp[model.Object]("onPremisesLastSyncDateTime", true),
	nullp[model.Object]("onPremisesSyncEnabled", true),
	sp("operatingSystem", true, false, func(o *model.Object) *string { return &o.OperatingSystem }),
	sp("operatingSystemVersion", true, false, func(o *model.Object) *string { return &o.OSVersion }),
	emptyp[model.Object]("physicalIds", true),
	nullp[model.Object]("profileType", true),
	emptyp[model.Object]("systemLabels", true),
	nullp[model.Object]("trustType", true),
	emptyp[model.Object]("alternativeSecurityIds", true),
)

// Contacts follows "List orgContacts".
var Contacts = newTable("microsoft.graph.orgContact", "OrgContact",
	sp("id", true, false, func(o *model.Object) *string { return &o.ID }),
	tp("deletedDateTime", true, func(o *model.Object) *time.Time { return &o.DeletedDateTime }),
	emptyp[model.Object]("addresses", true),
	sp("companyName", true, false, func(o *model.Object) *string { return &o.CompanyName }),
	sp("department", true, false, func(o *model.Object) *string { return &o.Department }),
	sp("displayName", true, false, func(o *model.Object) *string { return &o.DisplayName }),
	sp("givenName", true, false, func(o *model.Object) *string { return &o.GivenName }),
	sp("jobTitle", true, false, func(o *model.Object) *string { return &o.JobTitle }),
	sp("mail", true, false, func(o *model.Object) *string { return &o.Mail }),
	sp("mailNickname", true, false, func(o *model.Object) *string { return &o.MailNickname }),
	nullp[model.Object]("onPremisesLastSyncDateTime", true),
	emptyp[model.Object]("onPremisesProvisioningErrors", true),
	nullp[model.Object]("onPremisesSyncEnabled", true),
	emptyp[model.Object]("phones", true),
	emptyp[model.Object]("proxyAddresses", true),
	emptyp[model.Object]("serviceProvisioningErrors", true),
	sp("surname", true, false, func(o *model.Object) *string { return &o.Surname }),
)

// ServicePrincipals follows "List servicePrincipals" (its documented
// example's properties, in its order) and the resource's other defaults.
var ServicePrincipals = newTable("microsoft.graph.servicePrincipal", "ServicePrincipal",
	sp("id", true, false, func(o *model.Object) *string { return &o.ID }),
	tp("deletedDateTime", true, func(o *model.Object) *time.Time { return &o.DeletedDateTime }),
	bp("accountEnabled", true, false, func(o *model.Object) *bool { return &o.AccountEnabled }),
	sp("appDisplayName", true, false, func(o *model.Object) *string { return &o.DisplayName }),
	sp("appId", true, false, func(o *model.Object) *string { return &o.AppID }),
	sp("appOwnerOrganizationId", true, false, func(o *model.Object) *string { return &o.AppOwnerOrganizationID }),
	rawp[model.Object]("appRoleAssignmentRequired", true, "false"),
	sp("displayName", true, false, func(o *model.Object) *string { return &o.DisplayName }),
	nullp[model.Object]("homepage", true),
	nullp[model.Object]("logoutUrl", true),
	sp("publisherName", true, false, func(o *model.Object) *string { return &o.PublisherName }),
	emptyp[model.Object]("replyUrls", true),
	lp("servicePrincipalNames", true, false, func(o *model.Object) *[]string { return &o.ServicePrincipalNames }),
	emptyp[model.Object]("tags", true),
	emptyp[model.Object]("addIns", true),
	emptyp[model.Object]("appRoles", true),
	rawp[model.Object]("info", true, `{"termsOfServiceUrl":null,"supportUrl":null,"privacyStatementUrl":null,"marketingUrl":null,"logoUrl":null}`),
	emptyp[model.Object]("keyCredentials", true),
	emptyp[model.Object]("oauth2PermissionScopes", true),
	emptyp[model.Object]("passwordCredentials", true),
	emptyp[model.Object]("alternativeNames", true),
	nullp[model.Object]("appDescription", true),
	nullp[model.Object]("applicationTemplateId", true),
	nullp[model.Object]("description", true),
	nullp[model.Object]("loginUrl", true),
	nullp[model.Object]("notes", true),
	emptyp[model.Object]("notificationEmailAddresses", true),
	nullp[model.Object]("preferredSingleSignOnMode", true),
	rawp[model.Object]("servicePrincipalType", true, `"Application"`),
	rawp[model.Object]("signInAudience", true, `"AzureADMyOrg"`),
	tp("createdDateTime", false, func(o *model.Object) *time.Time { return &o.CreatedDateTime }),
)

// Applications follows "List applications": the app registrations of the
// tenant, one for each service principal of an app it owns.
var Applications = newTable("microsoft.graph.application", "Application",
	sp("id", true, false, func(o *model.Object) *string { return &o.ID }),
	tp("deletedDateTime", true, func(o *model.Object) *time.Time { return &o.DeletedDateTime }),
	sp("appId", true, false, func(o *model.Object) *string { return &o.AppID }),
	nullp[model.Object]("applicationTemplateId", true),
	tp("createdDateTime", true, func(o *model.Object) *time.Time { return &o.CreatedDateTime }),
	nullp[model.Object]("description", true),
	sp("displayName", true, false, func(o *model.Object) *string { return &o.DisplayName }),
	lp("identifierUris", true, false, func(o *model.Object) *[]string { return &o.ServicePrincipalNames }),
	sp("publisherDomain", true, false, func(o *model.Object) *string { return &o.PublisherDomain }),
	rawp[model.Object]("signInAudience", true, `"AzureADMyOrg"`),
	emptyp[model.Object]("tags", true),
	emptyp[model.Object]("keyCredentials", true),
	emptyp[model.Object]("passwordCredentials", true),
	emptyp[model.Object]("appRoles", true),
)

// DirectoryRoles follows "List directoryRoles".
var DirectoryRoles = newTable("microsoft.graph.directoryRole", "DirectoryRole",
	sp("id", true, false, func(o *model.Object) *string { return &o.ID }),
	tp("deletedDateTime", true, func(o *model.Object) *time.Time { return &o.DeletedDateTime }),
	sp("description", true, false, func(o *model.Object) *string { return &o.Description }),
	sp("displayName", true, false, func(o *model.Object) *string { return &o.DisplayName }),
	sp("roleTemplateId", true, false, func(o *model.Object) *string { return &o.RoleTemplateID }),
)

// ForObject is the table of a device, contact or service principal.
func ForObject(k model.ObjKind) *Table[model.Object] {
	switch k {
	case model.ObjDevice:
		return Devices
	case model.ObjContact:
		return Contacts
	}
	return ServicePrincipals
}

// Bit is the mask bit of a property, 0 for a name the type does not have.
func (t *Table[T]) Bit(name string) uint64 {
	if p := t.lookup(name); p != nil {
		return p.bit
	}
	return 0
}

// IDBit is the mask bit of the id property, which every $select includes.
func (t *Table[T]) IDBit() uint64 { return t.byName["id"].bit }

// ID is the object's id.
func (t *Table[T]) ID(x *T) string { return *t.byName["id"].str(x) }

// Filterable reports whether $filter and $search may name the property.
func (t *Table[T]) Filterable(name string) bool {
	p := t.lookup(name)
	return p != nil && p.kind != pConstNull && p.kind != pConstList && p.kind != pConstRaw && p.kind != pTime
}

// Getter is $filter's and $search's view of x.
func (t *Table[T]) Getter(x *T) odata.Getter {
	return func(name string) (odata.Value, bool) {
		p := t.lookup(name)
		if p == nil {
			return odata.Value{}, false
		}
		return p.value(x), true
	}
}

func (p *prop[T]) value(x *T) odata.Value {
	switch p.kind {
	case pStr:
		return odata.Value{Kind: odata.String, S: *p.str(x)}
	case pBool:
		return odata.Value{Kind: odata.Bool, B: *p.bl(x)}
	case pBoolNull:
		return odata.Value{Kind: odata.NullableBool, B: *p.bl(x)}
	case pStrs:
		return odata.Value{Kind: odata.Strings, SS: *p.strs(x)}
	case pLicenses:
		v := odata.Value{Kind: odata.Complex}
		for _, l := range *p.lic(x) {
			v.Complex = append(v.Complex, map[string]string{"skuid": l.SkuID})
		}
		return v
	case pTime:
		v := odata.Value{Kind: odata.Time}
		if t := p.tm(x); !t.IsZero() {
			v.S = jsonw.Time(*t)
		}
		return v
	}
	return odata.Value{Kind: odata.String}
}
