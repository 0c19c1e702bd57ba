// Package tenant is the emulated tenant's directory: its users, groups,
// devices, contacts and service principals, their memberships, the deleted
// items container, and the change log that delta queries read. Every
// change, whether made by the admin methods or by a Graph write, goes
// through a Tx and lands in the change log.
//
// A Directory is safe for concurrent use: Read gives a View under the read
// lock, Write a Tx under the write lock.
package tenant

import (
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/entraemu/gen"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/schema"
)

// Retention of Microsoft's documented limits.
const (
	DeletedRetention = 30 * 24 * time.Hour // deleted items are purged after 30 days
	DeltaTokenMaxAge = 7 * 24 * time.Hour  // directory delta tokens last 7 days
)

// Org describes the organization a directory belongs to.
type Org struct {
	ID            string // the tenant's GUID
	Domain        string // the primary verified domain
	InitialDomain string // the *.onmicrosoft.com domain
	DisplayName   string
	CreatedAt     time.Time
}

// Directory is a tenant's directory.
type Directory struct {
	org   Org
	clock clock.Clock
	skus  []model.Sku

	mu               sync.RWMutex
	users            store[model.User]
	groups           store[model.Group]
	devices          store[model.Object]
	contacts         store[model.Object]
	sps              store[model.Object] // service principals
	upns             map[string]string   // lower-case UPN to user id
	nicknames        map[string]string   // lower-case mail nickname to the recipient's id
	immutableIDs     map[string]string   // onPremisesImmutableId to user id
	ids              *mrand.Rand         // ids of objects created after generation
	log              changeLog
	earliestDeletion time.Time
}

// New returns a directory holding ds. ids draws the ids of objects created
// later; c is its clock (nil: the system's).
func New(org Org, ds *gen.Dataset, ids *mrand.Rand, c clock.Clock) *Directory {
	d := &Directory{org: org, clock: clock.Or(c), ids: ids, upns: map[string]string{}, nicknames: map[string]string{}, immutableIDs: map[string]string{}}
	d.users = newStore(model.ObjUser, schema.Users, (*model.User).Clone, func(u *model.User) *time.Time { return &u.DeletedDateTime })
	d.groups = newStore(model.ObjGroup, schema.Groups, (*model.Group).Clone, func(g *model.Group) *time.Time { return &g.DeletedDateTime })
	d.users.index, d.users.unindex = d.indexUser, d.unindexUser
	d.groups.index = func(r *Rec[model.Group]) {
		if mailRecipient(&r.Obj) {
			d.indexNickname(r.Obj.MailNickname, r.Obj.ID)
		}
	}
	d.groups.unindex = func(r *Rec[model.Group]) { d.unindexNickname(r.Obj.MailNickname, r.Obj.ID) }
	objectDeleted := func(o *model.Object) *time.Time { return &o.DeletedDateTime }
	d.devices = newStore(model.ObjDevice, schema.Devices, (*model.Object).Clone, objectDeleted)
	d.contacts = newStore(model.ObjContact, schema.Contacts, (*model.Object).Clone, objectDeleted)
	d.sps = newStore(model.ObjServicePrincipal, schema.ServicePrincipals, (*model.Object).Clone, objectDeleted)
	d.users.check = (*Tx).checkUserUpdate
	d.groups.check = (*Tx).checkGroupUpdate
	if ds != nil {
		d.load(ds)
	}
	return d
}

// load fills the directory from a generated data set, building the sorted
// id lists and memberOf indexes in one pass each rather than inserting one
// by one.
func (d *Directory) load(ds *gen.Dataset) {
	d.skus = ds.Skus
	for _, u := range ds.Users {
		r := &Rec[model.User]{Obj: u, EverSet: schema.Users.EverSet(&u)}
		d.users.active.byID[u.ID] = r
		d.users.index(r)
	}
	for _, o := range ds.Objects {
		d.objectStore(o.Kind).active.byID[o.ID] = &Rec[model.Object]{Obj: o.Object, EverSet: schema.ForObject(o.Kind).EverSet(&o.Object)}
	}
	for _, s := range d.objectStores() {
		s.active.sortIDs()
	}
	for _, g := range ds.Groups {
		members := slices.Clone(g.Members)
		slices.SortFunc(members, func(a, b model.Ref) int { return strings.Compare(a.ID, b.ID) })
		members = slices.CompactFunc(members, func(a, b model.Ref) bool { return a.ID == b.ID })
		r := &Rec[model.Group]{Obj: g.Group, EverSet: schema.Groups.EverSet(&g.Group), Members: members}
		d.groups.active.byID[g.ID] = r
		d.groups.index(r)
	}
	d.users.active.sortIDs()
	d.groups.active.sortIDs()
	for _, gid := range d.groups.active.ids {
		for _, m := range d.groups.active.byID[gid].Members {
			if p := d.parentsOf(m.ID); p != nil {
				*p = append(*p, gid) // gid ascends, so each list stays sorted
			}
		}
	}
}

// indexUser files a user under its UPN, mail nickname and immutable id.
func (d *Directory) indexUser(r *Rec[model.User]) {
	u := &r.Obj
	d.upns[strings.ToLower(u.UserPrincipalName)] = u.ID
	d.indexNickname(u.MailNickname, u.ID)
	if u.OnPremisesImmutableID != "" {
		d.immutableIDs[u.OnPremisesImmutableID] = u.ID
	}
}

func (d *Directory) unindexUser(r *Rec[model.User]) {
	u := &r.Obj
	if key := strings.ToLower(u.UserPrincipalName); d.upns[key] == u.ID {
		delete(d.upns, key)
	}
	d.unindexNickname(u.MailNickname, u.ID)
	if d.immutableIDs[u.OnPremisesImmutableID] == u.ID {
		delete(d.immutableIDs, u.OnPremisesImmutableID)
	}
}

// Org is the organization the directory belongs to.
func (d *Directory) Org() Org { return d.org }

// ID is the tenant's GUID.
func (d *Directory) ID() string { return d.org.ID }

// Domain is the primary verified domain.
func (d *Directory) Domain() string { return d.org.Domain }

// InitialDomain is the tenant's *.onmicrosoft.com domain.
func (d *Directory) InitialDomain() string { return d.org.InitialDomain }

// Domains lists the tenant's domains.
func (d *Directory) Domains() []model.Domain {
	return []model.Domain{
		{Name: d.org.Domain, IsDefault: true, Verified: true},
		{Name: d.org.InitialDomain, IsInitial: true, Verified: true},
	}
}

// VerifiedDomain reports whether name is one of the tenant's verified
// domains.
func (d *Directory) VerifiedDomain(name string) bool {
	name = strings.ToLower(name)
	return name == d.org.Domain || name == d.org.InitialDomain
}

// Skus lists the subscribed SKUs.
func (d *Directory) Skus() []model.Sku {
	out := slices.Clone(d.skus)
	for i := range out {
		out[i].ServicePlans = slices.Clone(out[i].ServicePlans)
	}
	return out
}

// Now is the directory's time.
func (d *Directory) Now() time.Time { return d.clock.Now() }

// Read calls fn with a view of the directory under the read lock. fn must
// not keep the view, nor change what it reads through it.
func (d *Directory) Read(fn func(v *View)) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	fn(&View{d: d})
}

// Write calls fn with a transaction under the write lock. Every change fn
// makes is in the change log when Write returns; a change fn made before
// it returned an error stays made, as with Graph's own writes, which are
// not transactions either: callers check first, then change.
func (d *Directory) Write(fn func(tx *Tx) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return fn(&Tx{View{d: d}})
}

// View reads the directory under its read lock.
type View struct{ d *Directory }

// Tx changes the directory under its write lock.
type Tx struct{ View }

// exists reports whether any object, active or deleted, has the id.
func (v *View) exists(id string) bool {
	d := v.d
	return d.users.has(id) || d.groups.has(id) || d.devices.has(id) || d.contacts.has(id) || d.sps.has(id)
}

// MemberKind is the kind of an active object that can be a member.
func (v *View) MemberKind(id string) (model.ObjKind, bool) {
	d := v.d
	if _, ok := d.users.active.byID[id]; ok {
		return model.ObjUser, true
	}
	if _, ok := d.groups.active.byID[id]; ok {
		return model.ObjGroup, true
	}
	for _, s := range d.objectStores() {
		if _, ok := s.active.byID[id]; ok {
			return s.kind, true
		}
	}
	return 0, false
}

// parentsOf returns a pointer to the memberOf list of an active object.
func (d *Directory) parentsOf(id string) *[]string {
	if u, ok := d.users.active.byID[id]; ok {
		return &u.memberOf
	}
	if g, ok := d.groups.active.byID[id]; ok {
		return &g.memberOf
	}
	if o := d.object(id); o != nil {
		return &o.memberOf
	}
	return nil
}

// Object returns an active device, contact or service principal.
func (v *View) Object(id string) *Rec[model.Object] { return v.d.object(id) }

func (d *Directory) object(id string) *Rec[model.Object] {
	for _, s := range d.objectStores() {
		if r := s.active.byID[id]; r != nil {
			return r
		}
	}
	return nil
}

func (d *Directory) objectStores() []*store[model.Object] {
	return []*store[model.Object]{&d.devices, &d.contacts, &d.sps}
}

// objectStore is the store of devices, contacts or service principals.
func (d *Directory) objectStore(k model.ObjKind) *store[model.Object] {
	switch k {
	case model.ObjDevice:
		return &d.devices
	case model.ObjContact:
		return &d.contacts
	}
	return &d.sps
}

// UserCount is the number of active users.
func (v *View) UserCount() int { return len(v.d.users.active.ids) }

// now is the time of a change, in Graph's whole seconds.
func (d *Directory) now() time.Time { return d.clock.Now().UTC().Truncate(time.Second) }
