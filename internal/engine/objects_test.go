package engine_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
)

// eventBody is the part of an event's data this file reads.
type eventBody struct {
	ObjectID   string                 `json:"object_id"`
	Attributes []directory.AttrChange `json:"attributes"`
	Object     json.RawMessage        `json:"object"`
}

// shown is a user or group as the API shows it, as JSON.
func shown(t *testing.T, v interface{ Normalize() }) string {
	t.Helper()
	v.Normalize()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEventObjectIsTheStateAfterItsChange: each event of a user or group
// carries the object as it stood right after that change, not as it
// stands now: a user changed in two runs has two user.updated events,
// each with its own state (and its previous values); a user moved to the
// trash carries its trashed state; a membership's event carries the
// membership.
func TestEventObjectIsTheStateAfterItsChange(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := sample()
		f.sync(src, engine.Options{})
		states := map[string]string{} // user01's states, by the run that made them
		snap := func() string {
			u := f.userByName("user01@acme.example")
			return shown(t, &u)
		}
		states["created"] = snap()
		time.Sleep(5 * time.Millisecond) // a later updated_at
		src.users[0].Department = "R&D"
		f.sync(src, engine.Options{})
		states["r&d"] = snap()
		time.Sleep(5 * time.Millisecond)
		src.users[0].Department = "Ops"
		src.users[0].Enabled = false
		src.users = slices.Delete(src.users, 1, 2) // user02 leaves
		src.groups[0].Name = "Engineering & Ops"
		f.sync(src, engine.Options{})
		states["ops"] = snap()
		if states["r&d"] == states["ops"] {
			t.Fatal("the two updates left the same state")
		}

		u1 := f.userByName("user01@acme.example")
		u2 := f.userByName("user02@acme.example")
		eng, err := f.st.GroupByName(f.ctx, f.acc.ID, "Engineering & Ops")
		if err != nil {
			t.Fatal(err)
		}
		evs, err := f.st.Events(f.ctx, f.acc.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string // user01's events: type, department before, object
		for _, e := range evs {
			var b eventBody
			if err := json.Unmarshal(e.Data, &b); err != nil {
				t.Fatal(err)
			}
			switch {
			case e.Type == directory.EventSyncCompleted:
				continue
			case len(b.Object) == 0:
				t.Fatalf("event %s %s has no object: %s", e.Type, e.ID, e.Data)
			case b.ObjectID == u1.ID:
				before := ""
				for _, a := range b.Attributes {
					if a.Attribute == "department" {
						before, _ = a.Before.(string)
						if a.After != u1Department(t, b.Object) {
							t.Errorf("%s: department after %v, the object's %v", e.Type, a.After, u1Department(t, b.Object))
						}
					}
				}
				got = append(got, e.Type+" "+before+" "+string(b.Object))
			case b.ObjectID == u2.ID && e.Type == directory.EventUserDeleted:
				if string(b.Object) != shown(t, &u2) || u2.State != directory.StateTrash {
					t.Errorf("user.deleted object %s, stored %s", b.Object, shown(t, &u2))
				}
			case b.ObjectID == eng.ID && e.Type == directory.EventGroupUpdated:
				if string(b.Object) != shown(t, &eng) {
					t.Errorf("group.updated object %s, stored %s", b.Object, shown(t, &eng))
				}
			case e.Type == directory.EventGroupUserAdded || e.Type == directory.EventGroupGroupAdded:
				var m directory.Membership
				if err := json.Unmarshal(b.Object, &m); err != nil || m.GroupID != b.ObjectID || m.MemberID == "" {
					t.Errorf("%s object %s (%v)", e.Type, b.Object, err)
				}
			}
		}
		want := []string{
			directory.EventUserCreated + "  " + states["created"],
			directory.EventUserUpdated + "  " + states["r&d"],
			directory.EventUserUpdated + " R&D " + states["ops"],
			directory.EventUserDisabled + "  " + states["ops"],
		}
		if !slices.Equal(got, want) {
			t.Fatalf("user01's events:\n%s\nwant:\n%s", join(got), join(want))
		}
	})
}

func u1Department(t *testing.T, object json.RawMessage) any {
	var u directory.User
	if err := json.Unmarshal(object, &u); err != nil {
		t.Fatal(err)
	}
	return u.Department
}

func join(s []string) string {
	out := ""
	for _, l := range s {
		out += l + "\n"
	}
	return out
}
