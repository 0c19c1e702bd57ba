package tenant

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// The admin methods change the tenant as an administrator would, through
// the same Tx methods the Graph write endpoints use, so every change lands
// in the change log that delta queries read.

// CreateUser adds a user. An empty ID is assigned; UserType defaults to
// Member; MailNickname defaults to the UPN's local part. The UPN must be
// unique and in one of the tenant's verified domains, as in Entra.
func (d *Directory) CreateUser(u model.User) (model.User, error) {
	return written(d, Users.store, func(tx *Tx) (*Rec[model.User], error) { return tx.CreateUser(u) })
}

// UpdateUser changes a user (by id or UPN): fn edits a copy, and the
// properties that differ afterwards are recorded as changed. The ID
// cannot change.
func (d *Directory) UpdateUser(key string, fn func(*model.User)) (model.User, error) {
	return Users.Update(d, key, fn)
}

// PatchUser sets user properties by their Graph names, as PATCH
// /users/{id} does: {"jobTitle": "Counsel", "mobilePhone": null}.
// Read-only properties are refused.
func (d *Directory) PatchUser(key string, props map[string]any) error {
	return Users.Patch(d, key, props)
}

// DeleteUser moves a user to deleted items, restorable for 30 days. Entra
// removes a deleted user from its groups; RestoreUser puts it back.
func (d *Directory) DeleteUser(key string) error {
	return d.Write(func(tx *Tx) error { return tx.DeleteUser(key) })
}

// RestoreUser brings a user back from deleted items, with its group
// memberships (those groups that still exist).
func (d *Directory) RestoreUser(id string) (model.User, error) {
	return written(d, Users.store, func(tx *Tx) (*Rec[model.User], error) { return tx.RestoreUser(model.NormID(id)) })
}

// PurgeUser deletes a user for good, from the active users or from
// deleted items.
func (d *Directory) PurgeUser(key string) error { return Users.Purge(d, key) }

// Users returns the active users, sorted by id.
func (d *Directory) Users() []model.User { return Users.List(d) }

// User returns an active user by id or UPN.
func (d *Directory) User(key string) (model.User, bool) { return Users.Lookup(d, key) }

// DeletedUsers returns the users in deleted items, sorted by id.
func (d *Directory) DeletedUsers() []model.User { return Users.ListDeleted(d) }

// CreateGroup adds a group with the given members. An empty ID is
// assigned. A Microsoft 365 (Unified) or mail-enabled group gets a mail
// address and a primary SMTP proxy address from its mail nickname, as
// Exchange does.
func (d *Directory) CreateGroup(g model.Group, memberIDs ...string) (model.Group, error) {
	ids := make([]string, len(memberIDs))
	for i, m := range memberIDs {
		ids[i] = model.NormID(m)
	}
	return written(d, Groups.store, func(tx *Tx) (*Rec[model.Group], error) { return tx.CreateGroup(g, ids) })
}

// UpdateGroup changes a group through a copy, like UpdateUser.
func (d *Directory) UpdateGroup(id string, fn func(*model.Group)) (model.Group, error) {
	return Groups.Update(d, id, fn)
}

// PatchGroup sets group properties by their Graph names, as PATCH
// /groups/{id} does.
func (d *Directory) PatchGroup(id string, props map[string]any) error {
	return Groups.Patch(d, id, props)
}

// DeleteGroup deletes a group. A Microsoft 365 group goes to deleted items
// (restorable for 30 days); any other group is deleted for good, as Entra
// does with security groups and distribution lists.
func (d *Directory) DeleteGroup(id string) error {
	return d.Write(func(tx *Tx) error { return tx.DeleteGroup(id) })
}

// RestoreGroup brings a Microsoft 365 group back from deleted items with
// its members and parent groups (those that still exist).
func (d *Directory) RestoreGroup(id string) (model.Group, error) {
	return written(d, Groups.store, func(tx *Tx) (*Rec[model.Group], error) { return tx.RestoreGroup(model.NormID(id)) })
}

// PurgeGroup deletes a group for good, active or in deleted items.
func (d *Directory) PurgeGroup(id string) error { return Groups.Purge(d, id) }

// Groups returns the active groups, sorted by id.
func (d *Directory) Groups() []model.Group { return Groups.List(d) }

// Group returns an active group by id.
func (d *Directory) Group(id string) (model.Group, bool) { return Groups.Lookup(d, id) }

// DeletedGroups returns the groups in deleted items, sorted by id.
func (d *Directory) DeletedGroups() []model.Group { return Groups.ListDeleted(d) }

// AddMember adds a user, group, device, contact or service principal to a
// group.
func (d *Directory) AddMember(groupID, memberID string) error {
	groupID, memberID = model.NormID(groupID), model.NormID(memberID)
	return d.Write(func(tx *Tx) error {
		g := d.groups.active.byID[groupID]
		if g == nil {
			return model.NotFound(groupID)
		}
		return tx.AddMember(g, memberID)
	})
}

// RemoveMember removes a member from a group.
func (d *Directory) RemoveMember(groupID, memberID string) error {
	return d.Write(func(tx *Tx) error { return tx.RemoveMember(model.NormID(groupID), model.NormID(memberID)) })
}

// CreateDevice adds a device, which can then be a group member.
func (d *Directory) CreateDevice(displayName, operatingSystem string) (model.Object, error) {
	return d.createObject(model.Object{Kind: model.KindDevice, DisplayName: displayName, OperatingSystem: operatingSystem, AccountEnabled: true})
}

// CreateOrgContact adds an organizational contact.
func (d *Directory) CreateOrgContact(displayName, mail string) (model.Object, error) {
	return d.createObject(model.Object{Kind: model.KindOrgContact, DisplayName: displayName, Mail: mail})
}

// CreateServicePrincipal adds a service principal (an enterprise app).
func (d *Directory) CreateServicePrincipal(displayName string) (model.Object, error) {
	return d.createObject(model.Object{Kind: model.KindServicePrincipal, DisplayName: displayName, AccountEnabled: true})
}

func (d *Directory) createObject(o model.Object) (model.Object, error) {
	k, ok := model.KindFromName(o.Kind)
	if !ok || k == model.ObjUser || k == model.ObjGroup {
		return model.Object{}, fmt.Errorf("entraemu: object kind %q", o.Kind)
	}
	if o.DisplayName == "" {
		return model.Object{}, model.BadRequest("Invalid value specified for property 'displayName'.")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	o.ID = model.NewGUID(d.ids)
	switch k {
	case model.ObjDevice:
		o.DeviceID = model.NewGUID(d.ids)
	case model.ObjServicePrincipal:
		o.AppID = model.NewGUID(d.ids)
	}
	o.CreatedDateTime = d.now()
	if k == model.ObjServicePrincipal {
		o.AppOwnerOrganizationID, o.PublisherName = d.org.ID, d.org.DisplayName
		o.ServicePrincipalNames = []string{o.AppID}
	}
	s := d.objectStore(k)
	r := &Rec[model.Object]{Obj: o, EverSet: s.table.EverSet(&o)}
	s.activate(r)
	d.record(change{kind: k, id: o.ID, op: opCreate, props: s.table.AllMask})
	return o.Clone(), nil
}

// Objects returns the devices, contacts and service principals, sorted by
// id.
func (d *Directory) Objects() []model.Object {
	var out []model.Object
	for _, k := range []*Kind[model.Object]{Devices, Contacts, ServicePrincipals} {
		out = append(out, k.List(d)...)
	}
	slices.SortFunc(out, func(a, b model.Object) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DirectMembers returns a group's direct members sorted by id, or nil for
// a group that does not exist.
func (d *Directory) DirectMembers(groupID string) []model.Member {
	var out []model.Member
	d.Read(func(v *View) {
		if g := d.groups.active.byID[model.NormID(groupID)]; g != nil {
			out = v.members(g.Members)
		}
	})
	return out
}

// TransitiveMembers returns every member of a group and of its nested
// groups (nested groups included, each object once, cycles followed
// once), sorted by id.
func (d *Directory) TransitiveMembers(groupID string) []model.Member {
	var out []model.Member
	d.Read(func(v *View) {
		if id := model.NormID(groupID); d.groups.active.byID[id] != nil {
			out = v.members(v.TransitiveMembers(id))
		}
	})
	return out
}

func (v *View) members(refs []model.Ref) []model.Member {
	out := make([]model.Member, 0, len(refs))
	for _, m := range refs {
		out = append(out, v.member(m))
	}
	return out
}

// MemberOf returns the ids of the groups an object is a direct member of.
func (d *Directory) MemberOf(id string) []string {
	var out []string
	d.Read(func(v *View) { out = slices.Clone(v.MemberOf(model.NormID(id))) })
	return out
}
