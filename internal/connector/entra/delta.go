package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/graph"
)

// groupHandler receives one groups/delta round, entry by entry, in the
// order Graph sent it. The same group may come several times: a large
// group arrives in slices of members@delta on different pages, and a
// group changed during the round can come again.
type groupHandler interface {
	group(g graph.Group) error
	removedGroup(id string, hard bool) error
	member(groupID string, m graph.DirectoryObject) error
	removedMember(groupID string, m graph.DirectoryObject) error
}

// walkGroups walks one groups/delta round from link (a GroupsDeltaURL
// with members, or a saved deltaLink) and returns its new deltaLink.
// Snapshot and Changes share it; only their handlers differ.
func (c *conn) walkGroups(ctx context.Context, link string, h groupHandler) (string, error) {
	return c.client.DeltaGroups(ctx, link, graph.DeltaOptions{}, func(gs []graph.Group) error {
		for _, g := range gs {
			if g.ID == "" {
				return &connector.Error{Kind: connector.KindProtocol, Message: "Graph returned a group without an id"}
			}
			if g.Removed != nil {
				if err := h.removedGroup(g.ID, g.Removed.Reason == graph.ReasonDeleted); err != nil {
					return err
				}
				continue
			}
			if err := h.group(g); err != nil {
				return err
			}
			for _, m := range g.MembersDelta {
				var err error
				if m.Removed != nil {
					err = h.removedMember(g.ID, m)
				} else {
					err = h.member(g.ID, m)
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// memberKind maps a member's Graph type to the directory's, or "" for the
// kinds dirsync does not hold (devices, contacts, service principals...).
func memberKind(m graph.DirectoryObject) directory.MemberKind {
	switch m.Kind() {
	case graph.KindUser:
		return directory.MemberUser
	case graph.KindGroup:
		return directory.MemberGroup
	}
	return ""
}

// skipped describes a member dirsync does not import. The reason is the
// same for every member of a kind, so that a run can count by reason.
func skipped(m graph.DirectoryObject) connector.Skipped {
	kind := m.Kind()
	if kind == "" {
		kind = "unknown"
	}
	return connector.Skipped{Kind: kind, ExternalID: m.ID, Code: directory.SkipNonDirectoryMember, Reason: "group member that is not a user or group (" + kind + ")"}
}

// snapshotGroups feeds a full read: every group once, every current member.
type snapshotGroups struct {
	sink connector.Sink
	seen map[string]bool // groups already handed over: ids only, not the tenant
}

func newSnapshotGroups(sink connector.Sink) *snapshotGroups {
	return &snapshotGroups{sink: sink, seen: map[string]bool{}}
}

func (s *snapshotGroups) group(g graph.Group) error {
	// Later slices of a split group repeat its properties; hand it over
	// once, and only from an entry that carries them.
	if s.seen[g.ID] || !g.Has("displayName") {
		return nil
	}
	s.seen[g.ID] = true
	return s.sink.Group(sourceGroup(g))
}

// removedGroup: in a round read from scratch a removed group is simply not
// part of the tenant.
func (s *snapshotGroups) removedGroup(string, bool) error { return nil }

func (s *snapshotGroups) member(groupID string, m graph.DirectoryObject) error {
	kind := memberKind(m)
	if kind == "" {
		return s.sink.Skip(skipped(m))
	}
	return s.sink.Membership(directory.SourceMembership{GroupExternalID: groupID, MemberExternalID: m.ID, MemberKind: kind})
}

func (s *snapshotGroups) removedMember(string, graph.DirectoryObject) error { return nil }

// changeGroups feeds an incremental read: every entry is a patch.
type changeGroups struct{ sink connector.ChangeSink }

func (s changeGroups) group(g graph.Group) error {
	fields := groupFields(g)
	if len(fields) == 0 {
		return nil // a slice of members only
	}
	return s.sink.GroupPatch(sourceGroup(g), fields)
}

func (s changeGroups) removedGroup(id string, hard bool) error { return s.sink.RemoveGroup(id, hard) }

func (s changeGroups) member(groupID string, m graph.DirectoryObject) error {
	kind := memberKind(m)
	if kind == "" {
		return s.sink.Skip(skipped(m))
	}
	return s.sink.Membership(directory.SourceMembership{GroupExternalID: groupID, MemberExternalID: m.ID, MemberKind: kind})
}

func (s changeGroups) removedMember(groupID string, m graph.DirectoryObject) error {
	kind := memberKind(m)
	if kind == "" {
		return nil // it was never imported
	}
	return s.sink.RemoveMembership(directory.SourceMembership{GroupExternalID: groupID, MemberExternalID: m.ID, MemberKind: kind})
}

// userAttr maps Graph user properties to the user fields, for UserPatch.
var userAttr = map[string]directory.UserField{
	"userPrincipalName":     directory.UserUsername,
	"mail":                  directory.UserEmail,
	"displayName":           directory.UserDisplayName,
	"givenName":             directory.UserGivenName,
	"surname":               directory.UserSurname,
	"jobTitle":              directory.UserJobTitle,
	"department":            directory.UserDepartment,
	"mobilePhone":           directory.UserMobilePhone,
	"businessPhones":        directory.UserBusinessPhones,
	"userType":              directory.UserUserType,
	"assignedLicenses":      directory.UserLicenses,
	"proxyAddresses":        directory.UserProxyAddresses,
	"onPremisesImmutableId": directory.UserImmutableID,
	"accountEnabled":        directory.UserEnabled,
}

// groupAttr maps Graph group properties to the group fields.
var groupAttr = map[string]directory.GroupField{
	"displayName":     directory.GroupName,
	"description":     directory.GroupDescription,
	"mail":            directory.GroupMail,
	"groupTypes":      directory.GroupGroupTypes,
	"securityEnabled": directory.GroupSecurityEnabled,
	"mailEnabled":     directory.GroupMailEnabled,
}

// userFields lists the attributes a delta entry carried. An entry may
// carry only the changed properties (or, by default, omit properties never
// set), so it is applied as a patch of exactly these.
func userFields(u graph.User) []directory.UserField {
	var out []directory.UserField
	for _, f := range u.Fields {
		if a, ok := userAttr[f]; ok {
			out = append(out, a)
		}
	}
	return out
}

func groupFields(g graph.Group) []directory.GroupField {
	var out []directory.GroupField
	for _, f := range g.Fields {
		if a, ok := groupAttr[f]; ok {
			out = append(out, a)
		}
	}
	return out
}

// cursor is what Cursor returns and Changes takes: the deltaLinks of both
// rounds, saved whole as Graph gave them.
type cursor struct {
	Users  string `json:"users"`
	Groups string `json:"groups"`
}

// Cursor marks "now" with $deltatoken=latest for users and groups: no
// objects are read, so it costs two requests whatever the tenant's size.
func (c *conn) Cursor(ctx context.Context) (string, error) {
	var cur cursor
	var err error
	if cur.Users, err = c.client.LatestDeltaLink(ctx, c.client.UsersDeltaURL(nil)); err != nil {
		return "", c.classify(err, "start tracking user changes", permUsers)
	}
	if cur.Groups, err = c.client.LatestDeltaLink(ctx, c.client.GroupsDeltaURL(nil, true)); err != nil {
		return "", c.classify(err, "start tracking group changes", permMembers)
	}
	b, _ := json.Marshal(cur)
	return string(b), nil
}

// Changes walks one users/delta and one groups/delta round from the saved
// cursor, concurrently, and returns the cursor to save with the changes.
// Users and groups come as patches (UserPatch, GroupPatch) because Graph
// may send only some properties; removals say whether they are soft
// ("changed": restorable) or hard ("deleted"). An expired token is a
// *connector.Error of KindCursor: the engine then runs a full Snapshot.
func (c *conn) Changes(ctx context.Context, cur string, sink connector.ChangeSink) (string, error) {
	var in cursor
	if err := json.Unmarshal([]byte(cur), &in); err != nil || in.Users == "" || in.Groups == "" {
		return "", &connector.Error{Kind: connector.KindCursor, Message: "the saved delta cursor is unreadable: a full sync is needed"}
	}
	var out cursor
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.conc)
	g.Go(func() error {
		dl, err := c.client.DeltaUsers(gctx, in.Users, graph.DeltaOptions{}, func(us []graph.User) error {
			for _, u := range us {
				if u.ID == "" {
					return &connector.Error{Kind: connector.KindProtocol, Message: "Graph returned a user without an id"}
				}
				if u.Removed != nil {
					if err := sink.RemoveUser(u.ID, u.Removed.Reason == graph.ReasonDeleted); err != nil {
						return err
					}
					continue
				}
				if err := sink.UserPatch(sourceUser(u), userFields(u)); err != nil {
					return err
				}
			}
			return nil
		})
		out.Users = dl
		return c.classify(err, "read user changes", permUsers)
	})
	g.Go(func() error {
		dl, err := c.walkGroups(gctx, in.Groups, changeGroups{sink})
		out.Groups = dl
		return c.classify(err, "read group changes", permMembers)
	})
	if err := g.Wait(); err != nil {
		return "", err
	}
	b, _ := json.Marshal(out)
	return string(b), nil
}

// LookupUser reads one user (by object id or userPrincipalName) and the
// groups it is a direct member of, in one $batch round trip.
func (c *conn) LookupUser(ctx context.Context, idOrName string) (directory.SourceUser, []directory.SourceMembership, error) {
	path := graph.UserPath(idOrName)
	rs, err := c.client.Batch(ctx, []graph.BatchRequest{
		{ID: "user", Method: http.MethodGet, URL: path + "?" + graph.Query{Select: graph.UserSelect}.Encode()},
		{ID: "memberOf", Method: http.MethodGet, URL: path + "/memberOf?" + graph.Query{Select: []string{"id"}, Top: 999}.Encode()},
	})
	if err != nil {
		return directory.SourceUser{}, nil, c.classify(err, "look up user "+idOrName, permUsers)
	}
	var u graph.User
	if err := rs[0].Decode(&u); err != nil {
		var ge *graph.Error
		if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
			return directory.SourceUser{}, nil, &connector.Error{Kind: connector.KindNotFound, Code: ge.Code, Message: fmt.Sprintf("user %q was not found in tenant %q", idOrName, c.cfg.Tenant), Err: err}
		}
		return directory.SourceUser{}, nil, c.classify(err, "look up user "+idOrName, permUsers)
	}
	if u.ID == "" || u.UserPrincipalName == "" {
		return directory.SourceUser{}, nil, &connector.Error{Kind: connector.KindProtocol, Message: "Graph returned a user without an id or userPrincipalName"}
	}
	var page struct {
		NextLink string                  `json:"@odata.nextLink"`
		Value    []graph.DirectoryObject `json:"value"`
	}
	if err := rs[1].Decode(&page); err != nil {
		return directory.SourceUser{}, nil, c.classify(err, "read the groups of user "+idOrName, permMembers)
	}
	var ms []directory.SourceMembership
	add := func(os []graph.DirectoryObject) error {
		for _, o := range os {
			// memberOf also lists directory roles and administrative units.
			if o.Kind() == graph.KindGroup {
				ms = append(ms, directory.SourceMembership{GroupExternalID: o.ID, MemberExternalID: u.ID, MemberKind: directory.MemberUser})
			}
		}
		return nil
	}
	add(page.Value)
	if page.NextLink != "" {
		if err := graph.Walk(ctx, c.client, page.NextLink, add); err != nil {
			return directory.SourceUser{}, nil, c.classify(err, "read the groups of user "+idOrName, permMembers)
		}
	}
	return sourceUser(u), ms, nil
}

// ParentGroups reads, for each group, the groups it is a direct member of:
// a $batch of memberOf requests (20 to a batch), and the next pages of the
// few groups that are members of more than 999.
func (c *conn) ParentGroups(ctx context.Context, groupIDs []string) ([]directory.SourceMembership, error) {
	reqs := make([]graph.BatchRequest, len(groupIDs))
	for i, id := range groupIDs {
		reqs[i] = graph.BatchRequest{ID: strconv.Itoa(i), Method: http.MethodGet,
			URL: "/groups/" + url.PathEscape(id) + "/memberOf?" + graph.Query{Select: []string{"id"}, Top: 999}.Encode()}
	}
	rs, err := c.client.Batch(ctx, reqs)
	if err != nil {
		return nil, c.classify(err, "read the groups of groups", permMembers)
	}
	var out []directory.SourceMembership
	for i, r := range rs {
		add := func(os []graph.DirectoryObject) error {
			for _, o := range os {
				if o.Kind() == graph.KindGroup {
					out = append(out, directory.SourceMembership{GroupExternalID: o.ID, MemberExternalID: groupIDs[i], MemberKind: directory.MemberGroup})
				}
			}
			return nil
		}
		var page struct {
			NextLink string                  `json:"@odata.nextLink"`
			Value    []graph.DirectoryObject `json:"value"`
		}
		if err := r.Decode(&page); err != nil {
			var ge *graph.Error
			if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
				continue // gone since: no parents
			}
			return nil, c.classify(err, "read the groups of group "+groupIDs[i], permMembers)
		}
		add(page.Value)
		if page.NextLink != "" {
			if err := graph.Walk(ctx, c.client, page.NextLink, add); err != nil {
				return nil, c.classify(err, "read the groups of group "+groupIDs[i], permMembers)
			}
		}
	}
	return out, nil
}
