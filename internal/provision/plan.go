package provision

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Operations of an export plan.
const (
	OpCreateUser   = "create_user"
	OpUpdateUser   = "update_user"
	OpDeleteUser   = "delete_user"
	OpCreateGroup  = "create_group"
	OpUpdateGroup  = "update_group"
	OpDeleteGroup  = "delete_group"
	OpAddMember    = "add_member"
	OpRemoveMember = "remove_member"
	// OpError is an object the plan cannot export (a cloud user anchored
	// to another object); OpSkip one it leaves out on purpose.
	OpError = "error"
	OpSkip  = "skip"
)

// Step outcomes.
const (
	OutcomeDone    = "done"
	OutcomeFailed  = "failed"
	OutcomePlanned = "planned" // staging, or a run stopped before applying
)

// Step is one write of an export plan, and what became of it.
type Step struct {
	Op     string `json:"op"`
	Kind   string `json:"kind"`
	Anchor string `json:"anchor,omitempty"`
	// Object is the object's name for people: a UPN, a group's name.
	Object  string `json:"object"`
	CloudID string `json:"cloud_id,omitempty"`
	// Match says how an existing cloud user was found: hard (by its
	// onPremisesImmutableId) or soft (by userPrincipalName or mail, then
	// anchored).
	Match   string                 `json:"match,omitempty"`
	Changes []directory.AttrChange `json:"changes,omitempty"`
	// Member is the member an add_member or remove_member step is about.
	Member       string `json:"member,omitempty"`
	MemberKind   string `json:"member_kind,omitempty"`
	MemberAnchor string `json:"-"`
	MemberID     string `json:"member_cloud_id,omitempty"`
	Note         string `json:"note,omitempty"`
	Outcome      string `json:"outcome,omitempty"`
	// Code and Error are Graph's (or dirsync's) error, when the step failed.
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
	// Attribute and Value name what the error is about, when known.
	Attribute string `json:"attribute,omitempty"`
	Value     string `json:"value,omitempty"`

	want    map[string]any // the properties to write
	groupOf string         // a member step's group anchor
}

// Plan is an export plan.
type Plan struct {
	Steps []Step
	// links are the matches the plan found: anchors to record with the
	// cloud objects they were matched to.
	links []store.TargetLink
}

// Counts summarizes a plan by operation.
func (p *Plan) Counts() map[string]int {
	out := map[string]int{}
	for _, s := range p.Steps {
		out[s.Op]++
	}
	return out
}

// Deletions counts the plan's deletions of users and groups.
func (p *Plan) Deletions() int {
	n := 0
	for _, s := range p.Steps {
		if s.Op == OpDeleteUser || s.Op == OpDeleteGroup {
			n++
		}
	}
	return n
}

// noteProxies is said of a user whose proxyAddresses the directory has.
const noteProxies = "proxyAddresses not written: read-only in Graph (Exchange Online owns it)"

// cloudIndex finds cloud users by the ways an export matches them.
type cloudIndex struct {
	byAnchor, byUPN, byMail map[string]string // -> cloud id
}

func indexUsers(users map[string]object) cloudIndex {
	ix := cloudIndex{byAnchor: map[string]string{}, byUPN: map[string]string{}, byMail: map[string]string{}}
	for _, id := range sortedKeys(users) {
		u := users[id]
		if a := u.str("onPremisesImmutableId"); a != "" {
			ix.byAnchor[a] = id
		}
		if upn := strings.ToLower(u.str("userPrincipalName")); upn != "" {
			ix.byUPN[upn] = id
		}
		if m := strings.ToLower(u.str("mail")); m != "" {
			ix.byMail[m] = id
		}
	}
	return ix
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// planner computes a plan.
type planner struct {
	c     *cloud
	links map[string]map[string]string // kind -> anchor -> cloud id
	owner map[string]string            // cloud id -> anchor, for linked objects
	plan  *Plan
}

// makePlan compares what the tenant should hold with what it holds.
func makePlan(d *desired, c *cloud, links []store.TargetLink) *Plan {
	p := &planner{c: c, links: map[string]map[string]string{kindUser: {}, kindGroup: {}}, owner: map[string]string{}, plan: &Plan{}}
	for _, l := range links {
		p.links[l.Kind][l.Anchor] = l.CloudID
		p.owner[l.CloudID] = l.Anchor
	}
	p.plan.Steps = append(p.plan.Steps, d.skipped...)
	p.users(d.users)
	p.groups(d.groups)
	return p.plan
}

func (p *planner) users(want []wantUser) {
	ix := indexUsers(p.c.users)
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w.anchor] = true
		upn, _ := w.props["userPrincipalName"].(string)
		step := Step{Kind: kindUser, Anchor: w.anchor, Object: upn, want: w.props}
		if w.proxies {
			step.Note = noteProxies
		}
		id, linked := p.links[kindUser][w.anchor]
		if linked && p.c.users[id] == nil {
			linked = false // deleted in the cloud: created again
		}
		if !linked {
			var match string
			id, match, step = p.match(ix, w, step)
			if step.Op == OpError {
				p.plan.Steps = append(p.plan.Steps, step)
				continue
			}
			step.Match = match
			if id != "" {
				p.plan.links = append(p.plan.links, store.TargetLink{Kind: kindUser, Anchor: w.anchor, CloudID: id})
				p.owner[id] = w.anchor
			}
		}
		if id == "" {
			step.Op = OpCreateUser
			step.want = withAnchor(w.props, w.anchor)
			step.Changes = changesOf(nil, step.want)
			p.plan.Steps = append(p.plan.Steps, step)
			continue
		}
		step.CloudID = id
		have := p.c.users[id]
		target := w.props
		if step.Match == "soft" {
			target = withAnchor(w.props, w.anchor)
		}
		diff := map[string]any{}
		for _, k := range sortedKeys(target) {
			if !same(have[k], target[k]) {
				diff[k] = target[k]
			}
		}
		step.want = diff
		step.Changes = changesOf(have, diff)
		if len(diff) > 0 || step.Match != "" {
			step.Op = OpUpdateUser
			p.plan.Steps = append(p.plan.Steps, step)
		}
	}
	for _, anchor := range sortedKeys(p.links[kindUser]) {
		id := p.links[kindUser][anchor]
		if wanted[anchor] || p.c.users[id] == nil {
			continue
		}
		p.plan.Steps = append(p.plan.Steps, Step{Op: OpDeleteUser, Kind: kindUser, Anchor: anchor, CloudID: id,
			Object: p.c.users[id].str("userPrincipalName"), Note: "soft delete: restorable from deleted items for 30 days"})
	}
}

// match finds the cloud user for an unlinked directory user: by anchor
// (hard), else by UPN then mail (soft) when that user has no anchor. A
// user anchored to another object is an error step, never overwritten.
func (p *planner) match(ix cloudIndex, w wantUser, step Step) (string, string, Step) {
	if id, ok := ix.byAnchor[w.anchor]; ok {
		return id, "hard", step
	}
	upn, _ := w.props["userPrincipalName"].(string)
	mail, _ := w.props["mail"].(string)
	for _, by := range []struct{ attr, value, id string }{
		{"userPrincipalName", upn, ix.byUPN[strings.ToLower(upn)]},
		{"mail", mail, ix.byMail[strings.ToLower(mail)]},
	} {
		if by.value == "" || by.id == "" {
			continue
		}
		cu := p.c.users[by.id]
		other := cu.str("onPremisesImmutableId")
		if other == "" {
			if owner, taken := p.owner[by.id]; taken && owner != w.anchor {
				step.Op, step.Code, step.Attribute, step.Value, step.CloudID = OpError, "DuplicateValue", by.attr, by.value, by.id
				step.Error = fmt.Sprintf("%s %s is already used by another object dirsync exports (%s)", by.attr, by.value, owner)
				return "", "", step
			}
			return by.id, "soft", step
		}
		step.Op, step.Code, step.Attribute, step.Value, step.CloudID = OpError, "AnchoredElsewhere", by.attr, by.value, by.id
		step.Error = fmt.Sprintf("the cloud user %s with this %s is anchored to another object (onPremisesImmutableId %s): dirsync leaves it untouched", cu.str("userPrincipalName"), by.attr, other)
		if p.owner[by.id] != "" {
			step.Code = "DuplicateValue"
			step.Error = fmt.Sprintf("%s %s is already used by another object dirsync exports (%s)", by.attr, by.value, p.owner[by.id])
		}
		return "", "", step
	}
	return "", "", step
}

func withAnchor(props map[string]any, anchor string) map[string]any {
	out := make(map[string]any, len(props)+1)
	for k, v := range props {
		out[k] = v
	}
	out["onPremisesImmutableId"] = anchor
	return out
}

// changesOf lists the attribute changes of a write, by name.
func changesOf(have object, want map[string]any) []directory.AttrChange {
	var out []directory.AttrChange
	for _, k := range sortedKeys(want) {
		var before any
		if raw, ok := have[k]; ok {
			_ = json.Unmarshal(raw, &before)
		}
		out = append(out, directory.AttrChange{Attribute: k, Before: before, After: want[k]})
	}
	return out
}

func (p *planner) groups(want []wantGroup) {
	wanted := map[string]bool{}
	for _, w := range want {
		if w.anchor == "" {
			continue
		}
		wanted[w.anchor] = true
		step := Step{Kind: kindGroup, Anchor: w.anchor, Object: w.name}
		id, linked := p.links[kindGroup][w.anchor]
		var have object
		if linked {
			have = p.c.groups[id]
		}
		if have == nil {
			// A group dirsync created and did not get to link (the cycle
			// stopped between Graph's answer and the store) carries the
			// anchor's mark in its mail nickname: adopted, not made twice.
			if id = p.createdUnlinked(w.anchor); id != "" {
				have = p.c.groups[id]
				p.plan.links = append(p.plan.links, store.TargetLink{Kind: kindGroup, Anchor: w.anchor, CloudID: id})
				p.links[kindGroup][w.anchor] = id
				p.owner[id] = w.anchor
			}
		}
		if have == nil {
			step.Op = OpCreateGroup
			step.want = map[string]any{"displayName": w.props["displayName"], "mailEnabled": false,
				"mailNickname": groupNickname(w.name, w.anchor), "securityEnabled": true}
			if d, _ := w.props["description"].(string); d != "" {
				step.want["description"] = d
			}
			step.Changes = changesOf(nil, step.want)
			p.plan.Steps = append(p.plan.Steps, step)
			for _, m := range w.members {
				p.plan.Steps = append(p.plan.Steps, p.memberStep(OpAddMember, w, m.kind, m.anchor, ""))
			}
			continue
		}
		step.CloudID = id
		diff := map[string]any{}
		for _, k := range sortedKeys(w.props) {
			if v, _ := w.props[k].(string); k == "description" && v == "" && have.str(k) == "" {
				continue
			}
			if !same(have[k], w.props[k]) {
				diff[k] = w.props[k]
			}
		}
		if len(diff) > 0 {
			step.Op, step.want, step.Changes = OpUpdateGroup, diff, changesOf(have, diff)
			p.plan.Steps = append(p.plan.Steps, step)
		}
		p.members(w, have)
	}
	for _, anchor := range sortedKeys(p.links[kindGroup]) {
		id := p.links[kindGroup][anchor]
		if wanted[anchor] || p.c.groups[id] == nil {
			continue
		}
		p.plan.Steps = append(p.plan.Steps, Step{Op: OpDeleteGroup, Kind: kindGroup, Anchor: anchor, CloudID: id,
			Object: p.c.groups[id].str("displayName")})
	}
}

// members plans the member changes of a group the tenant has: what the
// directory has and the group lacks is added, what the group has beyond it
// removed (the group is dirsync's: its members are the directory's).
func (p *planner) members(w wantGroup, have object) {
	current := have.members()
	keep := map[string]bool{}
	for _, m := range w.members {
		id := p.cloudIDOf(m.kind, m.anchor)
		if id != "" {
			keep[id] = true
			if _, ok := current[id]; ok {
				continue
			}
		}
		p.plan.Steps = append(p.plan.Steps, p.memberStep(OpAddMember, w, m.kind, m.anchor, id))
	}
	for _, id := range sortedKeys(current) {
		if keep[id] {
			continue
		}
		s := p.memberStep(OpRemoveMember, w, current[id], p.owner[id], id)
		p.plan.Steps = append(p.plan.Steps, s)
	}
}

func (p *planner) memberStep(op string, g wantGroup, kind, anchor, id string) Step {
	s := Step{Op: op, Kind: kindGroup, Anchor: g.anchor, Object: g.name, CloudID: p.links[kindGroup][g.anchor],
		MemberKind: kind, MemberAnchor: anchor, MemberID: id, groupOf: g.anchor}
	s.Member = p.nameOf(kind, id, anchor)
	return s
}

// cloudIDOf is the cloud id an anchor is linked or matched to, "" when it
// has none yet (it is created by this plan).
func (p *planner) cloudIDOf(kind, anchor string) string {
	if id := p.links[kind][anchor]; id != "" && p.c.of(kind)[id] != nil {
		return id
	}
	for _, l := range p.plan.links {
		if l.Kind == kind && l.Anchor == anchor {
			return l.CloudID
		}
	}
	return ""
}

func (p *planner) nameOf(kind, id, anchor string) string {
	if o := p.c.of(kind)[id]; o != nil {
		if kind == kindUser {
			return o.str("userPrincipalName")
		}
		return o.str("displayName")
	}
	for _, s := range p.plan.Steps {
		if s.Anchor == anchor && (s.Op == OpCreateUser || s.Op == OpCreateGroup) {
			return s.Object
		}
	}
	return anchor
}

// createdUnlinked finds a security group dirsync created for the anchor
// that no link records: its mail nickname ends with the anchor's mark.
func (p *planner) createdUnlinked(anchor string) string {
	mark := "-" + anchorMark(anchor)
	for _, id := range sortedKeys(p.c.groups) {
		g := p.c.groups[id]
		if _, owned := p.owner[id]; !owned && g.boolean("securityEnabled") && strings.HasSuffix(g.str("mailNickname"), mark) {
			return id
		}
	}
	return ""
}
