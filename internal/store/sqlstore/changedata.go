package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/dirsync/dirsync/internal/directory"
)

// How a run's change is stored (changes.data). A change that is an event
// holds the object's whole state after it (Change.Object), which its
// event serves, referring to the change rather than copying it (events.
// change_seq). So that the state costs little beside what the change held
// before:
//   - a creation keeps no attributes: they are the object's own, each
//     from nothing (DiffUsers or DiffGroups of the object, rebuilt on read);
//   - any other change keeps of each changed attribute its value before,
//     and its value after only where the object does not hold it as is
//     (an attribute emptied, which the object leaves out);
//   - a membership's change keeps no detail (directory.MemberDetail of
//     its member, rebuilt on read);
//   - the run and the change's number are the row's columns, not data.
//
// Rows written before (every field in data) read as they are.

// storedChange is a change as changes.data holds it.
type storedChange struct {
	ObjectKind directory.MemberKind   `json:"object_kind"`
	ObjectID   string                 `json:"object_id,omitempty"`
	ExternalID string                 `json:"external_id,omitempty"`
	Name       string                 `json:"name"`
	Action     directory.ChangeAction `json:"action"`
	Attributes []storedAttr           `json:"attributes,omitempty"`
	Member     *directory.Member      `json:"member,omitempty"`
	Detail     string                 `json:"detail,omitempty"`
	Object     json.RawMessage        `json:"object,omitempty"`
}

// storedAttr is an attribute's change; After is absent when the object
// holds it.
type storedAttr struct {
	Attribute string          `json:"attribute"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after,omitempty"`
}

// encodeChange is c as changes.data stores it.
func encodeChange(c directory.Change) (string, error) {
	s := storedChange{ObjectKind: c.ObjectKind, ObjectID: c.ObjectID, ExternalID: c.ExternalID, Name: c.Name, Action: c.Action,
		Member: c.Member, Detail: c.Detail, Object: c.Object}
	if c.Member != nil && c.Detail == directory.MemberDetail(*c.Member) {
		s.Detail = ""
	}
	if c.Member != nil {
		s.Object, c.Object = nil, nil // the membership: the change's own fields
	}
	var fields map[string]json.RawMessage
	if len(c.Object) > 0 {
		if c.Action == directory.ActionCreated && len(c.Attributes) > 0 {
			if derived, ok := createdAttributes(c.ObjectKind, c.Object); ok && sameJSON(derived, c.Attributes) {
				c.Attributes = nil
			}
		}
		if len(c.Attributes) > 0 {
			if err := json.Unmarshal(c.Object, &fields); err != nil {
				return "", fmt.Errorf("object of %s %s: %w", c.ObjectKind, c.ObjectID, err)
			}
		}
	}
	for _, a := range c.Attributes {
		before, err := json.Marshal(a.Before)
		if err != nil {
			return "", err
		}
		after, err := json.Marshal(a.After)
		if err != nil {
			return "", err
		}
		if held, ok := fields[a.Attribute]; ok && bytes.Equal(held, after) {
			after = nil
		}
		s.Attributes = append(s.Attributes, storedAttr{a.Attribute, before, after})
	}
	data, err := json.Marshal(s)
	return string(data), err
}

// decodeChange reads changes.data into the change it stores, its object
// as answers show it.
func decodeChange(data string) (directory.Change, error) {
	var s storedChange
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return directory.Change{}, err
	}
	shown, created := directory.ReadObject(s.ObjectKind, s.Object)
	c := directory.Change{ObjectKind: s.ObjectKind, ObjectID: s.ObjectID, ExternalID: s.ExternalID, Name: s.Name, Action: s.Action,
		Member: s.Member, Detail: s.Detail, Object: shown}
	if c.Member != nil && c.Detail == "" {
		c.Detail = directory.MemberDetail(*c.Member)
	}
	if c.Member != nil && c.ObjectKind == directory.MemberGroup && c.ObjectID != "" {
		// A membership's state is the membership itself, which the change names.
		c.Object, _ = json.Marshal(directory.Membership{GroupID: c.ObjectID, MemberKind: c.Member.Kind, MemberID: c.Member.ID})
	}
	if len(s.Object) > 0 && len(s.Attributes) == 0 && s.Action == directory.ActionCreated {
		c.Attributes = created
		return c, nil
	}
	var fields map[string]json.RawMessage
	for _, a := range s.Attributes {
		ac := directory.AttrChange{Attribute: a.Attribute}
		after := a.After
		if len(after) == 0 && len(s.Object) > 0 {
			if fields == nil {
				if err := json.Unmarshal(s.Object, &fields); err != nil {
					return directory.Change{}, err
				}
			}
			after = fields[a.Attribute]
		}
		for _, v := range []struct {
			raw json.RawMessage
			to  *any
		}{{a.Before, &ac.Before}, {after, &ac.After}} {
			if len(v.raw) > 0 {
				if err := json.Unmarshal(v.raw, v.to); err != nil {
					return directory.Change{}, err
				}
			}
		}
		c.Attributes = append(c.Attributes, ac)
	}
	return c, nil
}

// createdAttributes are the attributes a creation of the object sets:
// each of its own, from nothing, as directory.ReadObject gives them on
// read. (ReadObject also writes the object again as answers show it,
// which a write does not need: that was half the cost of preparing a
// first sync's users.)
func createdAttributes(kind directory.MemberKind, object json.RawMessage) ([]directory.AttrChange, bool) {
	var created []directory.AttrChange
	switch kind {
	case directory.MemberUser:
		var u directory.User
		if json.Unmarshal(object, &u) != nil {
			return nil, false
		}
		created = directory.DiffUsers(directory.UserAttributes{}, u.UserAttributes)
	case directory.MemberGroup:
		var g directory.Group
		if json.Unmarshal(object, &g) != nil {
			return nil, false
		}
		created = directory.DiffGroups(directory.GroupAttributes{}, g.GroupAttributes)
	}
	return created, created != nil
}

// sameJSON says whether a and b write the same JSON.
func sameJSON(a, b []directory.AttrChange) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
