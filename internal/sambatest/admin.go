package sambatest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
)

// userAccountControl bits the helpers set.
const (
	uacAccountDisable   = 0x2
	uacPasswdNotReqd    = 0x20
	uacNormalAccount    = 0x200
	uacWorkstationTrust = 0x1000
)

// groupType values (a signed 32-bit integer in AD).
const (
	groupGlobal   = 0x2
	groupSecurity = -0x80000000
)

// Admin changes the test directory as a domain administrator would, with
// LDAP operations over LDAPS. Each method fails the test on error.
type Admin struct {
	t    testing.TB
	dc   *DC
	conn *ldap.Conn
}

// Admin returns an administrator's connection, closed when the test ends.
func (dc *DC) Admin(t testing.TB) *Admin {
	t.Helper()
	conn, err := dc.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Admin{t: t, dc: dc, conn: conn}
}

// Conn is the administrator's LDAP connection, for what the helpers lack.
func (a *Admin) Conn() *ldap.Conn { return a.conn }

// User is a user to create. Empty fields are left unset.
type User struct {
	// CN is the RDN value; it defaults to SAMAccountName.
	CN             string
	SAMAccountName string
	UPN            string
	GivenName      string
	Surname        string
	DisplayName    string
	Mail           string
	ProxyAddresses []string
	Title          string
	Department     string
	Phone          string
	Mobile         string
	// Password, when set, must meet AD's complexity rules. Without one the
	// account is flagged PASSWD_NOTREQD, which is also much faster to create
	// (no key derivation).
	Password string
	Disabled bool
	// AccountExpires is a FILETIME (100 ns since 1601); 0 leaves "never".
	AccountExpires int64
	// Attrs are any other attributes.
	Attrs map[string][]string
}

// Group is a group to create.
type Group struct {
	CN             string
	SAMAccountName string // defaults to CN
	Description    string
	Mail           string
	// Distribution makes a distribution group; the default is a global
	// security group.
	Distribution bool
	Members      []string // DNs
}

// AddOU creates an organizational unit and returns its DN.
func (a *Admin) AddOU(parentDN, name string) string {
	a.t.Helper()
	dn := "OU=" + ldap.EscapeDN(name) + "," + parentDN
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	a.must(a.conn.Add(req), "add OU %s", dn)
	return dn
}

// AddUser creates a user under parentDN and returns its DN.
func (a *Admin) AddUser(parentDN string, u User) string {
	a.t.Helper()
	dn, req := userRequest(parentDN, u)
	a.must(a.conn.Add(req), "add user %s", dn)
	return dn
}

// AddUsers creates many users under parentDN over a few connections at
// once, and returns their DNs in order.
func (a *Admin) AddUsers(parentDN string, users []User) []string {
	a.t.Helper()
	dns := make([]string, len(users))
	const workers = 3
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			conn, err := a.dc.Dial()
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			for i := w; i < len(users); i += workers {
				dn, req := userRequest(parentDN, users[i])
				if err := conn.Add(req); err != nil {
					errs <- fmt.Errorf("add user %s: %w", dn, err)
					return
				}
				dns[i] = dn
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		a.t.Fatalf("sambatest: %v", err)
	}
	return dns
}

func userRequest(parentDN string, u User) (string, *ldap.AddRequest) {
	cn := u.CN
	if cn == "" {
		cn = u.SAMAccountName
	}
	dn := "CN=" + ldap.EscapeDN(cn) + "," + parentDN
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{u.SAMAccountName})
	uac := uacNormalAccount
	if u.Password == "" {
		uac |= uacPasswdNotReqd
	} else {
		req.Attribute("unicodePwd", []string{EncodePassword(u.Password)})
	}
	if u.Disabled {
		uac |= uacAccountDisable
	}
	req.Attribute("userAccountControl", []string{strconv.Itoa(uac)})
	for attr, v := range map[string]string{
		"userPrincipalName": u.UPN, "givenName": u.GivenName, "sn": u.Surname,
		"displayName": u.DisplayName, "mail": u.Mail, "title": u.Title,
		"department": u.Department, "telephoneNumber": u.Phone, "mobile": u.Mobile,
	} {
		if v != "" {
			req.Attribute(attr, []string{v})
		}
	}
	if len(u.ProxyAddresses) > 0 {
		req.Attribute("proxyAddresses", u.ProxyAddresses)
	}
	if u.AccountExpires != 0 {
		req.Attribute("accountExpires", []string{strconv.FormatInt(u.AccountExpires, 10)})
	}
	for attr, v := range u.Attrs {
		req.Attribute(attr, v)
	}
	return dn, req
}

// EncodePassword encodes a password as AD's unicodePwd wants it: the
// quoted string in UTF-16LE. AD accepts it over LDAPS only.
func EncodePassword(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return string(b)
}

// AddGroup creates a group under parentDN and returns its DN.
func (a *Admin) AddGroup(parentDN string, g Group) string {
	a.t.Helper()
	dn := "CN=" + ldap.EscapeDN(g.CN) + "," + parentDN
	sam := g.SAMAccountName
	if sam == "" {
		sam = g.CN
	}
	gt := int32(groupGlobal)
	if !g.Distribution {
		gt |= groupSecurity
	}
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "group"})
	req.Attribute("sAMAccountName", []string{sam})
	req.Attribute("groupType", []string{strconv.Itoa(int(gt))})
	if g.Description != "" {
		req.Attribute("description", []string{g.Description})
	}
	if g.Mail != "" {
		req.Attribute("mail", []string{g.Mail})
	}
	a.must(a.conn.Add(req), "add group %s", dn)
	if len(g.Members) > 0 {
		a.AddMembers(dn, g.Members...)
	}
	return dn
}

// AddComputer creates a computer account (what a group member that is a
// device looks like) and returns its DN.
func (a *Admin) AddComputer(parentDN, name string) string {
	a.t.Helper()
	dn := "CN=" + ldap.EscapeDN(name) + "," + parentDN
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user", "computer"})
	req.Attribute("sAMAccountName", []string{name + "$"})
	req.Attribute("userAccountControl", []string{strconv.Itoa(uacWorkstationTrust | uacPasswdNotReqd)})
	a.must(a.conn.Add(req), "add computer %s", dn)
	return dn
}

// AddContact creates a mail contact and returns its DN.
func (a *Admin) AddContact(parentDN, name, mail string) string {
	a.t.Helper()
	dn := "CN=" + ldap.EscapeDN(name) + "," + parentDN
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "contact"})
	req.Attribute("mail", []string{mail})
	a.must(a.conn.Add(req), "add contact %s", dn)
	return dn
}

// AddMembers adds direct members to a group, a few thousand per request.
func (a *Admin) AddMembers(groupDN string, memberDNs ...string) {
	a.t.Helper()
	a.modifyMembers(groupDN, memberDNs, true)
}

// RemoveMembers removes direct members from a group.
func (a *Admin) RemoveMembers(groupDN string, memberDNs ...string) {
	a.t.Helper()
	a.modifyMembers(groupDN, memberDNs, false)
}

func (a *Admin) modifyMembers(groupDN string, memberDNs []string, add bool) {
	a.t.Helper()
	const chunk = 2000
	for len(memberDNs) > 0 {
		n := min(chunk, len(memberDNs))
		req := ldap.NewModifyRequest(groupDN, nil)
		if add {
			req.Add("member", memberDNs[:n])
		} else {
			req.Delete("member", memberDNs[:n])
		}
		a.must(a.conn.Modify(req), "modify members of %s", groupDN)
		memberDNs = memberDNs[n:]
	}
}

// Replace sets an attribute's values; no values clears it.
func (a *Admin) Replace(dn, attr string, values ...string) {
	a.t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, values)
	a.must(a.conn.Modify(req), "replace %s of %s", attr, dn)
}

// SetEnabled enables or disables an account through userAccountControl.
func (a *Admin) SetEnabled(dn string, enabled bool) {
	a.t.Helper()
	uac, err := strconv.Atoi(a.Get(dn, "userAccountControl"))
	if err != nil {
		a.t.Fatalf("sambatest: userAccountControl of %s: %v", dn, err)
	}
	if enabled {
		uac &^= uacAccountDisable
	} else {
		uac |= uacAccountDisable
	}
	a.Replace(dn, "userAccountControl", strconv.Itoa(uac))
}

// Move renames an entry (newCN is the new RDN value) and/or moves it under
// newParentDN ("" keeps its parent), and returns its new DN.
func (a *Admin) Move(dn, newCN, newParentDN string) string {
	a.t.Helper()
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) < 2 {
		a.t.Fatalf("sambatest: bad DN %q: %v", dn, err)
	}
	// Keep the RDN's attribute type: CN for users and groups, OU for OUs.
	rdn := parsed.RDNs[0].Attributes[0].Type + "=" + ldap.EscapeDN(newCN)
	if newParentDN == "" {
		parsed.RDNs = parsed.RDNs[1:]
		newParentDN = parsed.String()
	}
	req := ldap.NewModifyDNRequest(dn, rdn, true, newParentDN)
	a.must(a.conn.ModifyDN(req), "move %s", dn)
	return rdn + "," + newParentDN
}

// Delete deletes an entry, with everything under it (the tree delete
// control), as a tombstone that DirSync reports.
func (a *Admin) Delete(dn string) {
	a.t.Helper()
	req := ldap.NewDelRequest(dn, []ldap.Control{&ldap.ControlString{ControlType: "1.2.840.113556.1.4.805", Criticality: true}})
	a.must(a.conn.Del(req), "delete %s", dn)
}

// Get returns the first value of an attribute of an entry.
func (a *Admin) Get(dn, attr string) string {
	a.t.Helper()
	e := a.entry(dn, attr)
	return e.GetAttributeValue(attr)
}

// GUID returns an entry's objectGUID as its 16 raw bytes.
func (a *Admin) GUID(dn string) []byte {
	a.t.Helper()
	return a.entry(dn, "objectGUID").GetRawAttributeValue("objectGUID")
}

func (a *Admin) entry(dn, attr string) *ldap.Entry {
	a.t.Helper()
	res, err := a.conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{attr}, nil))
	a.must(err, "read %s of %s", attr, dn)
	if len(res.Entries) != 1 {
		a.t.Fatalf("sambatest: read %s: %d entries", dn, len(res.Entries))
	}
	return res.Entries[0]
}

func (a *Admin) must(err error, format string, args ...any) {
	a.t.Helper()
	if err != nil {
		a.t.Fatalf("sambatest: %s: %v", fmt.Sprintf(format, args...), err)
	}
}

// Deny adds an access control entry to objectDN that denies trusteeDN the
// given rights (SDDL right codes, e.g. "RPLC" for read property and list
// children), inherited by the subtree. It edits the database directly with
// samba-tool dsacl, which the running DC sees at once.
func (a *Admin) Deny(objectDN, trusteeDN, rights string) {
	a.t.Helper()
	sid := SIDString(a.entry(trusteeDN, "objectSid").GetRawAttributeValue("objectSid"))
	tool, err := lookPath("samba-tool")
	if err != nil {
		a.t.Fatalf("sambatest: samba-tool: %v", err)
	}
	cmd := exec.Command(tool, "dsacl", "set", "-H", filepath.Join(a.dc.Dir, "private", "sam.ldb"),
		"-s", filepath.Join(a.dc.Dir, "etc", "smb.conf"), "--objectdn="+objectDN, "--sddl=(D;CI;"+rights+";;;"+sid+")")
	if out, err := cmd.CombinedOutput(); err != nil {
		a.t.Fatalf("sambatest: samba-tool dsacl set: %v\n%s", err, out)
	}
}

// SIDString writes a binary security identifier as S-1-5-21-...
func SIDString(b []byte) string {
	if len(b) < 8 {
		return ""
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	s := fmt.Sprintf("S-%d-%d", b[0], auth)
	for i := 0; i < int(b[1]) && 8+4*i+4 <= len(b); i++ {
		sub := uint32(b[8+4*i]) | uint32(b[9+4*i])<<8 | uint32(b[10+4*i])<<16 | uint32(b[11+4*i])<<24
		s += fmt.Sprintf("-%d", sub)
	}
	return s
}
