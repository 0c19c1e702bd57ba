package provision

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"unicode"

	"github.com/dirsync/dirsync/internal/directory"
)

// flow is one row of the attribute flow table: a cloud user attribute and
// the directory attribute it takes by default.
type flow struct {
	attr     string   // the Graph property
	def      string   // the directory attribute (a directory.UserField), "" for computed
	kinds    []string // the kinds of directory attribute it may take
	required bool     // Entra needs it: it cannot be turned off
	note     string
}

// flowTable is the default attribute flow, in the order plans show it.
// proxyAddresses is not in it: Graph refuses writes of it (it is read-only
// there; Exchange Online owns it), and passwords cannot be synced through
// Graph at all (password hash sync is Azure AD Connect's own channel).
var flowTable = []flow{
	{"userPrincipalName", string(directory.UserUsername), []string{"string"}, true, "the UPN, its suffix routed to a verified domain"},
	{"displayName", string(directory.UserDisplayName), []string{"string"}, true, "falls back to given name and surname, then the UPN's name"},
	{"givenName", string(directory.UserGivenName), []string{"string"}, false, ""},
	{"surname", string(directory.UserSurname), []string{"string"}, false, ""},
	{"mail", string(directory.UserEmail), []string{"string"}, false, ""},
	{"mailNickname", string(directory.UserAccountName), []string{"string"}, true, "the sAMAccountName, else the UPN's name; characters Entra refuses are dropped"},
	{"jobTitle", string(directory.UserJobTitle), []string{"string"}, false, ""},
	{"department", string(directory.UserDepartment), []string{"string"}, false, ""},
	{"mobilePhone", string(directory.UserMobilePhone), []string{"string"}, false, ""},
	{"businessPhones", string(directory.UserBusinessPhones), []string{"list"}, false, "Entra keeps one business phone: the first"},
	{"usageLocation", "", nil, false, "the target's usage_location setting"},
	{"accountEnabled", string(directory.UserEnabled), []string{"bool"}, true, "disabled in AD is disabled in Entra"},
}

// FlowRow is one row of a target's flow table, for people and documents.
type FlowRow struct {
	Attribute string `json:"attribute"`
	From      string `json:"from"`
	Note      string `json:"note,omitempty"`
}

// FlowAttributes lists the cloud attributes dirsync writes.
func FlowAttributes() []string {
	var out []string
	for _, f := range flowTable {
		out = append(out, f.attr)
	}
	return out
}

func flowByAttr(name string) (flow, bool) {
	for _, f := range flowTable {
		if strings.EqualFold(f.attr, name) {
			return f, true
		}
	}
	return flow{}, false
}

// FlowTable is the table in force for the settings: the defaults with the
// target's overrides.
func (s Settings) FlowTable() []FlowRow {
	var out []FlowRow
	for _, f := range flowTable {
		from := s.source(f)
		switch {
		case f.attr == "usageLocation":
			from = "usage_location setting"
			if s.UsageLocation != "" {
				from += " (" + s.UsageLocation + ")"
			} else {
				from += " (none set)"
			}
		case from == "":
			from = "(not written)"
		}
		out = append(out, FlowRow{Attribute: f.attr, From: from, Note: f.note})
	}
	return out
}

func (s Settings) source(f flow) string {
	for k, v := range s.Flows {
		if strings.EqualFold(k, f.attr) {
			return v
		}
	}
	return f.def
}

// str reads a string directory attribute of u.
func str(u directory.User, field string) string {
	a := u.UserAttributes
	switch directory.UserField(field) {
	case directory.UserUsername:
		return a.Username
	case directory.UserEmail:
		return a.Email
	case directory.UserDisplayName:
		return a.DisplayName
	case directory.UserGivenName:
		return a.GivenName
	case directory.UserSurname:
		return a.Surname
	case directory.UserJobTitle:
		return a.JobTitle
	case directory.UserDepartment:
		return a.Department
	case directory.UserMobilePhone:
		return a.MobilePhone
	case directory.UserUserType:
		return a.UserType
	case directory.UserImmutableID:
		return a.ImmutableID
	case directory.UserAccountName:
		return a.AccountName
	case directory.UserDN:
		return a.DN
	}
	return ""
}

func list(u directory.User, field string) []string {
	switch directory.UserField(field) {
	case directory.UserBusinessPhones:
		return u.BusinessPhones
	case directory.UserProxyAddresses:
		return u.ProxyAddresses
	case directory.UserLicenses:
		return u.Licenses
	}
	return nil
}

// Anchor is the source anchor dirsync writes to onPremisesImmutableId:
// the base64 of ms-DS-ConsistencyGuid or objectGUID, as the LDAP connector
// reads it from AD; for a source without one, the base64 of the source
// object's id.
func Anchor(u directory.User, sourceID string) string {
	if u.ImmutableID != "" {
		return u.ImmutableID
	}
	for _, l := range u.Sources {
		if l.SourceID == sourceID {
			return base64.StdEncoding.EncodeToString([]byte(l.ExternalID))
		}
	}
	return ""
}

// mailNickname keeps what Entra accepts in a mail nickname: ASCII letters,
// digits and !#$%&'*+-/=?^_`{|}~ and dots not at either end (64 at most).
func mailNickname(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r)) {
			b.WriteRune(r)
		}
	}
	out := strings.Trim(b.String(), ".")
	if len(out) > 64 {
		out = out[:64]
	}
	return out
}

// groupNickname is a security group's mail nickname: its name's letters and
// a short hash of its anchor, so that two groups of one name differ.
func groupNickname(name, anchor string) string {
	base := mailNickname(strings.ReplaceAll(name, " ", ""))
	if len(base) > 50 {
		base = base[:50]
	}
	return base + "-" + anchorMark(anchor)
}

// anchorMark is a short hash of an anchor, the end of the mail nickname of
// every group dirsync creates.
func anchorMark(anchor string) string {
	sum := sha256.Sum256([]byte("dirsync:" + anchor))
	return hex.EncodeToString(sum[:6])
}

// splitUPN returns a UPN's name and domain.
func splitUPN(upn string) (string, string) {
	at := strings.LastIndexByte(upn, '@')
	if at < 0 {
		return upn, ""
	}
	return upn[:at], upn[at+1:]
}

// routeUPN maps a UPN whose suffix is not one of the tenant's verified
// domains to the tenant's initial (.onmicrosoft.com) domain, as Azure AD
// Connect does for a non-routable suffix such as corp.local. With no
// domains known, the UPN is left as it is and Graph decides.
func routeUPN(upn string, verified []string, initial string) string {
	name, domain := splitUPN(upn)
	if domain == "" || len(verified) == 0 || initial == "" {
		return upn
	}
	if slices.ContainsFunc(verified, func(d string) bool { return strings.EqualFold(d, domain) }) {
		return upn
	}
	return name + "@" + initial
}
