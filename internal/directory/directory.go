// Package directory is dirsync's data model: accounts, the sources that feed
// them, and the users, groups and memberships an account's directory holds.
//
// It has no behaviour beyond small value helpers, and it imports nothing of
// dirsync's own: connectors, the engine, the store and the API all speak in
// these types, so it sits at the bottom of the dependency graph.
package directory

import (
	"slices"
	"time"
)

// Account is one customer organization. Every other object belongs to
// exactly one account; a deployment holds many.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// SourceKind names a kind of directory that a connector reads.
type SourceKind string

// Source kinds dirsync knows.
const (
	KindEntra SourceKind = "entra"
	KindLDAP  SourceKind = "ldap"
)

// Source is one directory an account synchronizes from: an Entra ID tenant,
// an Active Directory domain, an LDAP server.
type Source struct {
	ID          string     `json:"id"`
	AccountID   string     `json:"account_id"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Kind        SourceKind `json:"kind"`
	// Config is the connector's own settings, as JSON, without secrets.
	Config []byte `json:"config"`
	// Secret is the connector's credential (client secret, private key,
	// bind password), sealed by the store's key: never returned or logged.
	Secret []byte `json:"-"`
	// Settings are the source's scope rules and import options, as JSON
	// (see package scope); empty means all users and groups, with defaults.
	Settings  []byte    `json:"settings,omitempty"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// State is where an object stands in its lifecycle.
type State string

// Lifecycle states. A disabled user is still in the directory; a user in
// the trash is out of the active lists until restored or purged.
const (
	StateActive   State = "active"
	StateDisabled State = "disabled"
	StateTrash    State = "pending_deletion"
)

// StateFor is the state of a user that is not in the trash.
func StateFor(enabled bool) State {
	if enabled {
		return StateActive
	}
	return StateDisabled
}

// UserAttributes are the attributes a source manages on a user. Sources
// write them; nobody else may.
type UserAttributes struct {
	Username       string   `json:"username"` // the userPrincipalName, or what a source maps to it
	Email          string   `json:"email,omitempty"`
	DisplayName    string   `json:"display_name,omitempty"`
	GivenName      string   `json:"given_name,omitempty"`
	Surname        string   `json:"surname,omitempty"`
	JobTitle       string   `json:"job_title,omitempty"`
	Department     string   `json:"department,omitempty"`
	MobilePhone    string   `json:"mobile_phone,omitempty"`
	BusinessPhones []string `json:"business_phones,omitzero"`
	UserType       string   `json:"user_type,omitempty"` // Member or Guest in Entra
	Licenses       []string `json:"licenses,omitzero"`   // SKU ids
	ProxyAddresses []string `json:"proxy_addresses,omitzero"`
	ImmutableID    string   `json:"immutable_id,omitempty"` // onPremisesImmutableId
	// AccountName is the pre-Windows 2000 logon name (sAMAccountName) where the
	// source has one.
	AccountName string `json:"account_name,omitempty"`
	// DN is the entry's distinguished name in an LDAP source.
	DN string `json:"dn,omitempty"`
}

// GroupAttributes are the attributes a source manages on a group.
type GroupAttributes struct {
	Name            string   `json:"name"`
	Description     string   `json:"description,omitempty"`
	Mail            string   `json:"mail,omitempty"`
	GroupTypes      []string `json:"group_types,omitzero"`
	SecurityEnabled bool     `json:"security_enabled"`
	MailEnabled     bool     `json:"mail_enabled"`
	DN              string   `json:"dn,omitempty"`
}

// SourceLink ties a directory object to the object of a source it came from.
type SourceLink struct {
	SourceID   string `json:"source_id"`
	Source     string `json:"source"` // the source's name
	ExternalID string `json:"external_id"`
}

// User is a person in an account's directory.
type User struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	UserAttributes
	Enabled bool  `json:"enabled"`
	State   State `json:"state"`
	// Tags and Notes are local: the account's own, never touched by a source.
	Tags      []string     `json:"tags"`
	Notes     string       `json:"notes,omitempty"`
	Sources   []SourceLink `json:"sources"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	// TrashedAt is when the user went to the trash; zero otherwise.
	TrashedAt time.Time `json:"trashed_at,omitzero"`
}

// Group is a group in an account's directory.
type Group struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	GroupAttributes
	State     State        `json:"state"`
	Sources   []SourceLink `json:"sources"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	TrashedAt time.Time    `json:"trashed_at,omitzero"`
}

// Normalize makes the user's empty lists lists, as every answer shows them
// (the store keeps an empty list as none).
func (u *User) Normalize() {
	if u.Sources == nil {
		u.Sources = []SourceLink{}
	}
	for _, l := range []*[]string{&u.Tags, &u.BusinessPhones, &u.Licenses, &u.ProxyAddresses} {
		if *l == nil {
			*l = []string{}
		}
	}
}

// Normalize makes the group's empty lists lists.
func (g *Group) Normalize() {
	if g.Sources == nil {
		g.Sources = []SourceLink{}
	}
	if g.GroupTypes == nil {
		g.GroupTypes = []string{}
	}
}

// Membership is one direct membership, as the export lists it and as the
// object of a membership's event.
type Membership struct {
	GroupID    string     `json:"group_id"`
	MemberKind MemberKind `json:"member_kind"`
	MemberID   string     `json:"member_id"`
}

// MemberKind says what a member of a group is.
type MemberKind string

// Member kinds a directory holds. Sources may have others (devices,
// contacts, service principals); those are skipped and counted.
const (
	MemberUser  MemberKind = "user"
	MemberGroup MemberKind = "group"
)

// Member is one member of a group, direct or through nesting.
type Member struct {
	Kind MemberKind `json:"kind"`
	ID   string     `json:"id"`
	// Name is the user's username or the group's name, for display.
	Name string `json:"name"`
}

// SourceUser is a user as a source reports it, before it meets the directory.
type SourceUser struct {
	ExternalID string `json:"external_id"`
	UserAttributes
	Enabled bool `json:"enabled"`
}

// SourceGroup is a group as a source reports it.
type SourceGroup struct {
	ExternalID string `json:"external_id"`
	GroupAttributes
}

// SourceMembership is one direct membership as a source reports it.
type SourceMembership struct {
	GroupExternalID  string     `json:"group"`
	MemberExternalID string     `json:"member"`
	MemberKind       MemberKind `json:"kind"`
}

// AttrChange is one attribute's value before and after a change.
type AttrChange struct {
	Attribute string `json:"attribute"`
	Before    any    `json:"before"`
	After     any    `json:"after"`
}

// DiffUsers lists the attributes that differ between a and b, in a fixed order.
func DiffUsers(a, b UserAttributes) []AttrChange {
	var d differ
	d.str(string(UserUsername), a.Username, b.Username)
	d.str(string(UserEmail), a.Email, b.Email)
	d.str(string(UserDisplayName), a.DisplayName, b.DisplayName)
	d.str(string(UserGivenName), a.GivenName, b.GivenName)
	d.str(string(UserSurname), a.Surname, b.Surname)
	d.str(string(UserJobTitle), a.JobTitle, b.JobTitle)
	d.str(string(UserDepartment), a.Department, b.Department)
	d.str(string(UserMobilePhone), a.MobilePhone, b.MobilePhone)
	d.list(string(UserBusinessPhones), a.BusinessPhones, b.BusinessPhones)
	d.str(string(UserUserType), a.UserType, b.UserType)
	d.list(string(UserLicenses), a.Licenses, b.Licenses)
	d.list(string(UserProxyAddresses), a.ProxyAddresses, b.ProxyAddresses)
	d.str(string(UserImmutableID), a.ImmutableID, b.ImmutableID)
	d.str(string(UserAccountName), a.AccountName, b.AccountName)
	d.str(string(UserDN), a.DN, b.DN)
	return d.changes
}

// DiffGroups lists the attributes that differ between a and b, in a fixed order.
func DiffGroups(a, b GroupAttributes) []AttrChange {
	var d differ
	d.str(string(GroupName), a.Name, b.Name)
	d.str(string(GroupDescription), a.Description, b.Description)
	d.str(string(GroupMail), a.Mail, b.Mail)
	d.list(string(GroupGroupTypes), a.GroupTypes, b.GroupTypes)
	d.boolean(string(GroupSecurityEnabled), a.SecurityEnabled, b.SecurityEnabled)
	d.boolean(string(GroupMailEnabled), a.MailEnabled, b.MailEnabled)
	d.str(string(GroupDN), a.DN, b.DN)
	return d.changes
}

type differ struct{ changes []AttrChange }

func (d *differ) str(name, a, b string) {
	if a != b {
		d.changes = append(d.changes, AttrChange{name, a, b})
	}
}

func (d *differ) boolean(name string, a, b bool) {
	if a != b {
		d.changes = append(d.changes, AttrChange{name, a, b})
	}
}

// list compares as sets in order: sources return multi-valued attributes in
// no promised order, and a reordering is not a change.
func (d *differ) list(name string, a, b []string) {
	sa, sb := slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	if !slices.Equal(sa, sb) {
		d.changes = append(d.changes, AttrChange{name, a, b})
	}
}
