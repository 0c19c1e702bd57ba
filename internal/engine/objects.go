package engine

import (
	"encoding/json"
	"fmt"

	"github.com/dirsync/dirsync/internal/directory"
)

// The changes that are events carry the object's whole state right after
// the change (Change.Object), which their event serves as data.object. A
// plan that will not be applied (a dry run, a run past the deletion limit)
// has no state after it, and skips the work.

// withObject is c with v (a user or group the caller holds as stored,
// links included) as its object.
func (a *applier) withObject(c directory.Change, v any) (directory.Change, error) {
	if a.changes.keep {
		return c, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return c, fmt.Errorf("%s %s: state after the change: %w", c.ObjectKind, c.ObjectID, err)
	}
	c.Object = data
	return c, nil
}

// withStoredObject is c with the state of its user or group as the
// transaction now holds it, read back after a write (the store sets the
// update's time).
func (a *applier) withStoredObject(c directory.Change) (directory.Change, error) {
	if a.changes.keep {
		return c, nil
	}
	var v any
	var err error
	switch c.ObjectKind {
	case directory.MemberUser:
		v, err = a.tx.User(a.ctx, a.src.AccountID, c.ObjectID)
	default:
		v, err = a.tx.Group(a.ctx, a.src.AccountID, c.ObjectID)
	}
	if err != nil {
		return c, fmt.Errorf("%s %s: read back after the change: %w", c.ObjectKind, c.ObjectID, err)
	}
	return a.withObject(c, v)
}

// recordStored records c with its object's state read back.
func (a *applier) recordStored(c directory.Change) error {
	c, err := a.withStoredObject(c)
	if err != nil {
		return err
	}
	return a.record(c)
}
