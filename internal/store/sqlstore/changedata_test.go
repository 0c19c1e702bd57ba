package sqlstore

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dirsync/dirsync/internal/directory"
)

// TestStoredChangeReadsBackAsWritten: what encodeChange leaves out (a
// creation's attributes, the values after that the object holds) reads
// back as it was, and what the object cannot give back (an emptied
// attribute, which the object omits) is kept.
func TestStoredChangeReadsBackAsWritten(t *testing.T) {
	u := directory.User{ID: "u1", AccountID: "a", Enabled: true, State: directory.StateActive,
		UserAttributes: directory.UserAttributes{Username: "alice@example.com", DisplayName: "Alice", BusinessPhones: []string{"+1 555 0100"}},
		Sources:        []directory.SourceLink{{SourceID: "s", Source: "entra", ExternalID: "x1"}}}
	object, _ := json.Marshal(u)
	g := directory.Group{ID: "g1", AccountID: "a", State: directory.StateActive, GroupAttributes: directory.GroupAttributes{Name: "Sales", SecurityEnabled: true}}
	gobject, _ := json.Marshal(g)
	for _, tc := range []struct {
		name      string
		c         directory.Change
		stored    []string // in the stored data
		notStored []string // not in it
	}{
		{"user created", directory.Change{ObjectKind: directory.MemberUser, ObjectID: u.ID, ExternalID: "x1", Name: u.Username, Action: directory.ActionCreated,
			Attributes: directory.DiffUsers(directory.UserAttributes{}, u.UserAttributes), Object: object},
			[]string{`"object":{`}, []string{`"attributes"`, `"run_id"`, `"seq"`}},
		{"group created", directory.Change{ObjectKind: directory.MemberGroup, ObjectID: g.ID, Name: g.Name, Action: directory.ActionCreated,
			Attributes: directory.DiffGroups(directory.GroupAttributes{}, g.GroupAttributes), Object: gobject},
			nil, []string{`"attributes"`}},
		{"user updated, one attribute emptied", directory.Change{ObjectKind: directory.MemberUser, ObjectID: u.ID, Name: u.Username, Action: directory.ActionUpdated,
			Attributes: []directory.AttrChange{{Attribute: "display_name", Before: "Al", After: "Alice"}, {Attribute: "email", Before: "al@example.com", After: ""}},
			Object:     object},
			[]string{`{"attribute":"display_name","before":"Al"}`, `{"attribute":"email","before":"al@example.com","after":""}`}, nil},
		{"member added", directory.Change{ObjectKind: directory.MemberGroup, ObjectID: g.ID, Name: g.Name, Action: directory.ActionMemberAdded,
			Member: &directory.Member{Kind: directory.MemberUser, ID: u.ID, Name: u.Username}, Detail: "user alice@example.com (u1)"},
			[]string{`"member":{`}, []string{`"detail"`, `"object"`}},
		{"conflict, no object", directory.Change{ObjectKind: directory.MemberUser, ObjectID: "u9", Name: "bob", Action: directory.ActionConflict, Detail: "held"},
			[]string{`"detail":"held"`}, []string{`"object"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := encodeChange(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.stored {
				if !strings.Contains(data, s) {
					t.Errorf("stored %s, without %s", data, s)
				}
			}
			for _, s := range tc.notStored {
				if strings.Contains(data, s) {
					t.Errorf("stored %s, with %s", data, s)
				}
			}
			got, err := decodeChange(data)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.c
			want.Object = directory.ShownObject(want.ObjectKind, want.Object)
			if want.Member != nil {
				want.Object, _ = json.Marshal(directory.Membership{GroupID: want.ObjectID, MemberKind: want.Member.Kind, MemberID: want.Member.ID})
			}
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if string(wj) != string(gj) {
				t.Fatalf("read back\n%s\nwrote\n%s", gj, wj)
			}
		})
	}
	// A row of an older release, every field in its data, reads as it is.
	old := `{"run_id":"r","seq":3,"object_kind":"user","object_id":"u1","name":"alice","action":"updated","attributes":[{"attribute":"department","before":"A","after":"B"}]}`
	c, err := decodeChange(old)
	if err != nil || !reflect.DeepEqual(c.Attributes, []directory.AttrChange{{Attribute: "department", Before: "A", After: "B"}}) || c.Object != nil {
		t.Fatalf("older row read as %+v (%v)", c, err)
	}
}

// TestCreatedAttributesAsRead: the attributes a write leaves out of a
// creation are those its read gives back (directory.ReadObject).
func TestCreatedAttributesAsRead(t *testing.T) {
	u := directory.User{ID: "u1", AccountID: "a", Enabled: true, State: directory.StateActive,
		UserAttributes: directory.UserAttributes{Username: "alice@example.com", Email: "alice@example.com", DisplayName: "Alice",
			BusinessPhones: []string{"+1 555 0100"}, Licenses: []string{"l1"}, ProxyAddresses: []string{"SMTP:alice@example.com"}}}
	g := directory.Group{ID: "g1", AccountID: "a", State: directory.StateActive,
		GroupAttributes: directory.GroupAttributes{Name: "Sales", SecurityEnabled: true, GroupTypes: []string{"Unified"}}}
	for _, tc := range []struct {
		kind directory.MemberKind
		obj  any
	}{{directory.MemberUser, u}, {directory.MemberGroup, g}, {directory.MemberUser, directory.User{ID: "empty"}}} {
		object, _ := json.Marshal(tc.obj)
		_, want := directory.ReadObject(tc.kind, object)
		got, ok := createdAttributes(tc.kind, object)
		if !reflect.DeepEqual(got, want) || ok != (want != nil) {
			t.Errorf("%s %s: createdAttributes %v, %v, want %v as read", tc.kind, object, got, ok, want)
		}
	}
}

// TestPreparedCreationAttributesAsRead: a prepared user's creation whose
// attributes ownAttributes leaves out reads back with those encodeChange
// would have kept or rebuilt: lists empty or absent, invalid UTF-8,
// characters JSON escapes.
func TestPreparedCreationAttributesAsRead(t *testing.T) {
	for _, attrs := range []directory.UserAttributes{
		{Username: "ann@x.com", Email: "ann@x.com", DisplayName: "Ann <&> \u2028", Licenses: []string{"l1"}, BusinessPhones: []string{}},
		{Username: "bad\xff@x.com", DisplayName: "B\xfe", ProxyAddresses: []string{"smtp:\xff", ""}},
		{Username: "c@x.com"},
	} {
		u := directory.User{ID: "u1", AccountID: "a", UserAttributes: attrs, Enabled: true, State: directory.StateActive,
			Sources: []directory.SourceLink{{SourceID: "s", Source: "entra", ExternalID: "x"}}}
		object, _ := json.Marshal(u)
		ch := directory.Change{ObjectKind: directory.MemberUser, ObjectID: u.ID, ExternalID: "x", Name: u.Username,
			Action: directory.ActionCreated, Attributes: directory.DiffUsers(directory.UserAttributes{}, attrs), Object: object}
		full, err := encodeChange(ch)
		if err != nil {
			t.Fatal(err)
		}
		lean := ch
		lean.Attributes = ownAttributes(ch, attrs)
		if valid := utf8.ValidString(attrs.Username + attrs.DisplayName + strings.Join(attrs.ProxyAddresses, "")); valid != (lean.Attributes == nil) {
			t.Errorf("%q: attributes kept %v", attrs.Username, lean.Attributes)
		}
		short, err := encodeChange(lean)
		if err != nil {
			t.Fatal(err)
		}
		if short != full {
			t.Errorf("%q: stored as\n%s\nwhere encodeChange stores\n%s", attrs.Username, short, full)
		}
	}
	other := directory.Change{Action: directory.ActionCreated, Attributes: []directory.AttrChange{{Attribute: "username", After: "z"}}}
	if got := ownAttributes(other, directory.UserAttributes{Username: "y"}); !reflect.DeepEqual(got, other.Attributes) {
		t.Errorf("attributes not the user's own: %v, want them kept", got)
	}
}
