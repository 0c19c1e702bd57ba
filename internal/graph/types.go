package graph

import (
	"encoding/json"
	"slices"
	"strings"
)

// Removal reasons of @removed in a delta round.
const (
	// ReasonChanged: the object went to deleted items and can be restored for 30 days.
	ReasonChanged = "changed"
	// ReasonDeleted: the object is gone for good (or, in members@delta, the membership ended).
	ReasonDeleted = "deleted"
)

// Removed is the @removed annotation of a delta entry.
type Removed struct {
	Reason string `json:"reason"`
}

// AssignedLicense is one license of a user.
type AssignedLicense struct {
	SkuID         string   `json:"skuId"`
	DisabledPlans []string `json:"disabledPlans,omitempty"`
}

// User is a Graph user, with the properties dirsync selects.
type User struct {
	ID                    string            `json:"id"`
	UserPrincipalName     string            `json:"userPrincipalName"`
	Mail                  string            `json:"mail"`
	DisplayName           string            `json:"displayName"`
	GivenName             string            `json:"givenName"`
	Surname               string            `json:"surname"`
	AccountEnabled        *bool             `json:"accountEnabled"`
	JobTitle              string            `json:"jobTitle"`
	Department            string            `json:"department"`
	MobilePhone           string            `json:"mobilePhone"`
	BusinessPhones        []string          `json:"businessPhones"`
	UserType              string            `json:"userType"`
	AssignedLicenses      []AssignedLicense `json:"assignedLicenses"`
	ProxyAddresses        []string          `json:"proxyAddresses"`
	OnPremisesImmutableID string            `json:"onPremisesImmutableId"`

	// Removed is set on a delta entry for a deleted user.
	Removed *Removed `json:"@removed,omitempty"`
	// Fields lists the properties the entry carried (null ones included,
	// annotations not). A delta entry may carry only some properties, so it
	// must be applied as a patch of these fields and no others.
	Fields []string `json:"-"`
}

// Has reports whether the entry carried the property.
func (u *User) Has(field string) bool { return slices.Contains(u.Fields, field) }

// UnmarshalJSON decodes a user and records which properties it carried.
func (u *User) UnmarshalJSON(b []byte) error {
	type plain User // no methods: no recursion
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	fields, err := fieldsOf(b)
	if err != nil {
		return err
	}
	*u = User(p)
	u.Fields = fields
	return nil
}

// Group is a Graph group, with the properties dirsync selects.
type Group struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	Description     string   `json:"description"`
	Mail            string   `json:"mail"`
	MailEnabled     bool     `json:"mailEnabled"`
	SecurityEnabled bool     `json:"securityEnabled"`
	GroupTypes      []string `json:"groupTypes"`

	// MembersDelta is members@delta on a groups/delta entry: a slice of
	// the group's members (a large group arrives in several entries), or
	// in later rounds the members added and, with @removed, removed.
	MembersDelta []DirectoryObject `json:"members@delta,omitempty"`
	Removed      *Removed          `json:"@removed,omitempty"`
	// Fields lists the properties the entry carried; see User.Fields.
	Fields []string `json:"-"`
}

// Has reports whether the entry carried the property.
func (g *Group) Has(field string) bool { return slices.Contains(g.Fields, field) }

// UnmarshalJSON decodes a group and records which properties it carried.
func (g *Group) UnmarshalJSON(b []byte) error {
	type plain Group
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	fields, err := fieldsOf(b)
	if err != nil {
		return err
	}
	*g = Group(p)
	g.Fields = fields
	return nil
}

// fieldsOf lists an object's property names, leaving out annotations
// (@odata.type, @removed, members@delta), sorted, each once. Its callers
// have decoded b already, so it is valid JSON: the names come from a scan
// of the object's top level (fields.go), where decoding it a second time
// into a map, for the keys alone, was 40% of a full sync's JSON decoding.
func fieldsOf(b []byte) ([]string, error) {
	if fields, ok := scanFields(b); ok {
		return fields, nil
	}
	return fieldsOfMap(b)
}

// fieldsOfMap is fieldsOf by a decoding into a map: for what the scan does
// not read (null, or JSON it did not expect), with the decoder's error.
func fieldsOfMap(b []byte) ([]string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	fields := make([]string, 0, len(m))
	for k := range m {
		if !strings.Contains(k, "@") {
			fields = append(fields, k)
		}
	}
	slices.Sort(fields)
	return fields, nil
}

// DirectoryObject is a member of a group or an entry of memberOf: a user,
// a group, a device, an organizational contact, a service principal...
type DirectoryObject struct {
	ODataType         string   `json:"@odata.type"`
	ID                string   `json:"id"`
	DisplayName       string   `json:"displayName,omitempty"`
	UserPrincipalName string   `json:"userPrincipalName,omitempty"`
	Mail              string   `json:"mail,omitempty"`
	Removed           *Removed `json:"@removed,omitempty"`
}

// Object kinds as Kind returns them.
const (
	KindUser             = "user"
	KindGroup            = "group"
	KindDevice           = "device"
	KindOrgContact       = "orgContact"
	KindServicePrincipal = "servicePrincipal"
)

// Kind returns the object's type without its namespace ("user", "group",
// "device", "orgContact", "servicePrincipal", ...), or "" when Graph did
// not say. It never guesses: an object of unknown type is not a user.
func (o DirectoryObject) Kind() string {
	t := strings.TrimPrefix(o.ODataType, "#")
	return strings.TrimPrefix(t, "microsoft.graph.")
}

// Organization is the tenant itself.
type Organization struct {
	ID              string           `json:"id"`
	DisplayName     string           `json:"displayName"`
	VerifiedDomains []VerifiedDomain `json:"verifiedDomains"`
}

// VerifiedDomain is a domain of an organization.
type VerifiedDomain struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	IsDefault bool   `json:"isDefault"`
	IsInitial bool   `json:"isInitial"`
}

// Domain is a domain of the tenant (GET /domains).
type Domain struct {
	ID                 string `json:"id"`
	AuthenticationType string `json:"authenticationType"`
	IsDefault          bool   `json:"isDefault"`
	IsInitial          bool   `json:"isInitial"`
	IsVerified         bool   `json:"isVerified"`
}
