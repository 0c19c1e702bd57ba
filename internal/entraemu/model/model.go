// Package model holds the directory objects of the emulated Entra tenant as
// Microsoft Graph describes them (users, groups, devices, organizational
// contacts, service principals, apps, SKUs, domains), the permission names
// the emulator checks, object ids and the error Graph answers with. It is
// the vocabulary the other emulator packages share, and imports none of them.
package model

import (
	"crypto/x509"
	"slices"
	"time"
)

// User is a user object as Graph holds it. An empty string is a property
// that is not set (Graph answers null); AccountEnabled is always set.
type User struct {
	ID                    string
	UserPrincipalName     string
	DisplayName           string
	GivenName             string
	Surname               string
	Mail                  string
	MailNickname          string
	AccountEnabled        bool
	UserType              string // Member or Guest
	JobTitle              string
	Department            string
	CompanyName           string
	OfficeLocation        string
	City                  string
	Country               string
	UsageLocation         string
	PreferredLanguage     string
	EmployeeID            string
	MobilePhone           string
	BusinessPhones        []string
	ProxyAddresses        []string
	OtherMails            []string
	AssignedLicenses      []AssignedLicense
	OnPremisesImmutableID string
	OnPremisesSyncEnabled bool   // false is written as null: a cloud-only user
	PasswordPolicies      string // DisablePasswordExpiration, DisableStrongPassword
	ExternalUserState     string // guests: Accepted or PendingAcceptance
	CreationType          string // guests: Invitation
	CreatedDateTime       time.Time
	DeletedDateTime       time.Time // set while the user is in deleted items
}

// Clone returns a copy of u that shares no slices with it.
func (u *User) Clone() User {
	c := *u
	c.BusinessPhones = slices.Clone(u.BusinessPhones)
	c.ProxyAddresses = slices.Clone(u.ProxyAddresses)
	c.OtherMails = slices.Clone(u.OtherMails)
	if u.AssignedLicenses != nil {
		c.AssignedLicenses = make([]AssignedLicense, len(u.AssignedLicenses))
		for i, l := range u.AssignedLicenses {
			c.AssignedLicenses[i] = AssignedLicense{SkuID: l.SkuID, DisabledPlans: slices.Clone(l.DisabledPlans)}
		}
	}
	return c
}

// AssignedLicense is one license a user holds, as Graph's assignedLicense.
type AssignedLicense struct {
	SkuID         string   `json:"skuId"`
	DisabledPlans []string `json:"disabledPlans"`
}

// Group is a group object as Graph holds it.
type Group struct {
	ID                            string
	DisplayName                   string
	Description                   string
	Mail                          string
	MailNickname                  string
	MailEnabled                   bool
	SecurityEnabled               bool
	GroupTypes                    []string // "Unified" for Microsoft 365 groups, "DynamicMembership"
	Visibility                    string   // Public, Private, HiddenMembership (Microsoft 365 groups)
	MembershipRule                string
	MembershipRuleProcessingState string
	ProxyAddresses                []string
	OnPremisesSyncEnabled         bool
	OnPremisesSamAccountName      string
	IsAssignableToRole            bool
	SecurityIdentifier            string
	CreatedDateTime               time.Time
	DeletedDateTime               time.Time
}

// Clone returns a copy of g that shares no slices with it.
func (g *Group) Clone() Group {
	c := *g
	c.GroupTypes = slices.Clone(g.GroupTypes)
	c.ProxyAddresses = slices.Clone(g.ProxyAddresses)
	return c
}

// IsUnified reports whether g is a Microsoft 365 group. Only those go to
// deleted items when deleted; Entra removes other groups for good.
func (g *Group) IsUnified() bool {
	return slices.Contains(g.GroupTypes, "Unified")
}

// IsDynamic reports whether g's members follow a membership rule, so they
// cannot be added or removed by hand.
func (g *Group) IsDynamic() bool {
	return slices.Contains(g.GroupTypes, "DynamicMembership")
}

// Object kinds, as the names after "#microsoft.graph." in @odata.type.
const (
	KindUser             = "user"
	KindGroup            = "group"
	KindDevice           = "device"
	KindOrgContact       = "orgContact"
	KindServicePrincipal = "servicePrincipal"
)

// ObjKind is an object kind as the emulator stores it.
type ObjKind uint8

// The object kinds.
const (
	ObjUser ObjKind = iota
	ObjGroup
	ObjDevice
	ObjContact
	ObjServicePrincipal
)

var kindNames = [...]string{KindUser, KindGroup, KindDevice, KindOrgContact, KindServicePrincipal}

// String is the kind's Graph name, such as "user".
func (k ObjKind) String() string { return kindNames[k] }

// ODataType is the kind's @odata.type, such as "#microsoft.graph.user".
func (k ObjKind) ODataType() string { return "#microsoft.graph." + kindNames[k] }

// KindFromName returns the kind a Graph name (such as "orgContact") names.
func KindFromName(s string) (ObjKind, bool) {
	for i, n := range kindNames {
		if n == s {
			return ObjKind(i), true
		}
	}
	return 0, false
}

// Ref is one entry of a group's member list: an object id and its kind.
type Ref struct {
	ID   string
	Kind ObjKind
}

// Member is one member of a group: a user, a group, a device, an
// organizational contact or a service principal.
type Member struct {
	ID                string
	Kind              string // KindUser, KindGroup, KindDevice, KindOrgContact, KindServicePrincipal
	DisplayName       string
	UserPrincipalName string // users only
	Mail              string
}

// ODataType is the member's @odata.type, as Graph writes it.
func (m Member) ODataType() string { return "#microsoft.graph." + m.Kind }

// Object is a directory object that is neither a user nor a group: a device,
// an organizational contact or a service principal (and, as the emulator
// derives them, an application or a directory role).
type Object struct {
	ID                     string
	Kind                   string // KindDevice, KindOrgContact or KindServicePrincipal
	DisplayName            string
	Description            string // directory roles
	Mail                   string // contacts
	MailNickname           string // contacts
	GivenName              string // contacts
	Surname                string // contacts
	CompanyName            string // contacts
	Department             string // contacts
	JobTitle               string // contacts
	DeviceID               string // devices
	OperatingSystem        string // devices
	OSVersion              string // devices
	AccountEnabled         bool   // devices, service principals
	AppID                  string // service principals, applications
	AppOwnerOrganizationID string // service principals: the tenant that registered the app
	PublisherName          string // service principals: that tenant's name
	PublisherDomain        string // applications
	ServicePrincipalNames  []string
	RoleTemplateID         string // directory roles
	CreatedDateTime        time.Time
	DeletedDateTime        time.Time
}

// Clone returns a copy of o that shares no slices with it.
func (o *Object) Clone() Object {
	c := *o
	c.ServicePrincipalNames = slices.Clone(o.ServicePrincipalNames)
	return c
}

// App is an app registration (with its service principal) that can ask the
// tenant for tokens.
type App struct {
	ClientID    string
	DisplayName string
	// Secret is the client secret's value; SecretID is its id, which admins
	// paste by mistake (AADSTS7000215 says so).
	Secret        string
	SecretID      string
	SecretExpired bool
	// Certificate is a registered certificate: a client assertion signed by
	// its key is accepted.
	Certificate *x509.Certificate
	// Roles are the application permissions granted with admin consent,
	// such as "User.Read.All". An app without roles gets tokens without a
	// roles claim, and Graph refuses it with 403.
	Roles []string
}

// Clone returns a copy of a that shares no slices with it.
func (a *App) Clone() App {
	c := *a
	c.Roles = slices.Clone(a.Roles)
	return c
}

// Permission names the emulator checks.
const (
	PermUserReadAll             = "User.Read.All"
	PermUserReadWriteAll        = "User.ReadWrite.All"
	PermGroupReadAll            = "Group.Read.All"
	PermGroupReadWriteAll       = "Group.ReadWrite.All"
	PermGroupMemberReadAll      = "GroupMember.Read.All"
	PermGroupMemberReadWriteAll = "GroupMember.ReadWrite.All"
	PermDirectoryReadAll        = "Directory.Read.All"
	PermDirectoryReadWriteAll   = "Directory.ReadWrite.All"
	PermOrganizationReadAll     = "Organization.Read.All"
	PermDomainReadAll           = "Domain.Read.All"
	PermLicenseAssignReadAll    = "LicenseAssignment.Read.All"
	PermApplicationReadAll      = "Application.Read.All"
	PermDeviceReadAll           = "Device.Read.All"
	PermOrgContactReadAll       = "OrgContact.Read.All"
	PermRoleManagementReadDir   = "RoleManagement.Read.Directory"
	PermDeviceReadWriteAll      = "Device.ReadWrite.All"
	PermApplicationReadWriteAll = "Application.ReadWrite.All"
)

// ReadRoles are the roles of the generated sync app: what a directory sync
// needs and nothing it does not.
var ReadRoles = []string{PermUserReadAll, PermGroupMemberReadAll, PermDirectoryReadAll}

// AdminRoles are the roles of the generated write app, which may also
// change users, groups and memberships, and read the verified domains (a
// dirsync target needs them to route UPN suffixes).
var AdminRoles = []string{PermUserReadWriteAll, PermGroupReadWriteAll, PermDomainReadAll}

// Sku is a subscribed license SKU.
type Sku struct {
	SkuID         string
	SkuPartNumber string
	PrepaidUnits  int
	ServicePlans  []ServicePlan
}

// ServicePlan is one service plan a SKU includes, as subscribedSku lists it.
type ServicePlan struct {
	ID   string
	Name string
}

// Domain is a domain of the tenant.
type Domain struct {
	Name      string
	IsDefault bool
	IsInitial bool
	Verified  bool
}
