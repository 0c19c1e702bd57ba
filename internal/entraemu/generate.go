package entraemu

import (
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The generator fills a tenant deterministically from the seed. The first
// users of every tenant are the awkward cases (non-ASCII names, an
// apostrophe in the UPN, a guest, no mail, disabled, unlicensed, an invalid
// phone), so even a ten-user tenant has them; the rest are drawn at random
// with realistic proportions. Groups cover the shapes a sync must handle:
// a Microsoft 365 group of everyone, nested groups three deep, a nesting
// cycle, groups holding devices, contacts and service principals, an empty
// group, a distribution list, a dynamic group, and, in a large tenant,
// groups of tens of thousands of members.

// Published SKU ids ("Product names and service plan identifiers for
// licensing").
var defaultSkus = []Sku{
	{"05e9a617-0261-4cee-bb44-138d3ef5d965", "SPE_E3", 0},
	{"06ebc4ee-1bb5-47dd-8120-11324bc54e06", "SPE_E5", 0},
	{"6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", 0},
	{"4b9405b0-7788-4568-add1-99614e613b69", "EXCHANGESTANDARD", 0},
	{"a403ebcc-fae0-4ca2-8c8c-7a907fd6c235", "POWER_BI_STANDARD", 0},
	{"f30db892-07e9-47e9-837c-80727f46fd3d", "FLOW_FREE", 0},
}

// swayPlan is a service plan id some users have disabled.
const swayPlan = "a23b959c-7ce8-4e57-9140-b90eb88a9e97"

var genEpoch = time.Date(2019, 4, 1, 8, 0, 0, 0, time.UTC)

type gen struct {
	t       *Tenant
	rng     *mrand.Rand
	upnSeen map[string]int
	users   []*userRec
	byDept  map[string][]string
	byCont  map[string][]string // by continent-ish region
	members []string            // enabled members, not guests
	guests  []string
	devices []string
	contact []string
	sps     []string
}

func generate(t *Tenant, rng *mrand.Rand) {
	g := &gen{t: t, rng: rng, upnSeen: map[string]int{}, byDept: map[string][]string{}, byCont: map[string][]string{}}
	n := t.opts.Users
	t.skus = slices.Clone(defaultSkus)
	for i := range t.skus {
		t.skus[i].PrepaidUnits = roundUp(n+n/10+25, 25)
	}
	g.users = make([]*userRec, 0, n)
	for i := 0; i < n; i++ {
		g.user(i)
	}
	g.objects(n)
	g.groups(t.opts.Groups)
	// Build the sorted id lists and memberOf indexes in one pass each,
	// rather than inserting one by one.
	t.userIDs = make([]string, 0, len(t.users))
	for id := range t.users {
		t.userIDs = append(t.userIDs, id)
	}
	slices.Sort(t.userIDs)
	t.groupIDs = make([]string, 0, len(t.groups))
	for id, gr := range t.groups {
		t.groupIDs = append(t.groupIDs, id)
		slices.SortFunc(gr.members, func(a, b memberRef) int { return strings.Compare(a.id, b.id) })
		gr.members = slices.CompactFunc(gr.members, func(a, b memberRef) bool { return a.id == b.id })
	}
	slices.Sort(t.groupIDs)
	for _, gid := range t.groupIDs {
		for _, m := range t.groups[gid].members {
			if p := t.parentsOf(m.id); p != nil {
				*p = append(*p, gid) // gid ascends, so each list stays sorted
			}
		}
	}
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

func (g *gen) pick(n int) int { return g.rng.IntN(n) }

func (g *gen) chance(percent int) bool { return g.rng.IntN(100) < percent }

func (g *gen) upn(local, domain string) string {
	key := local + "@" + domain
	n := g.upnSeen[key]
	g.upnSeen[key] = n + 1
	if n == 0 {
		return key
	}
	return local + strconv.Itoa(n+1) + "@" + domain
}

// user generates user i. Users 0-9 each carry one awkward trait.
func (g *gen) user(i int) {
	t := g.t
	u := User{ID: newGUID(g.rng), AccountEnabled: true, UserType: "Member"}
	var givenASCII, surnameASCII string
	east := g.chance(6) || i == 4
	switch {
	case i == 0: // non-ASCII given name, apostrophe in the surname and UPN
		u.GivenName, givenASCII, u.Surname, surnameASCII = "Zoë", "zoe", "O'Brien", "o'brien"
	case i == 1:
		u.GivenName, givenASCII, u.Surname, surnameASCII = "Jürgen", "juergen", "Müller", "mueller"
	case east:
		e := eastNames[g.pick(len(eastNames))]
		if i == 4 {
			e = eastNames[0]
		}
		u.GivenName, u.Surname, givenASCII, surnameASCII = e.given, e.surname, e.givenASCII, e.surnameASCII
		u.DisplayName = e.display
	default:
		gn, sn := givenNames[g.pick(len(givenNames))], surnames[g.pick(len(surnames))]
		u.GivenName, givenASCII, u.Surname, surnameASCII = gn.display, gn.ascii, sn.display, sn.ascii
	}
	if u.DisplayName == "" {
		u.DisplayName = u.GivenName + " " + u.Surname
	}
	dept := departments[g.pick(len(departments))]
	loc := locations[g.pick(len(locations))]
	guest := i == 2 || (i >= 10 && g.chance(3))
	if guest {
		// An invited guest: #EXT# UPN in the initial domain, mail at home.
		ext := []string{"fabrikam.example", "partner.example", "gmail.example", "outlook.example"}[g.pick(4)]
		if ext == t.domain {
			// A guest comes from another organization, never the tenant's own.
			ext = "partner.example"
		}
		// One invitation per address: a second Zoë gets another address.
		home := g.upn(givenASCII+"."+surnameASCII, ext)
		u.UserType = "Guest"
		u.UserPrincipalName = strings.ReplaceAll(home, "@", "_") + "#EXT#@" + t.initialDomain
		u.Mail = home
		u.OtherMails = []string{home}
		u.MailNickname = strings.ReplaceAll(home, "@", "_") + "#EXT#"
		u.CreationType = "Invitation"
		u.ExternalUserState = "Accepted"
		if g.chance(20) {
			u.ExternalUserState = "PendingAcceptance"
		}
		u.DisplayName += " (" + strings.SplitN(ext, ".", 2)[0] + ")"
	} else {
		local := givenASCII + "." + surnameASCII
		u.UserPrincipalName = g.upn(local, t.domain)
		u.MailNickname, _, _ = strings.Cut(u.UserPrincipalName, "@")
		noMail := i == 3 || (i >= 10 && g.chance(4))
		if !noMail {
			u.Mail = u.UserPrincipalName
			if g.chance(30) {
				// Exchange keeps the case an admin typed.
				u.Mail = titleLocal(u.UserPrincipalName)
			}
			u.ProxyAddresses = []string{"SMTP:" + u.Mail, "smtp:" + u.MailNickname + "@" + t.initialDomain}
			if g.chance(15) {
				u.ProxyAddresses = append(u.ProxyAddresses, "smtp:"+givenASCII[:1]+strings.ReplaceAll(surnameASCII, "'", "")+"@"+t.domain)
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
		u.CompanyName = t.displayName
		u.EmployeeID = pad(100000+i, 6)
		u.OfficeLocation = loc.city + " " + strconv.Itoa(1+g.pick(40)) + "/" + strconv.Itoa(1000+g.pick(3000))
		if g.chance(40) {
			u.OnPremisesImmutableID = base64.StdEncoding.EncodeToString(binaryGUID(g.rng))
			u.OnPremisesSyncEnabled = true
		}
	}
	u.City, u.Country, u.UsageLocation, u.PreferredLanguage = loc.city, loc.country, loc.usage, loc.language
	if guest {
		u.City, u.Country = "", ""
	}
	// Phones: most have one business phone; some are invalid or national.
	switch {
	case i == 5:
		u.BusinessPhones = []string{invalidPhones[0]}
		u.MobilePhone = invalidPhones[1]
	case guest:
	case g.chance(5):
		u.BusinessPhones = []string{invalidPhones[g.pick(len(invalidPhones))]}
	case g.chance(5):
		u.BusinessPhones = []string{nationalPhones[g.pick(len(nationalPhones))]}
	case g.chance(75):
		u.BusinessPhones = []string{loc.phone(g.rng.IntN(1 << 30))}
	}
	if !guest && i != 5 && g.chance(50) {
		u.MobilePhone = loc.phone(g.rng.IntN(1 << 30))
	}
	if i == 6 || (i >= 10 && g.chance(5)) {
		u.AccountEnabled = false
	}
	// Licenses: guests and about one member in eight have none.
	if !guest && i != 7 && !(i >= 10 && g.chance(12)) {
		r := g.pick(100)
		var skus []int
		switch {
		case r < 60:
			skus = []int{0}
		case r < 75:
			skus = []int{1}
		case r < 85:
			skus = []int{2, 4}
		case r < 95:
			skus = []int{3}
		default:
			skus = []int{0, 5}
		}
		for _, s := range skus {
			l := AssignedLicense{SkuID: t.skus[s].SkuID, DisabledPlans: []string{}}
			if g.chance(10) {
				l.DisabledPlans = []string{swayPlan}
			}
			u.AssignedLicenses = append(u.AssignedLicenses, l)
		}
	}
	u.CreatedDateTime = genEpoch.Add(time.Duration(g.rng.Int64N(int64(5 * 365 * 24 * time.Hour)))).Truncate(time.Second)
	r := &userRec{User: u}
	r.everSet = userProps.everSetMask(&r.User)
	t.users[u.ID] = r
	t.upns[strings.ToLower(u.UserPrincipalName)] = u.ID
	g.users = append(g.users, r)
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

func region(usage string) string {
	switch usage {
	case "US", "CA", "BR":
		return "Americas"
	case "JP", "CN", "KR", "IN", "AU":
		return "APAC"
	}
	return "EMEA"
}

// titleLocal capitalizes each dot-separated part of an address's local
// part: zoe.o'brien@x becomes Zoe.O'brien@x.
func titleLocal(addr string) string {
	local, domain, _ := strings.Cut(addr, "@")
	parts := strings.Split(local, ".")
	for i, p := range parts {
		if p != "" && p[0] >= 'a' && p[0] <= 'z' {
			parts[i] = string(p[0]-32) + p[1:]
		}
	}
	return strings.Join(parts, ".") + "@" + domain
}

func binaryGUID(rng *mrand.Rand) []byte {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// objects generates devices, contacts and service principals.
func (g *gen) objects(users int) {
	oses := [][2]string{{"Windows", "10.0.22631.3880"}, {"Windows", "10.0.19045.4651"}, {"MacMDM", "14.5"}, {"iOS", "17.5.1"}, {"Android", "14.0"}}
	for i := 0; i < max(3, users/20); i++ {
		os := oses[g.pick(len(oses))]
		o := &Object{ID: newGUID(g.rng), DisplayName: fmt.Sprintf("DESKTOP-%s", strings.ToUpper(pad(g.rng.IntN(1<<30), 7))), DeviceID: newGUID(g.rng), OperatingSystem: os[0], OSVersion: os[1], AccountEnabled: true, CreatedDateTime: genEpoch}
		if i == 0 {
			o.DisplayName = "Konferenzraum Zürich"
		}
		g.t.addObjectLocked(o, kDevice, g.rng)
		g.devices = append(g.devices, o.ID)
	}
	for i := 0; i < max(3, users/50); i++ {
		gn, sn := givenNames[g.pick(len(givenNames))], surnames[g.pick(len(surnames))]
		o := &Object{ID: newGUID(g.rng), DisplayName: gn.display + " " + sn.display, GivenName: gn.display, Surname: sn.display, Mail: gn.ascii + "." + sn.ascii + "@supplier.example", CompanyName: "Supplier GmbH", CreatedDateTime: genEpoch}
		g.t.addObjectLocked(o, kContact, g.rng)
		g.contact = append(g.contact, o.ID)
	}
	for i, name := range []string{"Payroll Export", "Backup Agent", "HR Connector", "Build Pipeline", "Ticketing Integration"} {
		o := &Object{ID: newGUID(g.rng), DisplayName: name, AppID: newGUID(g.rng), AccountEnabled: i != 4, CreatedDateTime: genEpoch}
		g.t.addObjectLocked(o, kSP, g.rng)
		g.sps = append(g.sps, o.ID)
	}
}

// groupSpec is a group to generate: its properties, its members, and the
// indexes of the specs whose groups it contains.
type groupSpec struct {
	g       Group
	members []memberRef
	nested  []int
}

func (g *gen) groups(m int) {
	if m == 0 {
		return
	}
	var specs []*groupSpec
	add := func(gr Group, members []memberRef, nested ...int) int {
		specs = append(specs, &groupSpec{g: gr, members: members, nested: nested})
		return len(specs) - 1
	}
	users := func(ids []string) []memberRef {
		out := make([]memberRef, len(ids))
		for i, id := range ids {
			out[i] = memberRef{id, kUser}
		}
		return out
	}
	objs := func(ids []string, k objKind) []memberRef {
		out := make([]memberRef, len(ids))
		for i, id := range ids {
			out[i] = memberRef{id, k}
		}
		return out
	}
	sample := func(ids []string, n int) []string {
		if len(ids) == 0 {
			return nil
		}
		out := make([]string, 0, n)
		for i := 0; i < n; i++ {
			out = append(out, ids[g.pick(len(ids))])
		}
		return out
	}
	unified := func(name, nick, desc string) Group {
		return Group{DisplayName: name, MailNickname: nick, Description: desc, GroupTypes: []string{"Unified"}, MailEnabled: true, Visibility: "Public"}
	}
	security := func(name, nick, desc string) Group {
		return Group{DisplayName: name, MailNickname: nick, Description: desc, SecurityEnabled: true}
	}
	deptGroup := func(d string) Group {
		return security("Dept - "+d, "dept-"+nickname(d), "Everyone in "+d)
	}

	// In priority order: a small tenant keeps the first m.
	add(unified("All Employees", "allemployees", "This is the default group for everyone in the network"), users(g.members))
	leads := add(security("Engineering Leads", "engleads", "Leads of engineering teams"), users(sample(g.byDept["Engineering"], 5)))
	eng := add(deptGroup("Engineering"), users(g.byDept["Engineering"]), leads)
	add(security("Product & Engineering", "producteng", "Engineering and product management, nested"), users(sample(g.members, 3)), eng)
	cycleA := add(security("Cycle A", "cyclea", "Nested in Cycle B, which is nested in this one"), users(sample(g.members, 4)))
	cycleB := add(security("Cycle B", "cycleb", "Nested in Cycle A, which is nested in this one"), users(sample(g.members, 4)), cycleA)
	specs[cycleA].nested = append(specs[cycleA].nested, cycleB)
	add(security("Conference Rooms & Devices", "roomsdevices", "Devices of meeting rooms"), append(objs(g.devices, kDevice), users(sample(g.members, 2))...))
	add(security("External Partners", "partners", "Partner contacts and guests"), append(objs(g.contact, kContact), users(g.guests)...))
	add(security("Automation Accounts", "automation", "Service principals with access"), append(objs(g.sps, kSP), users(sample(g.members, 2))...))
	add(security("Empty Group", "emptygroup", "No members"), nil)
	add(unified("Équipe Montréal", "equipemontreal", "L'équipe de Montréal"), users(sample(g.members, 8)))
	add(security("O'Neill Project", "oneillproject", "Project with an apostrophe"), users(sample(g.members, 6)))
	add(unified("東京オフィス", "tokyooffice", "東京オフィスのメンバー"), users(sample(g.byCont["APAC"], 6)))
	dl := Group{DisplayName: "Newsletter Subscribers", MailNickname: "newsletter", Description: "Distribution list", MailEnabled: true}
	add(dl, append(users(sample(g.members, 10)), objs(sample(g.contact, 2), kContact)...))
	fa := security("Finance Approvers", "financeapprovers", "Mail-enabled security group")
	fa.MailEnabled = true
	add(fa, users(sample(g.byDept["Finance"], 4)))
	dyn := security("Sales (dynamic)", "salesdynamic", "Dynamic membership by department")
	dyn.GroupTypes = []string{"DynamicMembership"}
	dyn.MembershipRule = `(user.department -eq "Sales")`
	dyn.MembershipRuleProcessingState = "On"
	add(dyn, users(g.byDept["Sales"]))
	for _, d := range departments {
		if d.name != "Engineering" {
			add(deptGroup(d.name), users(g.byDept[d.name]))
		}
	}
	for _, r := range []string{"Americas", "EMEA", "APAC"} {
		add(unified("Region - "+r, "region"+strings.ToLower(r), "Everyone in "+r), users(g.byCont[r]))
	}
	fixed := len(specs)
	for i := 0; len(specs) < m; i++ {
		word := projectWords[g.pick(len(projectWords))]
		var gr Group
		if g.chance(20) {
			gr = unified(fmt.Sprintf("Team %s %d", word, i+1), fmt.Sprintf("team%s%d", strings.ToLower(word), i+1), "Team workspace")
		} else {
			gr = security(fmt.Sprintf("Project %s %d", word, i+1), fmt.Sprintf("project%s%d", strings.ToLower(word), i+1), "Project access")
		}
		size := 2 + g.pick(40)
		if g.chance(10) {
			size += g.pick(200)
		}
		var nested []int
		// Nest only earlier random groups, so the one cycle is the one above.
		if len(specs) > fixed && g.chance(10) {
			nested = []int{fixed + g.pick(len(specs)-fixed)}
		}
		add(gr, users(sample(g.members, size)), nested...)
	}
	if len(specs) > m {
		specs = specs[:m]
	}
	ids := make([]string, len(specs))
	for i, s := range specs {
		ids[i] = newGUID(g.rng)
		gr := s.g
		gr.ID = ids[i]
		if gr.MailEnabled {
			gr.Mail = gr.MailNickname + "@" + g.t.domain
			gr.ProxyAddresses = []string{"SMTP:" + gr.Mail, "smtp:" + gr.MailNickname + "@" + g.t.initialDomain}
		}
		gr.SecurityIdentifier = sidFromGUID(gr.ID)
		gr.CreatedDateTime = genEpoch.Add(time.Duration(g.rng.Int64N(int64(4 * 365 * 24 * time.Hour)))).Truncate(time.Second)
		if g.chance(10) && !gr.IsUnified() {
			gr.OnPremisesSyncEnabled = true
			gr.OnPremisesSamAccountName = gr.MailNickname
		}
		r := &groupRec{Group: gr, members: s.members}
		r.everSet = groupProps.everSetMask(&r.Group)
		g.t.groups[gr.ID] = r
	}
	for i, s := range specs {
		r := g.t.groups[ids[i]]
		for _, n := range s.nested {
			if n < len(ids) {
				r.members = append(r.members, memberRef{ids[n], kGroup})
			}
		}
	}
}
