package tenant

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/schema"
)

// Rec is a user or group as the directory keeps it.
type Rec[T any] struct {
	Obj T
	// EverSet has the bits of the properties that have held a value:
	// delta responses omit the others.
	EverSet uint64
	// Members are a group's direct members, sorted by id.
	Members  []model.Ref
	memberOf []string // direct parent groups, sorted
	saved    []string // parent groups to rejoin on restore, while deleted
}

// MemberOf are the groups the object is a direct member of, sorted.
func (r *Rec[T]) MemberOf() []string { return r.memberOf }

// collection is a set of records with their ids kept sorted, so lists and
// delta rounds page in id order without sorting.
type collection[T any] struct {
	byID map[string]*Rec[T]
	ids  []string
}

func (c *collection[T]) add(id string, r *Rec[T]) {
	c.byID[id] = r
	c.ids, _ = insertSorted(c.ids, id)
}

func (c *collection[T]) remove(id string) {
	delete(c.byID, id)
	c.ids, _ = removeSorted(c.ids, id)
}

func (c *collection[T]) sortIDs() {
	c.ids = make([]string, 0, len(c.byID))
	for id := range c.byID {
		c.ids = append(c.ids, id)
	}
	slices.Sort(c.ids)
}

// store is the directory's part for one kind of object: the active ones
// and those in deleted items, with hooks for the kind's own indexes.
type store[T any] struct {
	kind    model.ObjKind
	table   *schema.Table[T]
	clone   func(*T) T
	active  collection[T]
	deleted collection[T]
	index   func(r *Rec[T]) // r became active
	unindex func(r *Rec[T]) // r is no longer active
	// check refuses an update of old to next that Graph would refuse.
	check func(tx *Tx, old, next *T) error
	// deletedAt is the object's deletedDateTime.
	deletedAt func(*T) *time.Time
}

func newStore[T any](kind model.ObjKind, table *schema.Table[T], clone func(*T) T, deletedAt func(*T) *time.Time) store[T] {
	nop := func(*Rec[T]) {}
	return store[T]{
		kind: kind, table: table, clone: clone, deletedAt: deletedAt,
		active:  collection[T]{byID: map[string]*Rec[T]{}},
		deleted: collection[T]{byID: map[string]*Rec[T]{}},
		index:   nop, unindex: nop,
		check: func(*Tx, *T, *T) error { return nil },
	}
}

func (s *store[T]) has(id string) bool {
	_, a := s.active.byID[id]
	_, d := s.deleted.byID[id]
	return a || d
}

func (s *store[T]) activate(r *Rec[T]) {
	s.active.add(s.table.ID(&r.Obj), r)
	s.index(r)
}

func (s *store[T]) deactivate(r *Rec[T]) {
	s.active.remove(s.table.ID(&r.Obj))
	s.unindex(r)
}

// softDelete moves an object that left the active set to deleted items,
// restorable for 30 days.
func (s *store[T]) softDelete(d *Directory, r *Rec[T]) {
	id := s.table.ID(&r.Obj)
	at := d.now()
	*s.deletedAt(&r.Obj) = at
	s.deleted.add(id, r)
	d.noteDeletion(at)
	d.record(change{kind: s.kind, id: id, op: opSoftDelete})
}

// restore takes an object out of deleted items into the active set.
func (s *store[T]) restore(d *Directory, r *Rec[T]) {
	id := s.table.ID(&r.Obj)
	s.deleted.remove(id)
	*s.deletedAt(&r.Obj) = time.Time{}
	s.activate(r)
	d.record(change{kind: s.kind, id: id, op: opRestore, props: s.table.AllMask})
}

// written runs fn in a transaction and returns a copy of the object it
// wrote.
func written[T any](d *Directory, s func(*Directory) *store[T], fn func(tx *Tx) (*Rec[T], error)) (T, error) {
	var out T
	err := d.Write(func(tx *Tx) error {
		r, err := fn(tx)
		if err == nil {
			out = s(d).clone(&r.Obj)
		}
		return err
	})
	return out, err
}

// Kind gives generic access to one kind of object of any directory: the
// users, the groups, the devices, the contacts or the service principals.
type Kind[T any] struct {
	obj   model.ObjKind
	table *schema.Table[T]
	store func(*Directory) *store[T]
	// find looks up an active object by key (users: id or UPN).
	find func(*Directory, string) *Rec[T]
}

// The kinds of objects.
var (
	Users = &Kind[model.User]{
		obj:   model.ObjUser,
		table: schema.Users,
		store: func(d *Directory) *store[model.User] { return &d.users },
		find:  (*Directory).lookupUser,
	}
	Groups = &Kind[model.Group]{
		obj:   model.ObjGroup,
		table: schema.Groups,
		store: func(d *Directory) *store[model.Group] { return &d.groups },
		find:  func(d *Directory, id string) *Rec[model.Group] { return d.groups.active.byID[id] },
	}
	Devices           = objectKind(model.ObjDevice, schema.Devices, func(d *Directory) *store[model.Object] { return &d.devices })
	Contacts          = objectKind(model.ObjContact, schema.Contacts, func(d *Directory) *store[model.Object] { return &d.contacts })
	ServicePrincipals = objectKind(model.ObjServicePrincipal, schema.ServicePrincipals, func(d *Directory) *store[model.Object] { return &d.sps })
)

func objectKind(k model.ObjKind, t *schema.Table[model.Object], s func(*Directory) *store[model.Object]) *Kind[model.Object] {
	return &Kind[model.Object]{obj: k, table: t, store: s, find: func(d *Directory, id string) *Rec[model.Object] { return s(d).active.byID[id] }}
}

// Obj is the kind of object.
func (k *Kind[T]) Obj() model.ObjKind { return k.obj }

// Table is the kind's property table.
func (k *Kind[T]) Table() *schema.Table[T] { return k.table }

// IDs are the ids of the active objects, sorted. The slice must not be
// changed, nor kept past the View.
func (k *Kind[T]) IDs(v *View) []string { return k.store(v.d).active.ids }

// Get returns an active object by id.
func (k *Kind[T]) Get(v *View, id string) *Rec[T] { return k.store(v.d).active.byID[id] }

// Find returns an active object by key: an id, or a UPN for users.
func (k *Kind[T]) Find(v *View, key string) *Rec[T] { return k.find(v.d, model.NormID(key)) }

// DeletedIDs are the ids of the objects in deleted items, sorted.
func (k *Kind[T]) DeletedIDs(v *View) []string { return k.store(v.d).deleted.ids }

// Deleted returns an object in deleted items.
func (k *Kind[T]) Deleted(v *View, id string) *Rec[T] { return k.store(v.d).deleted.byID[id] }

// List returns copies of the active objects, sorted by id.
func (k *Kind[T]) List(d *Directory) []T {
	return k.list(d, func(s *store[T]) *collection[T] { return &s.active })
}

// ListDeleted returns copies of the objects in deleted items, sorted by id.
func (k *Kind[T]) ListDeleted(d *Directory) []T {
	return k.list(d, func(s *store[T]) *collection[T] { return &s.deleted })
}

func (k *Kind[T]) list(d *Directory, pick func(*store[T]) *collection[T]) []T {
	d.mu.RLock()
	defer d.mu.RUnlock()
	s := k.store(d)
	c := pick(s)
	out := make([]T, 0, len(c.ids))
	for _, id := range c.ids {
		out = append(out, s.clone(&c.byID[id].Obj))
	}
	return out
}

// Lookup returns a copy of an active object by key.
func (k *Kind[T]) Lookup(d *Directory, key string) (T, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	r := k.find(d, model.NormID(key))
	if r == nil {
		var zero T
		return zero, false
	}
	return k.store(d).clone(&r.Obj), true
}

// Update changes an active object: fn edits a copy, and the properties
// that differ afterwards are checked and recorded as changed.
func (k *Kind[T]) Update(d *Directory, key string, fn func(*T)) (T, error) {
	var out T
	err := d.Write(func(tx *Tx) error {
		r := k.find(d, model.NormID(key))
		if r == nil {
			return model.NotFound(key)
		}
		next := k.store(d).clone(&r.Obj)
		fn(&next)
		if err := k.Apply(tx, r, next); err != nil {
			return err
		}
		out = k.store(d).clone(&r.Obj)
		return nil
	})
	return out, err
}

// Patch sets properties by their Graph names, as PATCH does:
// {"jobTitle": "Counsel", "mobilePhone": null}. Read-only properties are
// refused.
func (k *Kind[T]) Patch(d *Directory, key string, props map[string]any) error {
	body := make(map[string]json.RawMessage, len(props))
	for name, v := range props {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("entraemu: property %s: %w", name, err)
		}
		body[name] = b
	}
	return d.Write(func(tx *Tx) error {
		r := k.find(d, model.NormID(key))
		if r == nil {
			return model.NotFound(key)
		}
		return k.PatchRec(tx, r, body)
	})
}

// PatchRec applies a PATCH body to r.
func (k *Kind[T]) PatchRec(tx *Tx, r *Rec[T], body map[string]json.RawMessage) error {
	s := k.store(tx.d)
	next := s.clone(&r.Obj)
	if err := s.table.Apply(&next, body, skippedOnPatch...); err != nil {
		return err
	}
	return k.Apply(tx, r, next)
}

// skippedOnPatch are members a PATCH body may hold that are not properties
// of the object: write-only ones and relationship binds.
var skippedOnPatch = []string{"passwordProfile", "members@odata.bind", "owners@odata.bind"}

// Apply replaces r's object with next after checking it, and records the
// properties that changed.
func (k *Kind[T]) Apply(tx *Tx, r *Rec[T], next T) error {
	d := tx.d
	s := k.store(d)
	if err := s.check(tx, &r.Obj, &next); err != nil {
		return err
	}
	mask := s.table.Diff(&r.Obj, &next)
	if mask == 0 {
		return nil
	}
	s.unindex(r)
	r.Obj = s.clone(&next)
	s.index(r)
	r.EverSet |= mask
	d.record(change{kind: s.kind, id: s.table.ID(&r.Obj), op: opUpdate, props: mask})
	return nil
}

// Purge deletes an object for good, active or in deleted items.
func (k *Kind[T]) Purge(d *Directory, key string) error {
	return d.Write(func(tx *Tx) error {
		s := k.store(d)
		id := model.NormID(key)
		if r := k.find(d, id); r != nil {
			id = s.table.ID(&r.Obj)
			tx.detach(s.kind, id, &r.memberOf, r.Members)
			s.deactivate(r)
		} else if _, ok := s.deleted.byID[id]; ok {
			s.deleted.remove(id)
		} else {
			return model.NotFound(id)
		}
		d.record(change{kind: s.kind, id: id, op: opPurge})
		return nil
	})
}

// insertSorted adds s to the sorted slice ss if absent and reports whether
// it did.
func insertSorted(ss []string, s string) ([]string, bool) {
	i, found := slices.BinarySearch(ss, s)
	if found {
		return ss, false
	}
	return slices.Insert(ss, i, s), true
}

// removeSorted removes s from the sorted slice ss and reports whether it was
// there.
func removeSorted(ss []string, s string) ([]string, bool) {
	i, found := slices.BinarySearch(ss, s)
	if !found {
		return ss, false
	}
	return slices.Delete(ss, i, i+1), true
}

func findMember(ms []model.Ref, id string) (int, bool) {
	return slices.BinarySearchFunc(ms, id, func(a model.Ref, id string) int { return strings.Compare(a.ID, id) })
}
