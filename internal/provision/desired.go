package provision

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// What the tenant should hold: the users and security groups of the
// target's sources as the account's directory holds them, mapped by the
// flow table.

// wantUser is a user as the tenant should have it.
type wantUser struct {
	anchor string
	userID string // the directory's id
	name   string // the directory's username, for people
	// props are the cloud properties the flows give, by Graph name; a
	// property the flows turn off is absent.
	props map[string]any
	// proxies says the directory has proxyAddresses for the user, which
	// Graph does not let anyone write.
	proxies bool
}

// wantGroup is a security group as the tenant should have it.
type wantGroup struct {
	anchor  string
	groupID string
	name    string
	props   map[string]any
	// members are the anchors of its direct members that the target
	// exports, by kind.
	members []memberRef
}

type memberRef struct {
	kind   string
	anchor string
}

// desired is everything the tenant should hold, in a stable order.
type desired struct {
	users  []wantUser
	groups []wantGroup
	// skipped are directory objects the export leaves out, and why.
	skipped []Step
}

// routing is what the tenant says of its domains, for UPN suffixes.
type routing struct {
	verified []string
	initial  string
}

// loadDesired reads the target's sources' users, groups and memberships.
func loadDesired(ctx context.Context, rd store.Reader, accountID string, s Settings, rt routing) (*desired, error) {
	d := &desired{}
	seenUser := map[string]string{} // directory id -> anchor
	for _, srcID := range s.Sources {
		after := ""
		for {
			page, err := rd.Users(ctx, accountID, store.UserQuery{SourceID: srcID, After: after, Limit: 1000,
				States: []directory.State{directory.StateActive, directory.StateDisabled}})
			if err != nil {
				return nil, err
			}
			for _, u := range page.Items {
				if _, ok := seenUser[u.ID]; ok {
					continue
				}
				w := wantUser{anchor: Anchor(u, srcID), userID: u.ID, name: u.Username}
				if w.anchor == "" {
					continue
				}
				w.props = s.userProps(u, rt)
				w.proxies = len(u.ProxyAddresses) > 0
				seenUser[u.ID] = w.anchor
				d.users = append(d.users, w)
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	seenGroup := map[string]string{}
	var groups []directory.Group
	for _, srcID := range s.Sources {
		after := ""
		for {
			page, err := rd.Groups(ctx, accountID, store.GroupQuery{SourceID: srcID, After: after, Limit: 1000,
				States: []directory.State{directory.StateActive}})
			if err != nil {
				return nil, err
			}
			for _, g := range page.Items {
				if _, ok := seenGroup[g.ID]; ok {
					continue
				}
				if !g.SecurityEnabled {
					d.skipped = append(d.skipped, Step{Op: OpSkip, Kind: kindGroup, Object: g.Name,
						Note: "a distribution group: Graph cannot create distribution groups (Exchange Online does)"})
					continue
				}
				anchor := ""
				for _, l := range g.Sources {
					if l.SourceID == srcID {
						anchor = l.ExternalID
					}
				}
				seenGroup[g.ID] = anchor
				groups = append(groups, g)
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	for _, g := range groups {
		w := wantGroup{anchor: seenGroup[g.ID], groupID: g.ID, name: g.Name, props: groupProps(g)}
		ms, err := rd.Members(ctx, accountID, g.ID, false)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			switch m.Kind {
			case directory.MemberUser:
				if a, ok := seenUser[m.ID]; ok {
					w.members = append(w.members, memberRef{kindUser, a})
				}
			case directory.MemberGroup:
				if a, ok := seenGroup[m.ID]; ok {
					w.members = append(w.members, memberRef{kindGroup, a})
				}
			}
		}
		d.groups = append(d.groups, w)
	}
	slices.SortFunc(d.users, func(a, b wantUser) int { return strings.Compare(a.anchor, b.anchor) })
	slices.SortFunc(d.groups, func(a, b wantGroup) int { return strings.Compare(a.anchor, b.anchor) })
	return d, nil
}

// userProps maps a directory user to cloud properties by the flow table.
func (s Settings) userProps(u directory.User, rt routing) map[string]any {
	p := map[string]any{}
	for _, f := range flowTable {
		from := s.source(f)
		switch f.attr {
		case "usageLocation":
			if s.UsageLocation != "" {
				p[f.attr] = s.UsageLocation
			}
			continue
		case "accountEnabled":
			if from == string(directory.UserEnabled) {
				p[f.attr] = u.Enabled && u.State == directory.StateActive
			}
			continue
		}
		if from == "" {
			continue
		}
		if slices.Contains(f.kinds, "list") {
			l := list(u, from)
			if len(l) > 1 {
				l = l[:1] // Entra keeps one business phone
			}
			if l == nil {
				l = []string{}
			}
			p[f.attr] = l
			continue
		}
		p[f.attr] = str(u, from)
	}
	upn, _ := p["userPrincipalName"].(string)
	upn = routeUPN(upn, rt.verified, rt.initial)
	p["userPrincipalName"] = upn
	if dn, _ := p["displayName"].(string); dn == "" {
		name := strings.TrimSpace(u.GivenName + " " + u.Surname)
		if name == "" {
			name, _ = splitUPN(upn)
		}
		p["displayName"] = name
	}
	nick, _ := p["mailNickname"].(string)
	if nick = mailNickname(nick); nick == "" {
		local, _ := splitUPN(upn)
		nick = mailNickname(local)
	}
	p["mailNickname"] = nick
	return p
}

// groupProps are a security group's cloud properties dirsync keeps.
func groupProps(g directory.Group) map[string]any {
	return map[string]any{"displayName": g.Name, "description": g.Description}
}

// same reports whether a cached property holds the wanted value: null,
// absent and empty are one for strings and lists, as Graph returns them.
func same(have json.RawMessage, want any) bool {
	switch w := want.(type) {
	case string:
		var h string
		_ = json.Unmarshal(have, &h)
		return h == w
	case bool:
		var h bool
		_ = json.Unmarshal(have, &h)
		return h == w
	case []string:
		var h []string
		_ = json.Unmarshal(have, &h)
		return slices.Equal(h, w) || (len(h) == 0 && len(w) == 0)
	}
	return false
}
