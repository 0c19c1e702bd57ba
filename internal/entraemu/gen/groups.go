package gen

import (
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// spec is a group to generate: its properties, its members, and the
// indexes of the specs whose groups it contains.
type spec struct {
	g       model.Group
	members []model.Ref
	nested  []int
}

type specs []*spec

func (s *specs) add(gr model.Group, members []model.Ref, nested ...int) int {
	*s = append(*s, &spec{g: gr, members: members, nested: nested})
	return len(*s) - 1
}

func refs(ids []string, k model.ObjKind) []model.Ref {
	out := make([]model.Ref, len(ids))
	for i, id := range ids {
		out[i] = model.Ref{ID: id, Kind: k}
	}
	return out
}

func users(ids []string) []model.Ref { return refs(ids, model.ObjUser) }

// sample draws n ids from ids, with repeats.
func (g *gen) sample(ids []string, n int) []string {
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, ids[g.pick(len(ids))])
	}
	return out
}

func unified(name, nick, desc string) model.Group {
	return model.Group{DisplayName: name, MailNickname: nick, Description: desc, GroupTypes: []string{"Unified"}, MailEnabled: true, Visibility: "Public"}
}

func security(name, nick, desc string) model.Group {
	return model.Group{DisplayName: name, MailNickname: nick, Description: desc, SecurityEnabled: true}
}

func deptGroup(d string) model.Group {
	return security("Dept - "+d, "dept-"+model.Nickname(d), "Everyone in "+d)
}

func (g *gen) groups(m int) {
	if m == 0 {
		return
	}
	var s specs
	g.shapes(&s)
	g.specialGroups(&s)
	fixed := len(s)
	for i := 0; len(s) < m; i++ {
		g.project(&s, i, fixed)
	}
	if len(s) > m {
		s = s[:m]
	}
	g.materialize(s)
}

// shapes adds the groups of awkward shapes, in priority order: a small
// tenant keeps the first ones.
func (g *gen) shapes(s *specs) {
	s.add(unified("All Employees", "allemployees", "This is the default group for everyone in the network"), users(g.members))
	leads := s.add(security("Engineering Leads", "engleads", "Leads of engineering teams"), users(g.sample(g.byDept["Engineering"], 5)))
	eng := s.add(deptGroup("Engineering"), users(g.byDept["Engineering"]), leads)
	s.add(security("Product & Engineering", "producteng", "Engineering and product management, nested"), users(g.sample(g.members, 3)), eng)
	cycleA := s.add(security("Cycle A", "cyclea", "Nested in Cycle B, which is nested in this one"), users(g.sample(g.members, 4)))
	cycleB := s.add(security("Cycle B", "cycleb", "Nested in Cycle A, which is nested in this one"), users(g.sample(g.members, 4)), cycleA)
	(*s)[cycleA].nested = append((*s)[cycleA].nested, cycleB)
	s.add(security("Conference Rooms & Devices", "roomsdevices", "Devices of meeting rooms"), append(refs(g.devices, model.ObjDevice), users(g.sample(g.members, 2))...))
	s.add(security("External Partners", "partners", "Partner contacts and guests"), append(refs(g.contact, model.ObjContact), users(g.guests)...))
	s.add(security("Automation Accounts", "automation", "Service principals with access"), append(refs(g.sps, model.ObjServicePrincipal), users(g.sample(g.members, 2))...))
	s.add(security("Empty Group", "emptygroup", "No members"), nil)
	s.add(unified("Équipe Montréal", "equipemontreal", "L'équipe de Montréal"), users(g.sample(g.members, 8)))
	s.add(security("O'Neill Project", "oneillproject", "Project with an apostrophe"), users(g.sample(g.members, 6)))
	s.add(unified("東京オフィス", "tokyooffice", "東京オフィスのメンバー"), users(g.sample(g.byCont["APAC"], 6)))
}

// specialGroups adds a distribution list, a mail-enabled security group, a
// dynamic group, and groups by department and by region.
func (g *gen) specialGroups(s *specs) {
	dl := model.Group{DisplayName: "Newsletter Subscribers", MailNickname: "newsletter", Description: "Distribution list", MailEnabled: true}
	s.add(dl, append(users(g.sample(g.members, 10)), refs(g.sample(g.contact, 2), model.ObjContact)...))
	fa := security("Finance Approvers", "financeapprovers", "Mail-enabled security group")
	fa.MailEnabled = true
	s.add(fa, users(g.sample(g.byDept["Finance"], 4)))
	dyn := security("Sales (dynamic)", "salesdynamic", "Dynamic membership by department")
	dyn.GroupTypes = []string{"DynamicMembership"}
	dyn.MembershipRule = `(user.department -eq "Sales")`
	dyn.MembershipRuleProcessingState = "On"
	s.add(dyn, users(g.byDept["Sales"]))
	for _, d := range departments {
		if d.name != "Engineering" {
			s.add(deptGroup(d.name), users(g.byDept[d.name]))
		}
	}
	for _, r := range []string{"Americas", "EMEA", "APAC"} {
		s.add(unified("Region - "+r, "region"+strings.ToLower(r), "Everyone in "+r), users(g.byCont[r]))
	}
}

// project adds random project or team group i; it nests only earlier
// random groups, so the one cycle is the one of shapes.
func (g *gen) project(s *specs, i, fixed int) {
	word := projectWords[g.pick(len(projectWords))]
	var gr model.Group
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
	if len(*s) > fixed && g.chance(10) {
		nested = []int{fixed + g.pick(len(*s)-fixed)}
	}
	s.add(gr, users(g.sample(g.members, size)), nested...)
}

// materialize gives the specs ids, mail, SIDs and dates, and resolves
// their nesting.
func (g *gen) materialize(s specs) {
	ids := make([]string, len(s))
	for i, sp := range s {
		ids[i] = model.NewGUID(g.rng)
		gr := sp.g
		gr.ID = ids[i]
		if gr.MailEnabled {
			gr.Mail = gr.MailNickname + "@" + g.spec.Domain
			gr.ProxyAddresses = []string{"SMTP:" + gr.Mail, "smtp:" + gr.MailNickname + "@" + g.spec.InitialDomain}
		}
		gr.SecurityIdentifier = model.SIDFromGUID(gr.ID)
		gr.CreatedDateTime = epoch.Add(time.Duration(g.rng.Int64N(int64(4 * 365 * 24 * time.Hour)))).Truncate(time.Second)
		if g.chance(10) && !gr.IsUnified() {
			gr.OnPremisesSyncEnabled = true
			gr.OnPremisesSamAccountName = gr.MailNickname
		}
		g.ds.Groups = append(g.ds.Groups, Group{Group: gr, Members: sp.members})
	}
	for i, sp := range s {
		for _, n := range sp.nested {
			if n < len(ids) {
				g.ds.Groups[i].Members = append(g.ds.Groups[i].Members, model.Ref{ID: ids[n], Kind: model.ObjGroup})
			}
		}
	}
}
