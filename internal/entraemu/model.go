package entraemu

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
	ExternalUserState     string // guests: Accepted or PendingAcceptance
	CreationType          string // guests: Invitation
	CreatedDateTime       time.Time
	DeletedDateTime       time.Time // set while the user is in deleted items
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

// IsUnified reports whether g is a Microsoft 365 group. Only those go to
// deleted items when deleted; Entra removes other groups for good.
func (g *Group) IsUnified() bool {
	return slices.Contains(g.GroupTypes, "Unified")
}

// Object kinds, as the names after "#microsoft.graph." in @odata.type.
const (
	KindUser             = "user"
	KindGroup            = "group"
	KindDevice           = "device"
	KindOrgContact       = "orgContact"
	KindServicePrincipal = "servicePrincipal"
)

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
// an organizational contact or a service principal. The tenant only keeps
// what a group listing shows of them.
type Object struct {
	ID              string
	Kind            string // KindDevice, KindOrgContact or KindServicePrincipal
	DisplayName     string
	Mail            string // contacts
	GivenName       string // contacts
	Surname         string // contacts
	CompanyName     string // contacts
	DeviceID        string // devices
	OperatingSystem string // devices
	OSVersion       string // devices
	AccountEnabled  bool   // devices, service principals
	AppID           string // service principals
	CreatedDateTime time.Time
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
)

// ReadRoles are the roles of the generated sync app: what a directory sync
// needs and nothing it does not.
var ReadRoles = []string{PermUserReadAll, PermGroupMemberReadAll, PermDirectoryReadAll}

// AdminRoles are the roles of the generated admin app, which may also write.
var AdminRoles = []string{PermUserReadWriteAll, PermGroupReadWriteAll, PermGroupMemberReadWriteAll, PermDirectoryReadWriteAll}

// Sku is a subscribed license SKU.
type Sku struct {
	SkuID         string
	SkuPartNumber string
	PrepaidUnits  int
}

// Domain is a domain of the tenant.
type Domain struct {
	Name      string
	IsDefault bool
	IsInitial bool
	Verified  bool
}

// ---- internal records ----

type objKind uint8

const (
	kUser objKind = iota
	kGroup
	kDevice
	kContact
	kSP
)

var kindNames = [...]string{KindUser, KindGroup, KindDevice, KindOrgContact, KindServicePrincipal}

func (k objKind) String() string { return kindNames[k] }

func kindFromName(s string) (objKind, bool) {
	for i, n := range kindNames {
		if n == s {
			return objKind(i), true
		}
	}
	return 0, false
}

// memberRef is one entry of a group's member list, kept sorted by id.
type memberRef struct {
	id   string
	kind objKind
}

type userRec struct {
	User
	everSet  uint64   // properties that have held a value (delta omits the others)
	memberOf []string // direct parent groups, sorted
	// saved while soft-deleted: the groups to rejoin on restore.
	savedMemberOf []string
}

type groupRec struct {
	Group
	everSet  uint64
	members  []memberRef // sorted by id
	memberOf []string    // parent groups, sorted
	// saved while soft-deleted.
	savedMemberOf []string
}

type objRec struct {
	Object
	kind     objKind
	memberOf []string
}

// insertSorted adds s to the sorted slice ss if absent and reports whether
// it did.
func insertSorted(ss []string, s string) ([]string, bool) {
	i, found := slices.BinarySearch(ss, s)
	if found {
		return ss, false
	}
	return slices.Insert(ss, i, s), true
}

// removeSorted removes s from the sorted slice ss and reports whether it was
// there.
func removeSorted(ss []string, s string) ([]string, bool) {
	i, found := slices.BinarySearch(ss, s)
	if !found {
		return ss, false
	}
	return slices.Delete(ss, i, i+1), true
}

func cmpMemberRef(a memberRef, id string) int {
	switch {
	case a.id < id:
		return -1
	case a.id > id:
		return 1
	}
	return 0
}

func findMember(ms []memberRef, id string) (int, bool) {
	return slices.BinarySearchFunc(ms, id, cmpMemberRef)
}
