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
	l := &loader{rd: rd, accountID: accountID, s: s, rt: rt, d: &desired{}, seenUser: map[string]string{}, seenGroup: map[string]string{}}
	for _, srcID := range s.Sources {
		if err := l.users(ctx, srcID); err != nil {
			return nil, err
		}
	}
	for _, srcID := range s.Sources {
		if err := l.groups(ctx, srcID); err != nil {
			return nil, err
		}
	}
	for _, g := range l.groupList {
		if err := l.members(ctx, g); err != nil {
			return nil, err
		}
	}
	d := l.d
	slices.SortFunc(d.users, func(a, b wantUser) int { return strings.Compare(a.anchor, b.anchor) })
	slices.SortFunc(d.groups, func(a, b wantGroup) int { return strings.Compare(a.anchor, b.anchor) })
	return d, nil
}

// loader builds the desired state, source after source.
type loader struct {
	rd        store.Reader
	accountID string
	s         Settings
	rt        routing
	d         *desired
	seenUser  map[string]string // directory id -> anchor
	seenGroup map[string]string // directory id -> anchor
	groupList []directory.Group // the security groups, in the order read
}

// users adds the source's active and disabled users that have an anchor,
// each once.
func (l *loader) users(ctx context.Context, srcID string) error {
	for after := ""; ; {
		page, err := l.rd.Users(ctx, l.accountID, store.UserQuery{SourceID: srcID, After: after, Limit: 1000,
			States: []directory.State{directory.StateActive, directory.StateDisabled}})
		if err != nil {
			return err
		}
		for _, u := range page.Items {
			if _, ok := l.seenUser[u.ID]; ok {
				continue
			}
			w := wantUser{anchor: Anchor(u, srcID), userID: u.ID, name: u.Username}
			if w.anchor == "" {
				continue
			}
			w.props = l.s.userProps(u, l.rt)
			w.proxies = len(u.ProxyAddresses) > 0
			l.seenUser[u.ID] = w.anchor
			l.d.users = append(l.d.users, w)
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
}

// groups adds the source's active security groups, each once; a
// distribution group is a skipped step.
func (l *loader) groups(ctx context.Context, srcID string) error {
	for after := ""; ; {
		page, err := l.rd.Groups(ctx, l.accountID, store.GroupQuery{SourceID: srcID, After: after, Limit: 1000,
			States: []directory.State{directory.StateActive}})
		if err != nil {
			return err
		}
		for _, g := range page.Items {
			if _, ok := l.seenGroup[g.ID]; ok {
				continue
			}
			if !g.SecurityEnabled {
				l.d.skipped = append(l.d.skipped, Step{Op: OpSkip, Kind: kindGroup, Object: g.Name,
					Note: "a distribution group: Graph cannot create distribution groups (Exchange Online does)"})
				continue
			}
			anchor := ""
			for _, link := range g.Sources {
				if link.SourceID == srcID {
					anchor = link.ExternalID
				}
			}
			l.seenGroup[g.ID] = anchor
			l.groupList = append(l.groupList, g)
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
}

// members adds g with its direct members among the users and groups
// loaded.
func (l *loader) members(ctx context.Context, g directory.Group) error {
	w := wantGroup{anchor: l.seenGroup[g.ID], groupID: g.ID, name: g.Name, props: groupProps(g)}
	ms, err := l.rd.Members(ctx, l.accountID, g.ID, false)
	if err != nil {
		return err
	}
	for _, m := range ms {
		switch m.Kind {
		case directory.MemberUser:
			if a, ok := l.seenUser[m.ID]; ok {
				w.members = append(w.members, memberRef{kindUser, a})
			}
		case directory.MemberGroup:
			if a, ok := l.seenGroup[m.ID]; ok {
				w.members = append(w.members, memberRef{kindGroup, a})
			}
		}
	}
	l.d.groups = append(l.d.groups, w)
	return nil
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
