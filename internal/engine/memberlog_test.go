package engine_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
)

// memberChanges keeps a run's membership changes, without their run and
// number, and with the ids replaced by the names they stand for (a dry
// run's objects have ids that the run rolled back).
func memberChanges(t *testing.T, f *fixture, cs []directory.Change, resolve bool) []directory.Change {
	t.Helper()
	var out []directory.Change
	for _, c := range cs {
		if c.Member == nil {
			continue
		}
		if want := fmt.Sprintf("%s %s (%s)", c.Member.Kind, c.Member.Name, c.Member.ID); c.Detail != want {
			t.Fatalf("change %d detail %q, want %q", c.Seq, c.Detail, want)
		}
		if resolve {
			g, err := f.st.Group(f.ctx, f.acc.ID, c.ObjectID)
			if err != nil || g.Name != c.Name {
				t.Fatalf("change %d names group %s %q: %+v %v", c.Seq, c.ObjectID, c.Name, g, err)
			}
		}
		if len(c.Object) > 0 {
			var object directory.Membership
			if err := json.Unmarshal(c.Object, &object); err != nil ||
				object != (directory.Membership{GroupID: c.ObjectID, MemberKind: c.Member.Kind, MemberID: c.Member.ID}) {
				t.Fatalf("change %d: object %s (%v)", c.Seq, c.Object, err)
			}
		}
		m := *c.Member
		c.RunID, c.Seq, c.ObjectID, c.Detail, m.ID, c.Member, c.Object = "", 0, "", "", "", &m, nil
		out = append(out, c)
	}
	return out
}

// TestMembershipChangesRecordedSetWiseAsPlanned checks that the changes and
// events the store writes set-wise for the memberships a run adds and
// removes are those the page-wise path plans (a dry run's preview): same
// changes in the same order, each with its event carrying what the change
// says.
func TestMembershipChangesRecordedSetWiseAsPlanned(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := sample()
		for _, step := range []func(){
			func() {}, // the first sync: every membership added
			func() { // one removed, one group nested, a user moved
				src.members = append(src.members[1:],
					directory.SourceMembership{GroupExternalID: "g-eng", MemberExternalID: "u7", MemberKind: directory.MemberUser},
					directory.SourceMembership{GroupExternalID: "g-eng", MemberExternalID: "g-all", MemberKind: directory.MemberGroup})
				src.members[2].MemberExternalID = "u9"
			},
		} {
			step()
			plan := memberChanges(t, f, f.changes(f.sync(src, engine.Options{DryRun: true})), false)
			var last int64
			if evs, _ := f.st.Events(f.ctx, f.acc.ID, 0, 0); len(evs) > 0 {
				last = evs[len(evs)-1].Seq
			}
			run := f.sync(src, engine.Options{})
			all := f.changes(run)
			got := memberChanges(t, f, all, true)
			if len(got) == 0 || !reflect.DeepEqual(got, plan) {
				t.Fatalf("applied membership changes:\n%+v\nplanned:\n%+v", got, plan)
			}
			for i, c := range all {
				if c.Seq != i+1 {
					t.Fatalf("change %d numbered %d", i+1, c.Seq)
				}
			}
			evs, err := f.st.Events(f.ctx, f.acc.ID, last, 0)
			if err != nil {
				t.Fatal(err)
			}
			var bodies []directory.Change
			applied := memberChanges(t, f, all, false)
			types := map[string]int{}
			for _, e := range evs {
				var b struct {
					directory.Change
					Source string `json:"source"`
				}
				if err := json.Unmarshal(e.Data, &b); err != nil {
					t.Fatalf("event %s: %v", e.Data, err)
				}
				if b.Member == nil {
					continue
				}
				if e.RunID != run.ID || e.SourceID != f.src.ID || b.Source != f.src.Name || e.Time.IsZero() {
					t.Fatalf("event %+v of run %s", e, run.ID)
				}
				var object directory.Membership
				if err := json.Unmarshal(b.Object, &object); err != nil ||
					object != (directory.Membership{GroupID: b.ObjectID, MemberKind: b.Member.Kind, MemberID: b.Member.ID}) {
					t.Fatalf("event %s: object %s (%v)", e.Data, b.Object, err)
				}
				b.Object = nil
				types[e.Type]++
				b.Action = plan[len(bodies)].Action // the event says it by its type
				bodies = append(bodies, b.Change)
			}
			bodies = memberChanges(t, f, bodies, false)
			if !reflect.DeepEqual(bodies, applied) {
				t.Fatalf("membership events:\n%+v\nplanned changes:\n%+v", bodies, plan)
			}
			want := map[string]int{}
			for _, c := range plan {
				typ := map[[2]string]string{
					{string(directory.ActionMemberAdded), "user"}:    directory.EventGroupUserAdded,
					{string(directory.ActionMemberAdded), "group"}:   directory.EventGroupGroupAdded,
					{string(directory.ActionMemberRemoved), "user"}:  directory.EventGroupUserRemoved,
					{string(directory.ActionMemberRemoved), "group"}: directory.EventGroupGroupRemoved,
				}[[2]string{string(c.Action), string(c.Member.Kind)}]
				want[typ]++
			}
			if !reflect.DeepEqual(types, want) {
				t.Fatalf("event types %v, want %v", types, want)
			}
		}
	})
}
