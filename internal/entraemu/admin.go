package entraemu

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The admin methods change the tenant as an administrator would, through
// the same code the Graph write endpoints use, so every change lands in the
// change log that delta queries read.

// ---- users ----

// CreateUser adds a user. An empty ID is assigned; UserType defaults to
// Member; MailNickname defaults to the UPN's local part. The UPN must be
// unique and in one of the tenant's verified domains, as in Entra.
func (t *Tenant) CreateUser(u User) (User, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.createUserLocked(u)
	if err != nil {
		return User{}, err
	}
	return cloneUser(&r.User), nil
}

func (t *Tenant) createUserLocked(u User) (*userRec, error) {
	if u.ID == "" {
		u.ID = newGUID(t.ids)
	} else if t.exists(u.ID) {
		return nil, badRequest("An object with id '%s' already exists.", u.ID)
	}
	if u.DisplayName == "" {
		return nil, badRequest("Invalid value specified for property 'displayName' of resource 'User'.")
	}
	if err := t.checkUPN(u.UserPrincipalName, ""); err != nil {
		return nil, err
	}
	if u.MailNickname == "" {
		u.MailNickname, _, _ = strings.Cut(u.UserPrincipalName, "@")
	}
	if u.UserType == "" {
		u.UserType = "Member"
	}
	if u.CreatedDateTime.IsZero() {
		u.CreatedDateTime = t.now().UTC().Truncate(time.Second)
	}
	u.DeletedDateTime = time.Time{}
	u = cloneUser(&u)
	r := &userRec{User: u}
	r.everSet = userProps.everSetMask(&r.User)
	t.addUserRec(r)
	t.record(change{kind: kUser, id: u.ID, op: opCreate, props: userProps.allMask})
	return r, nil
}

func (t *Tenant) addUserRec(r *userRec) {
	t.users[r.ID] = r
	t.userIDs, _ = insertSorted(t.userIDs, r.ID)
	t.upns[strings.ToLower(r.UserPrincipalName)] = r.ID
}

// checkUPN validates a UPN for a user (self, or "" for a new one).
func (t *Tenant) checkUPN(upn, self string) error {
	local, domain, ok := strings.Cut(upn, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(upn, " \"\\") {
		return badRequest("Invalid value specified for property 'userPrincipalName' of resource 'User'.")
	}
	domain = strings.ToLower(domain)
	if domain != t.domain && domain != t.initialDomain {
		return badRequest("The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.")
	}
	if id, taken := t.upns[strings.ToLower(upn)]; taken && id != self {
		return conflict("userPrincipalName")
	}
	return nil
}

func (t *Tenant) exists(id string) bool {
	if _, ok := t.users[id]; ok {
		return true
	}
	if _, ok := t.groups[id]; ok {
		return true
	}
	if _, ok := t.objects[id]; ok {
		return true
	}
	_, ok := t.deleted[id]
	return ok
}

// lookupUser finds an active user by id or UPN.
func (t *Tenant) lookupUser(key string) *userRec {
	if r, ok := t.users[key]; ok {
		return r
	}
	if strings.Contains(key, "@") {
		if id, ok := t.upns[strings.ToLower(key)]; ok {
			return t.users[id]
		}
	}
	return nil
}

// UpdateUser changes a user: fn edits a copy, and the properties that
// differ afterwards are recorded as changed. The ID cannot change.
func (t *Tenant) UpdateUser(id string, fn func(*User)) (User, error) {
	id = normID(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.lookupUser(id)
	if r == nil {
		return User{}, notFound(id)
	}
	next := cloneUser(&r.User)
	fn(&next)
	if err := t.applyUserUpdate(r, next); err != nil {
		return User{}, err
	}
	return cloneUser(&r.User), nil
}

func (t *Tenant) applyUserUpdate(r *userRec, next User) error {
	next.ID = r.ID
	next.CreatedDateTime = r.CreatedDateTime
	next.DeletedDateTime = time.Time{}
	if next.DisplayName == "" {
		return badRequest("Invalid value specified for property 'displayName' of resource 'User'.")
	}
	if !strings.EqualFold(next.UserPrincipalName, r.UserPrincipalName) || next.UserPrincipalName != r.UserPrincipalName {
		if err := t.checkUPN(next.UserPrincipalName, r.ID); err != nil {
			return err
		}
	}
	mask := userProps.diff(&r.User, &next)
	if mask == 0 {
		return nil
	}
	if next.UserPrincipalName != r.UserPrincipalName {
		delete(t.upns, strings.ToLower(r.UserPrincipalName))
		t.upns[strings.ToLower(next.UserPrincipalName)] = r.ID
	}
	r.User = cloneUser(&next)
	r.everSet |= mask
	t.record(change{kind: kUser, id: r.ID, op: opUpdate, props: mask})
	return nil
}

// DeleteUser moves a user to deleted items, restorable for 30 days. Entra
// removes a deleted user from its groups; RestoreUser puts it back.
func (t *Tenant) DeleteUser(id string) error {
	id = normID(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.lookupUser(id)
	if r == nil {
		return notFound(id)
	}
	t.leaveAllGroups(r.ID, kUser, &r.memberOf)
	r.savedMemberOf = r.memberOf
	r.memberOf = nil
	t.removeUserRec(r)
	now := t.now().UTC().Truncate(time.Second)
	r.DeletedDateTime = now
	t.deleted[r.ID] = &deletedRec{user: r, at: now}
	t.noteDeletion(now)
	t.record(change{kind: kUser, id: r.ID, op: opSoftDelete})
	return nil
}

func (t *Tenant) removeUserRec(r *userRec) {
	delete(t.users, r.ID)
	t.userIDs, _ = removeSorted(t.userIDs, r.ID)
	if t.upns[strings.ToLower(r.UserPrincipalName)] == r.ID {
		delete(t.upns, strings.ToLower(r.UserPrincipalName))
	}
}

// leaveAllGroups removes member id from every group in *parents, logging
// each removal; *parents keeps its contents for the caller to save.
func (t *Tenant) leaveAllGroups(id string, kind objKind, parents *[]string) {
	for _, gid := range *parents {
		g := t.groups[gid]
		if g == nil {
			continue
		}
		if i, ok := findMember(g.members, id); ok {
			g.members = slices.Delete(g.members, i, i+1)
			t.record(change{kind: kGroup, id: gid, op: opMemberRemove, member: id, mkind: kind})
		}
	}
}

// RestoreUser brings a user back from deleted items, with its group
// memberships (those groups that still exist).
func (t *Tenant) RestoreUser(id string) (User, error) {
	id = normID(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.restoreUserLocked(id)
	if err != nil {
		return User{}, err
	}
	return cloneUser(&r.User), nil
}

func (t *Tenant) restoreUserLocked(id string) (*userRec, error) {
	d := t.deleted[id]
	if d == nil || d.user == nil {
		return nil, notFound(id)
	}
	r := d.user
	if other, taken := t.upns[strings.ToLower(r.UserPrincipalName)]; taken && other != r.ID {
		return nil, conflict("userPrincipalName")
	}
	delete(t.deleted, id)
	r.DeletedDateTime = time.Time{}
	t.addUserRec(r)
	t.record(change{kind: kUser, id: r.ID, op: opRestore, props: userProps.allMask})
	saved := r.savedMemberOf
	r.savedMemberOf = nil
	for _, gid := range saved {
		if g := t.groups[gid]; g != nil {
			t.addMemberLocked(g, r.ID, kUser, &r.memberOf)
		}
	}
	return r, nil
}

// PurgeUser deletes a user for good, from the active users or from deleted
// items.
func (t *Tenant) PurgeUser(id string) error {
	id = normID(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.lookupUser(id); r != nil {
		t.leaveAllGroups(r.ID, kUser, &r.memberOf)
		t.removeUserRec(r)
		t.record(change{kind: kUser, id: r.ID, op: opPurge})
		return nil
	}
	if d := t.deleted[id]; d != nil && d.user != nil {
		delete(t.deleted, id)
		t.record(change{kind: kUser, id: id, op: opPurge})
		return nil
	}
	return notFound(id)
}

// ---- groups ----

// CreateGroup adds a group with the given members. An empty ID is assigned.
// A Microsoft 365 (Unified) or mail-enabled group gets a mail address and
// a primary SMTP proxy address from its mail nickname, as Exchange does.
func (t *Tenant) CreateGroup(g Group, memberIDs ...string) (Group, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.createGroupLocked(g, memberIDs)
	if err != nil {
		return Group{}, err
	}
	return cloneGroup(&r.Group), nil
}

func (t *Tenant) createGroupLocked(g Group, memberIDs []string) (*groupRec, error) {
	if g.ID == "" {
		g.ID = newGUID(t.ids)
	} else if t.exists(g.ID) {
		return nil, badRequest("An object with id '%s' already exists.", g.ID)
	}
	if g.DisplayName == "" {
		return nil, badRequest("Invalid value specified for property 'displayName' of resource 'Group'.")
	}
	if g.MailNickname == "" {
		g.MailNickname = nickname(g.DisplayName)
	}
	for _, m := range memberIDs {
		if _, ok := t.memberKind(m); !ok {
			return nil, notFound(m)
		}
	}
	if g.MailEnabled && g.Mail == "" {
		g.Mail = g.MailNickname + "@" + t.domain
	}
	if g.Mail != "" && len(g.ProxyAddresses) == 0 {
		g.ProxyAddresses = []string{"SMTP:" + g.Mail, "smtp:" + g.MailNickname + "@" + t.initialDomain}
	}
	if g.IsUnified() && g.Visibility == "" {
		g.Visibility = "Public"
	}
	if g.SecurityIdentifier == "" {
		g.SecurityIdentifier = sidFromGUID(g.ID)
	}
	if g.CreatedDateTime.IsZero() {
		g.CreatedDateTime = t.now().UTC().Truncate(time.Second)
	}
	g.DeletedDateTime = time.Time{}
	g = cloneGroup(&g)
	r := &groupRec{Group: g}
	r.everSet = groupProps.everSetMask(&r.Group)
	t.groups[g.ID] = r
	t.groupIDs, _ = insertSorted(t.groupIDs, g.ID)
	t.record(change{kind: kGroup, id: g.ID, op: opCreate, props: groupProps.allMask})
	for _, m := range memberIDs {
		if err := t.addMemberByID(r, m); err != nil && !isAlreadyMember(err) {
			return nil, err
		}
	}
	return r, nil
}

// UpdateGroup changes a group through a copy, like UpdateUser.
func (t *Tenant) UpdateGroup(id string, fn func(*Group)) (Group, error) {
	id = normID(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.groups[id]
	if r == nil {
		return Group{}, notFound(id)
	}
	next := cloneGroup(&r.Group)
	fn(&next)
	if err := t.applyGroupUpdate(r, next); err != nil {
		return Group{}, err
	}
	return cloneGroup(&r.Group), nil
}

func (t *Tenant) applyGroupUpdate(r *groupRec, next Group) error {
	next.ID = r.ID
	next.CreatedDateTime = r.CreatedDateTime
	next.DeletedDateTime = time.Time{}
	if next.DisplayName == "" {
		return badRequest("Invalid value specified for property 'displayName' of resource 'Group'.")
	}
	mask := groupProps.diff(&r.Group, &next)
	if mask == 0 {
		return nil
	}
	r.Group = cloneGroup(&next)
	r.everSet |= mask
	t.record(change{kind: kGroup, id: r.ID, op: opUpdate, props: mask})
	return nil
}

// DeleteGroup deletes a group. A Microsoft 365 group goes to deleted items
// (restorable for 30 days); any other group is deleted for good, as Entra
// does with security groups and distribution lists.
func (t *Tenant) DeleteGroup(id string) error {
	id = normID(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.groups[id]
	if r == nil {
		return notFound(id)
	}
	t.detachGroup(r)
	if !r.IsUnified() {
		t.record(change{kind: kGroup, id: id, op: opPurge})
		return nil
	}
	now := t.now().UTC().Truncate(time.Second)
	r.DeletedDateTime = now
	t.deleted[id] = &deletedRec{group: r, at: now}
	t.noteDeletion(now)
	t.record(change{kind: kGroup, id: id, op: opSoftDelete})
	return nil
}

// detachGroup takes a group out of the active set: out of its parents
// (logged there) and out of its members' memberOf lists. It keeps its own
// member list and saves its parents, for a restore.
func (t *Tenant) detachGroup(r *groupRec) {
	t.leaveAllGroups(r.ID, kGroup, &r.memberOf)
	r.savedMemberOf = r.memberOf
	r.memberOf = nil
	for _, m := range r.members {
		if p := t.parentsOf(m.id); p != nil {
			*p, _ = removeSorted(*p, r.ID)
		}
	}
	delete(t.groups, r.ID)
	t.groupIDs, _ = removeSorted(t.groupIDs, r.ID)
}

// RestoreGroup brings a Microsoft 365 group back from deleted items with
// its members and parent groups (those that still exist).
func (t *Tenant) RestoreGroup(id string) (Group, error) {
	id = normID(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.restoreGroupLocked(id)
	if err != nil {
		return Group{}, err
	}
	return cloneGroup(&r.Group), nil
}

func (t *Tenant) restoreGroupLocked(id string) (*groupRec, error) {
	d := t.deleted[id]
	if d == nil || d.group == nil {
		return nil, notFound(id)
	}
	r := d.group
	delete(t.deleted, id)
	r.DeletedDateTime = time.Time{}
	members := r.members
	r.members = nil
	t.groups[id] = r
	t.groupIDs, _ = insertSorted(t.groupIDs, id)
	t.record(change{kind: kGroup, id: id, op: opRestore, props: groupProps.allMask})
	for _, m := range members {
		if p := t.parentsOf(m.id); p != nil {
			t.addMemberLocked(r, m.id, m.kind, p)
		}
	}
	saved := r.savedMemberOf
	r.savedMemberOf = nil
	for _, pid := range saved {
		if p := t.groups[pid]; p != nil {
			t.addMemberLocked(p, id, kGroup, &r.memberOf)
		}
	}
	return r, nil
}

// PurgeGroup deletes a group for good, active or in deleted items.
func (t *Tenant) PurgeGroup(id string) error {
	id = normID(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.groups[id]; r != nil {
		t.detachGroup(r)
		t.record(change{kind: kGroup, id: id, op: opPurge})
		return nil
	}
	if d := t.deleted[id]; d != nil && d.group != nil {
		delete(t.deleted, id)
		t.record(change{kind: kGroup, id: id, op: opPurge})
		return nil
	}
	return notFound(id)
}

// ---- other objects ----

// CreateDevice adds a device, which can then be a group member.
func (t *Tenant) CreateDevice(displayName, operatingSystem string) (Object, error) {
	return t.createObject(Object{Kind: KindDevice, DisplayName: displayName, OperatingSystem: operatingSystem, AccountEnabled: true})
}

// CreateOrgContact adds an organizational contact.
func (t *Tenant) CreateOrgContact(displayName, mail string) (Object, error) {
	return t.createObject(Object{Kind: KindOrgContact, DisplayName: displayName, Mail: mail})
}

// CreateServicePrincipal adds a service principal (an enterprise app).
func (t *Tenant) CreateServicePrincipal(displayName string) (Object, error) {
	return t.createObject(Object{Kind: KindServicePrincipal, DisplayName: displayName, AccountEnabled: true})
}

func (t *Tenant) createObject(o Object) (Object, error) {
	k, ok := kindFromName(o.Kind)
	if !ok || k == kUser || k == kGroup {
		return Object{}, fmt.Errorf("entraemu: object kind %q", o.Kind)
	}
	if o.DisplayName == "" {
		return Object{}, badRequest("Invalid value specified for property 'displayName'.")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addObjectLocked(&o, k, t.ids)
	return o, nil
}

func (t *Tenant) addObjectLocked(o *Object, k objKind, rng *mrand.Rand) *objRec {
	if o.ID == "" {
		o.ID = newGUID(rng)
	}
	if k == kDevice && o.DeviceID == "" {
		o.DeviceID = newGUID(rng)
	}
	if k == kSP && o.AppID == "" {
		o.AppID = newGUID(rng)
	}
	if o.CreatedDateTime.IsZero() {
		o.CreatedDateTime = t.now().UTC().Truncate(time.Second)
	}
	r := &objRec{Object: *o, kind: k}
	t.objects[o.ID] = r
	return r
}

// ---- membership ----

// AddMember adds a user, group, device, contact or service principal to a
// group.
func (t *Tenant) AddMember(groupID, memberID string) error {
	groupID, memberID = normID(groupID), normID(memberID)
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[groupID]
	if g == nil {
		return notFound(groupID)
	}
	return t.addMemberByID(g, memberID)
}

var errAlreadyMember = badRequest("One or more added object references already exist for the following modified properties: 'members'.")

func isAlreadyMember(err error) bool { return err == errAlreadyMember }

func (t *Tenant) addMemberByID(g *groupRec, memberID string) error {
	kind, ok := t.memberKind(memberID)
	if !ok {
		return notFound(memberID)
	}
	if memberID == g.ID {
		return badRequest("A group cannot be a member of itself.")
	}
	if !t.addMemberLocked(g, memberID, kind, t.parentsOf(memberID)) {
		return errAlreadyMember
	}
	return nil
}

// addMemberLocked adds and logs a member; parents is the member's memberOf
// list. It reports false when the member was already there.
func (t *Tenant) addMemberLocked(g *groupRec, id string, kind objKind, parents *[]string) bool {
	i, found := findMember(g.members, id)
	if found {
		return false
	}
	g.members = slices.Insert(g.members, i, memberRef{id: id, kind: kind})
	if parents != nil {
		*parents, _ = insertSorted(*parents, g.ID)
	}
	t.record(change{kind: kGroup, id: g.ID, op: opMemberAdd, member: id, mkind: kind})
	return true
}

// RemoveMember removes a member from a group.
func (t *Tenant) RemoveMember(groupID, memberID string) error {
	groupID, memberID = normID(groupID), normID(memberID)
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[groupID]
	if g == nil {
		return notFound(groupID)
	}
	i, found := findMember(g.members, memberID)
	if !found {
		return notFound(memberID)
	}
	kind := g.members[i].kind
	g.members = slices.Delete(g.members, i, i+1)
	if p := t.parentsOf(memberID); p != nil {
		*p, _ = removeSorted(*p, groupID)
	}
	t.record(change{kind: kGroup, id: groupID, op: opMemberRemove, member: memberID, mkind: kind})
	return nil
}

// memberKind is the kind of an active object that can be a member.
func (t *Tenant) memberKind(id string) (objKind, bool) {
	if _, ok := t.users[id]; ok {
		return kUser, true
	}
	if _, ok := t.groups[id]; ok {
		return kGroup, true
	}
	if o, ok := t.objects[id]; ok {
		return o.kind, true
	}
	return 0, false
}

// parentsOf returns a pointer to the memberOf list of an active object.
func (t *Tenant) parentsOf(id string) *[]string {
	if u, ok := t.users[id]; ok {
		return &u.memberOf
	}
	if g, ok := t.groups[id]; ok {
		return &g.memberOf
	}
	if o, ok := t.objects[id]; ok {
		return &o.memberOf
	}
	return nil
}

// ---- reading the truth ----

// Users returns the active users, sorted by id.
func (t *Tenant) Users() []User {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]User, 0, len(t.userIDs))
	for _, id := range t.userIDs {
		out = append(out, cloneUser(&t.users[id].User))
	}
	return out
}

// User returns an active user by id or UPN.
func (t *Tenant) User(key string) (User, bool) {
	key = normID(key)
	t.mu.RLock()
	defer t.mu.RUnlock()
	r := t.lookupUser(key)
	if r == nil {
		return User{}, false
	}
	return cloneUser(&r.User), true
}

// DeletedUsers returns the users in deleted items, sorted by id.
func (t *Tenant) DeletedUsers() []User {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []User
	for _, d := range t.deleted {
		if d.user != nil {
			out = append(out, cloneUser(&d.user.User))
		}
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Groups returns the active groups, sorted by id.
func (t *Tenant) Groups() []Group {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Group, 0, len(t.groupIDs))
	for _, id := range t.groupIDs {
		out = append(out, cloneGroup(&t.groups[id].Group))
	}
	return out
}

// Group returns an active group by id.
func (t *Tenant) Group(id string) (Group, bool) {
	id = normID(id)
	t.mu.RLock()
	defer t.mu.RUnlock()
	r := t.groups[id]
	if r == nil {
		return Group{}, false
	}
	return cloneGroup(&r.Group), true
}

// DeletedGroups returns the groups in deleted items, sorted by id.
func (t *Tenant) DeletedGroups() []Group {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []Group
	for _, d := range t.deleted {
		if d.group != nil {
			out = append(out, cloneGroup(&d.group.Group))
		}
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Objects returns the devices, contacts and service principals, sorted by id.
func (t *Tenant) Objects() []Object {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Object, 0, len(t.objects))
	for _, o := range t.objects {
		out = append(out, o.Object)
	}
	slices.SortFunc(out, func(a, b Object) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DirectMembers returns a group's direct members sorted by id, or nil for
// a group that does not exist.
func (t *Tenant) DirectMembers(groupID string) []Member {
	groupID = normID(groupID)
	t.mu.RLock()
	defer t.mu.RUnlock()
	g := t.groups[groupID]
	if g == nil {
		return nil
	}
	out := make([]Member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, t.member(m))
	}
	return out
}

// TransitiveMembers returns every member of a group and of its nested
// groups (nested groups included, each object once, cycles followed once),
// sorted by id.
func (t *Tenant) TransitiveMembers(groupID string) []Member {
	groupID = normID(groupID)
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.groups[groupID] == nil {
		return nil
	}
	refs := t.transitiveMembers(groupID)
	out := make([]Member, 0, len(refs))
	for _, m := range refs {
		out = append(out, t.member(m))
	}
	return out
}

// MemberOf returns the ids of the groups an object is a direct member of.
func (t *Tenant) MemberOf(id string) []string {
	id = normID(id)
	t.mu.RLock()
	defer t.mu.RUnlock()
	if p := t.parentsOf(id); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

func (t *Tenant) member(m memberRef) Member {
	out := Member{ID: m.id, Kind: m.kind.String()}
	switch m.kind {
	case kUser:
		if u := t.users[m.id]; u != nil {
			out.DisplayName, out.UserPrincipalName, out.Mail = u.DisplayName, u.UserPrincipalName, u.Mail
		}
	case kGroup:
		if g := t.groups[m.id]; g != nil {
			out.DisplayName, out.Mail = g.DisplayName, g.Mail
		}
	default:
		if o := t.objects[m.id]; o != nil {
			out.DisplayName, out.Mail = o.DisplayName, o.Mail
		}
	}
	return out
}

// transitiveMembers walks nested groups breadth first with a visited set,
// so cycles end. The result is sorted by id.
func (t *Tenant) transitiveMembers(groupID string) []memberRef {
	seen := map[string]bool{groupID: true}
	var out []memberRef
	queue := []string{groupID}
	for len(queue) > 0 {
		g := t.groups[queue[0]]
		queue = queue[1:]
		if g == nil {
			continue
		}
		for _, m := range g.members {
			if seen[m.id] {
				continue
			}
			seen[m.id] = true
			out = append(out, m)
			if m.kind == kGroup {
				queue = append(queue, m.id)
			}
		}
	}
	slices.SortFunc(out, func(a, b memberRef) int { return strings.Compare(a.id, b.id) })
	return out
}

// transitiveMemberOf returns every group an object is in, directly or
// through nesting, sorted.
func (t *Tenant) transitiveMemberOf(id string) []string {
	p := t.parentsOf(id)
	if p == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	queue := slices.Clone(*p)
	for len(queue) > 0 {
		gid := queue[0]
		queue = queue[1:]
		if seen[gid] || gid == id {
			continue
		}
		seen[gid] = true
		out = append(out, gid)
		if g := t.groups[gid]; g != nil {
			queue = append(queue, g.memberOf...)
		}
	}
	slices.Sort(out)
	return out
}

// ---- helpers ----

// normID puts a GUID in Graph's lower case; other keys (UPNs) are kept.
func normID(id string) string {
	if isGUID(id) {
		return strings.ToLower(id)
	}
	return id
}

func cloneUser(u *User) User {
	c := *u
	c.BusinessPhones = slices.Clone(u.BusinessPhones)
	c.ProxyAddresses = slices.Clone(u.ProxyAddresses)
	c.OtherMails = slices.Clone(u.OtherMails)
	if u.AssignedLicenses != nil {
		c.AssignedLicenses = make([]AssignedLicense, len(u.AssignedLicenses))
		for i, l := range u.AssignedLicenses {
			c.AssignedLicenses[i] = AssignedLicense{SkuID: l.SkuID, DisabledPlans: slices.Clone(l.DisabledPlans)}
		}
	}
	return c
}

func cloneGroup(g *Group) Group {
	c := *g
	c.GroupTypes = slices.Clone(g.GroupTypes)
	c.ProxyAddresses = slices.Clone(g.ProxyAddresses)
	return c
}

// newGUID returns a random version 4 GUID from rng, in Graph's lower-case
// form.
func newGUID(rng *mrand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatGUID(b)
}

func formatGUID(b [16]byte) string {
	const x = hexDigits
	out := make([]byte, 36)
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = x[c>>4], x[c&0xf]
		j += 2
	}
	return string(out)
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// newSecret returns a client secret value shaped like Entra's: 40
// characters with "8Q~" after the first three.
func newSecret() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
	var raw [37]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic("entraemu: random: " + err.Error())
	}
	out := make([]byte, 0, 40)
	for i, c := range raw {
		out = append(out, alphabet[int(c)%len(alphabet)])
		if i == 2 {
			out = append(out, "8Q~"...)
		}
	}
	return string(out[:40])
}

// sidFromGUID is the security identifier Entra gives a cloud group:
// S-1-12-1 followed by the object id as four 32-bit numbers.
func sidFromGUID(id string) string {
	var b [16]byte
	h := strings.ReplaceAll(id, "-", "")
	for i := 0; i < 16 && 2*i+1 < len(h); i++ {
		var v byte
		fmt.Sscanf(h[2*i:2*i+2], "%02x", &v)
		b[i] = v
	}
	// The GUID's first three fields are little-endian in its binary form.
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return fmt.Sprintf("S-1-12-1-%d-%d-%d-%d",
		binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint32(b[4:]),
		binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:]))
}

// nickname makes a mail nickname from a display name: ASCII letters and
// digits only.
func nickname(s string) string {
	var b strings.Builder
	for _, r := range foldASCII(s) {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "group"
	}
	return b.String()
}
