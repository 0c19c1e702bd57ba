package gen

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// user generates user i. Users 0-9 each carry one awkward trait. The order
// of the random draws is part of what a seed means: keep it.
func (g *gen) user(i int) {
	u := model.User{ID: model.NewGUID(g.rng), AccountEnabled: true, UserType: "Member"}
	given, surname := g.name(&u, i)
	dept := departments[g.pick(len(departments))]
	loc := locations[g.pick(len(locations))]
	guest := i == 2 || (i >= 10 && g.chance(3))
	if guest {
		g.guest(&u, given, surname)
	} else {
		g.member(&u, i, given, surname, dept, loc)
	}
	u.City, u.Country, u.UsageLocation, u.PreferredLanguage = loc.city, loc.country, loc.usage, loc.language
	if guest {
		u.City, u.Country = "", ""
	}
	g.phones(&u, i, guest, loc)
	if i == 6 || (i >= 10 && g.chance(5)) {
		u.AccountEnabled = false
	}
	// Licenses: guests and about one member in eight have none.
	if !guest && i != 7 && !(i >= 10 && g.chance(12)) {
		g.licenses(&u)
	}
	u.CreatedDateTime = epoch.Add(time.Duration(g.rng.Int64N(int64(5 * 365 * 24 * time.Hour)))).Truncate(time.Second)
	g.ds.Users = append(g.ds.Users, u)
	g.index(&u, guest)
}

// name sets the user's names and returns their ASCII forms for the UPN.
func (g *gen) name(u *model.User, i int) (given, surname string) {
	east := g.chance(6) || i == 4
	switch {
	case i == 0: // non-ASCII given name, apostrophe in the surname and UPN
		u.GivenName, given, u.Surname, surname = "Zoë", "zoe", "O'Brien", "o'brien"
	case i == 1:
		u.GivenName, given, u.Surname, surname = "Jürgen", "juergen", "Müller", "mueller"
	case east:
		e := eastNames[g.pick(len(eastNames))]
		if i == 4 {
			e = eastNames[0]
		}
		u.GivenName, u.Surname, given, surname = e.given, e.surname, e.givenASCII, e.surnameASCII
		u.DisplayName = e.display
	default:
		gn, sn := givenNames[g.pick(len(givenNames))], surnames[g.pick(len(surnames))]
		u.GivenName, given, u.Surname, surname = gn.display, gn.ascii, sn.display, sn.ascii
	}
	if u.DisplayName == "" {
		u.DisplayName = u.GivenName + " " + u.Surname
	}
	return given, surname
}

// guest makes u an invited guest: #EXT# UPN in the initial domain, mail at
// home.
func (g *gen) guest(u *model.User, given, surname string) {
	ext := []string{"fabrikam.example", "partner.example", "gmail.example", "outlook.example"}[g.pick(4)]
	if ext == g.spec.Domain {
		// A guest comes from another organization, never the tenant's own.
		ext = "partner.example"
	}
	// One invitation per address: a second Zoë gets another address.
	home := g.upn(given+"."+surname, ext)
	u.UserType = "Guest"
	u.UserPrincipalName = strings.ReplaceAll(home, "@", "_") + "#EXT#@" + g.spec.InitialDomain
	u.Mail = home
	u.OtherMails = []string{home}
	u.MailNickname = strings.ReplaceAll(home, "@", "_") + "#EXT#"
	u.CreationType = "Invitation"
	u.ExternalUserState = "Accepted"
	if g.chance(20) {
		u.ExternalUserState = "PendingAcceptance"
	}
	u.DisplayName += " (" + strings.SplitN(ext, ".", 2)[0] + ")"
}

// member makes u a member of the organization: UPN in the primary domain,
// mail and proxy addresses (most of the time), job and office.
func (g *gen) member(u *model.User, i int, given, surname string, dept department, loc location) {
	d := g.spec.Domain
	u.UserPrincipalName = g.upn(given+"."+surname, d)
	u.MailNickname, _, _ = strings.Cut(u.UserPrincipalName, "@")
	noMail := i == 3 || (i >= 10 && g.chance(4))
	if !noMail {
		u.Mail = u.UserPrincipalName
		if g.chance(30) {
			// Exchange keeps the case an admin typed.
			u.Mail = titleLocal(u.UserPrincipalName)
		}
		u.ProxyAddresses = []string{"SMTP:" + u.Mail, "smtp:" + u.MailNickname + "@" + g.spec.InitialDomain}
		if g.chance(15) {
			u.ProxyAddresses = append(u.ProxyAddresses, "smtp:"+given[:1]+strings.ReplaceAll(surname, "'", "")+"@"+d)
		}
	}
	u.Department = dept.name
	u.JobTitle = dept.titles[g.pick(len(dept.titles))]
	if g.chance(5) {
		u.Department = ""
	}
	if g.chance(4) {
		u.JobTitle = ""
	}
	u.CompanyName = g.spec.DisplayName
	u.EmployeeID = pad(100000+i, 6)
	u.OfficeLocation = loc.city + " " + strconv.Itoa(1+g.pick(40)) + "/" + strconv.Itoa(1000+g.pick(3000))
	if g.chance(40) {
		u.OnPremisesImmutableID = base64.StdEncoding.EncodeToString(binaryGUID(g.rng))
		u.OnPremisesSyncEnabled = true
	}
}

// phones: most have one business phone; some are invalid or national.
func (g *gen) phones(u *model.User, i int, guest bool, loc location) {
	switch {
	case i == 5:
		u.BusinessPhones = []string{InvalidPhones[0]}
		u.MobilePhone = InvalidPhones[1]
	case guest:
	case g.chance(5):
		u.BusinessPhones = []string{InvalidPhones[g.pick(len(InvalidPhones))]}
	case g.chance(5):
		u.BusinessPhones = []string{nationalPhones[g.pick(len(nationalPhones))]}
	case g.chance(75):
		u.BusinessPhones = []string{loc.phone(g.rng.IntN(1 << 30))}
	}
	if !guest && i != 5 && g.chance(50) {
		u.MobilePhone = loc.phone(g.rng.IntN(1 << 30))
	}
}

func (g *gen) licenses(u *model.User) {
	var picks []int
	switch r := g.pick(100); {
	case r < 60:
		picks = []int{0}
	case r < 75:
		picks = []int{1}
	case r < 85:
		picks = []int{2, 4}
	case r < 95:
		picks = []int{3}
	default:
		picks = []int{0, 5}
	}
	for _, s := range picks {
		l := model.AssignedLicense{SkuID: g.ds.Skus[s].SkuID, DisabledPlans: []string{}}
		if g.chance(10) {
			l.DisabledPlans = []string{g.ds.Skus[s].ServicePlans[0].ID}
		}
		u.AssignedLicenses = append(u.AssignedLicenses, l)
	}
}

// index files the user under the lists groups are drawn from.
func (g *gen) index(u *model.User, guest bool) {
	if guest {
		g.guests = append(g.guests, u.ID)
		return
	}
	if u.AccountEnabled {
		g.members = append(g.members, u.ID)
	}
	if u.Department != "" {
		g.byDept[u.Department] = append(g.byDept[u.Department], u.ID)
	}
	g.byCont[region(u.UsageLocation)] = append(g.byCont[region(u.UsageLocation)], u.ID)
}
