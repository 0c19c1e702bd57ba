// Package gen generates an emulated tenant's directory deterministically
// from a seed. The first users of every tenant are the awkward cases
// (non-ASCII names, an apostrophe in the UPN, a guest, no mail, disabled,
// unlicensed, an invalid phone), so even a ten-user tenant has them; the
// rest are drawn at random with realistic proportions. Groups cover the
// shapes a sync must handle: a Microsoft 365 group of everyone, nested
// groups three deep, a nesting cycle, groups holding devices, contacts and
// service principals, an empty group, a distribution list, a dynamic group,
// and, in a large tenant, groups of tens of thousands of members.
package gen

import (
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// Spec says what to generate.
type Spec struct {
	Users, Groups int
	// Domain is the primary verified domain, InitialDomain the
	// *.onmicrosoft.com one (guests' UPNs), DisplayName the organization's
	// name (users' companyName).
	Domain, InitialDomain, DisplayName string
	// TenantID owns the apps of the generated service principals.
	TenantID string
}

// Dataset is a generated directory.
type Dataset struct {
	Users   []model.User
	Groups  []Group
	Objects []Object // devices, contacts, service principals
	Skus    []model.Sku
}

// Group is a generated group with its direct members.
type Group struct {
	model.Group
	Members []model.Ref
}

// Object is a generated device, contact or service principal.
type Object struct {
	model.Object
	Kind model.ObjKind
}

// Org returns an organization's domain label and display name for a seed,
// such as "contoso" and "Contoso Ltd.".
func Org(seed int64) (name, display string) {
	o := orgNames[int(uint64(seed)%uint64(len(orgNames)))]
	return o.name, o.display
}

// epoch is when generated objects start to have been created.
var epoch = time.Date(2019, 4, 1, 8, 0, 0, 0, time.UTC)

type gen struct {
	spec    Spec
	rng     *mrand.Rand
	ds      *Dataset
	upnSeen map[string]int
	byDept  map[string][]string
	byCont  map[string][]string // by continent-ish region
	members []string            // enabled members, not guests
	guests  []string
	devices []string
	contact []string
	sps     []string
}

// Generate draws a directory from rng: the same rng state and spec give the
// same objects with the same ids.
func Generate(spec Spec, rng *mrand.Rand) *Dataset {
	g := &gen{spec: spec, rng: rng, ds: &Dataset{}, upnSeen: map[string]int{}, byDept: map[string][]string{}, byCont: map[string][]string{}}
	n := spec.Users
	g.ds.Skus = skus(roundUp(n+n/10+25, 25))
	g.ds.Users = make([]model.User, 0, n)
	for i := 0; i < n; i++ {
		g.user(i)
	}
	g.objects(n)
	g.groups(spec.Groups)
	return g.ds
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
	add := func(o model.Object, k model.ObjKind) string {
		o.Kind, o.CreatedDateTime = k.String(), epoch
		g.ds.Objects = append(g.ds.Objects, Object{Object: o, Kind: k})
		return o.ID
	}
	for i := 0; i < max(3, users/20); i++ {
		os := oses[g.pick(len(oses))]
		o := model.Object{ID: model.NewGUID(g.rng), DisplayName: "DESKTOP-" + strings.ToUpper(pad(g.rng.IntN(1<<30), 7)), DeviceID: model.NewGUID(g.rng), OperatingSystem: os[0], OSVersion: os[1], AccountEnabled: true}
		if i == 0 {
			o.DisplayName = "Konferenzraum Zürich"
		}
		g.devices = append(g.devices, add(o, model.ObjDevice))
	}
	for i := 0; i < max(3, users/50); i++ {
		gn, sn := givenNames[g.pick(len(givenNames))], surnames[g.pick(len(surnames))]
		o := model.Object{ID: model.NewGUID(g.rng), DisplayName: gn.display + " " + sn.display, GivenName: gn.display, Surname: sn.display, Mail: gn.ascii + "." + sn.ascii + "@supplier.example", MailNickname: gn.ascii + "." + sn.ascii, CompanyName: "Supplier GmbH", Department: "Sales", JobTitle: "Account Manager"}
		g.contact = append(g.contact, add(o, model.ObjContact))
	}
	for i, name := range []string{"Payroll Export", "Backup Agent", "HR Connector", "Build Pipeline", "Ticketing Integration"} {
		o := model.Object{ID: model.NewGUID(g.rng), DisplayName: name, AppID: model.NewGUID(g.rng), AccountEnabled: i != 4, PublisherName: g.spec.DisplayName, AppOwnerOrganizationID: g.spec.TenantID}
		o.ServicePrincipalNames = []string{o.AppID}
		g.sps = append(g.sps, add(o, model.ObjServicePrincipal))
	}
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

func region(usage string) string {
	switch usage {
	case "US", "CA", "BR":
		return "Americas"
	case "JP", "CN", "KR", "IN", "AU":
		return "APAC"
	}
	return "EMEA"
}
