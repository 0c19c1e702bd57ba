package directory

import "fmt"

// UserField names an attribute a source manages on a user: the JSON name
// of a UserAttributes field, or UserEnabled. An incremental read names the
// attributes a patch carries with them, and OverlayUser lays exactly those
// over a stored user. Each constant is "User" followed by the Go field's
// name; a test ties them to the struct tags, so renaming a tag cannot
// silently drop the attribute from incremental runs.
type UserField string

// The user fields, in the order of UserAttributes.
const (
	UserUsername       UserField = "username"
	UserEmail          UserField = "email"
	UserDisplayName    UserField = "display_name"
	UserGivenName      UserField = "given_name"
	UserSurname        UserField = "surname"
	UserJobTitle       UserField = "job_title"
	UserDepartment     UserField = "department"
	UserMobilePhone    UserField = "mobile_phone"
	UserBusinessPhones UserField = "business_phones"
	UserUserType       UserField = "user_type"
	UserLicenses       UserField = "licenses"
	UserProxyAddresses UserField = "proxy_addresses"
	UserImmutableID    UserField = "immutable_id"
	UserAccountName    UserField = "account_name"
	UserDN             UserField = "dn"
	// UserEnabled is SourceUser.Enabled.
	UserEnabled UserField = "enabled"
)

// UserFields lists every UserField.
var UserFields = []UserField{UserUsername, UserEmail, UserDisplayName, UserGivenName, UserSurname, UserJobTitle,
	UserDepartment, UserMobilePhone, UserBusinessPhones, UserUserType, UserLicenses, UserProxyAddresses,
	UserImmutableID, UserAccountName, UserDN, UserEnabled}

// GroupField names an attribute a source manages on a group: the JSON name
// of a GroupAttributes field. Each constant is "Group" followed by the Go
// field's name.
type GroupField string

// The group fields, in the order of GroupAttributes.
const (
	GroupName            GroupField = "name"
	GroupDescription     GroupField = "description"
	GroupMail            GroupField = "mail"
	GroupGroupTypes      GroupField = "group_types"
	GroupSecurityEnabled GroupField = "security_enabled"
	GroupMailEnabled     GroupField = "mail_enabled"
	GroupDN              GroupField = "dn"
)

// GroupFields lists every GroupField.
var GroupFields = []GroupField{GroupName, GroupDescription, GroupMail, GroupGroupTypes, GroupSecurityEnabled, GroupMailEnabled, GroupDN}

// OverlayUser returns base with the named fields taken from patch: a
// field the patch names but leaves empty was cleared at the source. An
// unknown field is an error: the patch cannot be applied as the source meant it.
func OverlayUser(base, patch SourceUser, fields []UserField) (SourceUser, error) {
	b, p := &base.UserAttributes, &patch.UserAttributes
	for _, f := range fields {
		switch f {
		case UserUsername:
			b.Username = p.Username
		case UserEmail:
			b.Email = p.Email
		case UserDisplayName:
			b.DisplayName = p.DisplayName
		case UserGivenName:
			b.GivenName = p.GivenName
		case UserSurname:
			b.Surname = p.Surname
		case UserJobTitle:
			b.JobTitle = p.JobTitle
		case UserDepartment:
			b.Department = p.Department
		case UserMobilePhone:
			b.MobilePhone = p.MobilePhone
		case UserBusinessPhones:
			b.BusinessPhones = p.BusinessPhones
		case UserUserType:
			b.UserType = p.UserType
		case UserLicenses:
			b.Licenses = p.Licenses
		case UserProxyAddresses:
			b.ProxyAddresses = p.ProxyAddresses
		case UserImmutableID:
			b.ImmutableID = p.ImmutableID
		case UserAccountName:
			b.AccountName = p.AccountName
		case UserDN:
			b.DN = p.DN
		case UserEnabled:
			base.Enabled = patch.Enabled
		default:
			return base, fmt.Errorf("directory: overlay user %s: unknown field %q", base.ExternalID, f)
		}
	}
	return base, nil
}

// OverlayGroup returns base with the named fields taken from patch, as
// OverlayUser does for users.
func OverlayGroup(base, patch SourceGroup, fields []GroupField) (SourceGroup, error) {
	b, p := &base.GroupAttributes, &patch.GroupAttributes
	for _, f := range fields {
		switch f {
		case GroupName:
			b.Name = p.Name
		case GroupDescription:
			b.Description = p.Description
		case GroupMail:
			b.Mail = p.Mail
		case GroupGroupTypes:
			b.GroupTypes = p.GroupTypes
		case GroupSecurityEnabled:
			b.SecurityEnabled = p.SecurityEnabled
		case GroupMailEnabled:
			b.MailEnabled = p.MailEnabled
		case GroupDN:
			b.DN = p.DN
		default:
			return base, fmt.Errorf("directory: overlay group %s: unknown field %q", base.ExternalID, f)
		}
	}
	return base, nil
}
