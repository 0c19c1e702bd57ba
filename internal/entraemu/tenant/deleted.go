package tenant

import (
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// Deleted items are purged after 30 days. The check runs when one could be
// due, without taking the write lock on every request.

// Maintain purges the deleted items whose 30 days have passed.
func (d *Directory) Maintain() {
	d.mu.RLock()
	due := !d.earliestDeletion.IsZero() && d.clock.Now().Sub(d.earliestDeletion) >= DeletedRetention
	d.mu.RUnlock()
	if due {
		d.mu.Lock()
		d.expireDeleted()
		d.mu.Unlock()
	}
}

func (d *Directory) noteDeletion(at time.Time) {
	if d.earliestDeletion.IsZero() || at.Before(d.earliestDeletion) {
		d.earliestDeletion = at
	}
}

// expireDeleted purges deleted items older than 30 days, in id order.
// Called with the write lock held.
func (d *Directory) expireDeleted() {
	now := d.clock.Now()
	d.earliestDeletion = time.Time{}
	expire(d, &d.users, now)
	expire(d, &d.groups, now)
}

func expire[T any](d *Directory, s *store[T], now time.Time) {
	for _, id := range append([]string(nil), s.deleted.ids...) {
		at := *s.deletedAt(&s.deleted.byID[id].Obj)
		if now.Sub(at) >= DeletedRetention {
			s.deleted.remove(id)
			d.record(change{kind: s.kind, id: id, op: opPurge})
			continue
		}
		d.noteDeletion(at)
	}
}

// DeletedKind returns the kind of an object in deleted items.
func (v *View) DeletedKind(id string) (model.ObjKind, bool) {
	if _, ok := v.d.users.deleted.byID[id]; ok {
		return model.ObjUser, true
	}
	if _, ok := v.d.groups.deleted.byID[id]; ok {
		return model.ObjGroup, true
	}
	return 0, false
}

// Restore brings an object back from deleted items.
func (tx *Tx) Restore(id string) (model.ObjKind, error) {
	kind, ok := tx.DeletedKind(id)
	if !ok {
		return 0, model.NotFound(id)
	}
	var err error
	if kind == model.ObjUser {
		_, err = tx.RestoreUser(id)
	} else {
		_, err = tx.RestoreGroup(id)
	}
	return kind, err
}

// PurgeDeleted deletes an object in deleted items for good.
func (tx *Tx) PurgeDeleted(id string) error {
	d := tx.d
	kind, ok := tx.DeletedKind(id)
	if !ok {
		return model.NotFound(id)
	}
	if kind == model.ObjUser {
		d.users.deleted.remove(id)
	} else {
		d.groups.deleted.remove(id)
	}
	d.record(change{kind: kind, id: id, op: opPurge})
	return nil
}
