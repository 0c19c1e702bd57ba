package directory

import "fmt"

// Size limits of what a source may say of one object. Real directories
// stay far below them (Entra ID caps a displayName at 256 characters, AD
// a description at 1,024); a source beyond them is broken or hostile, and
// its object is refused rather than stored and sent on in events.
const (
	// MaxValueBytes bounds one value of an attribute (a name, an address).
	MaxValueBytes = 2048
	// MaxDNBytes bounds a distinguished name, which nests.
	MaxDNBytes = 8192
	// MaxValues bounds the values of a multi-valued attribute.
	MaxValues = 1000
)

// Oversized names the first attribute of u (or its external id) over its
// size limit, with the limit; "" when everything fits.
func (u SourceUser) Oversized() (field, limit string) {
	a := u.UserAttributes
	var c sizeCheck
	c.value("external_id", u.ExternalID, MaxValueBytes)
	c.value(string(UserUsername), a.Username, MaxValueBytes)
	c.value(string(UserEmail), a.Email, MaxValueBytes)
	c.value(string(UserDisplayName), a.DisplayName, MaxValueBytes)
	c.value(string(UserGivenName), a.GivenName, MaxValueBytes)
	c.value(string(UserSurname), a.Surname, MaxValueBytes)
	c.value(string(UserJobTitle), a.JobTitle, MaxValueBytes)
	c.value(string(UserDepartment), a.Department, MaxValueBytes)
	c.value(string(UserMobilePhone), a.MobilePhone, MaxValueBytes)
	c.list(string(UserBusinessPhones), a.BusinessPhones)
	c.value(string(UserUserType), a.UserType, MaxValueBytes)
	c.list(string(UserLicenses), a.Licenses)
	c.list(string(UserProxyAddresses), a.ProxyAddresses)
	c.value(string(UserImmutableID), a.ImmutableID, MaxValueBytes)
	c.value(string(UserAccountName), a.AccountName, MaxValueBytes)
	c.value(string(UserDN), a.DN, MaxDNBytes)
	return c.field, c.limit
}

// Oversized names the first attribute of g (or its external id) over its
// size limit, with the limit; "" when everything fits.
func (g SourceGroup) Oversized() (field, limit string) {
	a := g.GroupAttributes
	var c sizeCheck
	c.value("external_id", g.ExternalID, MaxValueBytes)
	c.value(string(GroupName), a.Name, MaxValueBytes)
	c.value(string(GroupDescription), a.Description, MaxValueBytes)
	c.value(string(GroupMail), a.Mail, MaxValueBytes)
	c.list(string(GroupGroupTypes), a.GroupTypes)
	c.value(string(GroupDN), a.DN, MaxDNBytes)
	return c.field, c.limit
}

// sizeCheck keeps the first attribute found over its limit.
type sizeCheck struct{ field, limit string }

func (c *sizeCheck) value(name, v string, max int) {
	if c.field == "" && len(v) > max {
		c.field, c.limit = name, fmt.Sprintf("%d bytes, over the limit of %d", len(v), max)
	}
}

func (c *sizeCheck) list(name string, vs []string) {
	if c.field == "" && len(vs) > MaxValues {
		c.field, c.limit = name, fmt.Sprintf("%d values, over the limit of %d", len(vs), MaxValues)
		return
	}
	for i, v := range vs {
		c.value(fmt.Sprintf("%s[%d]", name, i), v, MaxValueBytes)
	}
}
