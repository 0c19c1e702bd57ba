package engine_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

func (f *fixture) setSettings(s scope.Settings) {
	f.t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		f.t.Fatal(err)
	}
	f.src.Settings = raw
	if err := f.st.Update(f.ctx, func(tx store.Tx) error { return tx.UpdateSource(f.ctx, f.src) }); err != nil {
		f.t.Fatal(err)
	}
}

func TestUserRuleChangeMovesUsersOutThroughTheTrash(t *testing.T) {
	f := newFixture(t)
	src := sample()
	for i := range src.users {
		src.users[i].Department = []string{"Sales", "Ops"}[i%2]
	}
	f.sync(src, engine.Options{})
	rule, _ := scope.ParseRule("exclude department=Ops")
	f.setSettings(scope.Settings{UserRules: []scope.Rule{rule}, DeletionLimit: scope.DeletionLimit{MaxPercent: 100}})
	run := f.sync(src, engine.Options{})
	// Ten out of scope, and the sample's device.
	if run.Counts.Deleted != 10 || run.Counts.Skipped != 11 || run.Skips["excluded by rule 1: department equals Ops"] != 10 {
		t.Fatalf("counts %+v skips %v", run.Counts, run.Skips)
	}
	u := f.userByName("user02@acme.example")
	if u.State != directory.StateTrash {
		t.Fatalf("an out-of-scope user is %s", u.State)
	}
	// Back in scope: restored with the same id.
	f.setSettings(scope.Settings{})
	f.sync(src, engine.Options{})
	if back := f.userByName("user02@acme.example"); back.ID != u.ID || back.State == directory.StateTrash {
		t.Fatalf("back in scope: %+v", back)
	}
}

func TestDeletionThresholdStopsAndListsThePlan(t *testing.T) {
	f := newFixture(t)
	src := sample()
	f.sync(src, engine.Options{})
	before := f.dump()
	f.setSettings(scope.Settings{DeletionLimit: scope.DeletionLimit{MaxObjects: 3}})
	src.users = src.users[:15] // five leave at once
	run, err := f.eng.Sync(f.ctx, f.src, src, engine.Options{})
	if !errors.Is(err, engine.ErrThreshold) || run.Outcome != directory.OutcomeStopped {
		t.Fatalf("run %s err %v", run.Outcome, err)
	}
	if f.dump() != before {
		t.Fatal("a run past the deletion limit changed the directory")
	}
	deleted := 0
	for _, c := range f.changes(run) {
		if c.Action == directory.ActionDeleted {
			deleted++
		}
	}
	if deleted != 5 {
		t.Fatalf("the stopped run lists %d deletions, want 5", deleted)
	}
	run = f.sync(src, engine.Options{AllowDeletes: true})
	if run.Counts.Deleted != 5 {
		t.Fatalf("confirmed run: %+v", run.Counts)
	}
}

func TestFlattenGroupFilterOnlySelectedGroupsWithNestedMembers(t *testing.T) {
	f := newFixture(t)
	f.setSettings(scope.Settings{Groups: scope.GroupFilter{Mode: scope.ModeFlatten, Selected: []string{"g-all"}}})
	run := f.sync(sample(), engine.Options{})
	// g-all holds g-eng (u1, u2) and u3: three users, one group; 17
	// users out of scope, and the sample's device.
	if run.Counts.Created != 4 || run.Counts.Skipped != 18 {
		t.Fatalf("counts %+v", run.Counts)
	}
	g, err := f.st.GroupByName(f.ctx, f.acc.ID, "Everyone")
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := f.st.Members(f.ctx, f.acc.ID, g.ID, false)
	var names []string
	for _, m := range direct {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{"user01@acme.example", "user02@acme.example", "user03@acme.example"}) {
		t.Fatalf("flattened direct members %v", names)
	}
	if _, err := f.st.GroupByName(f.ctx, f.acc.ID, "Engineering"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a group outside the selection was created")
	}
}

func TestImportOptionsTagsAndUpdateExisting(t *testing.T) {
	f := newFixture(t)
	no := false
	f.setSettings(scope.Settings{Tags: []string{"azure"}, UpdateExisting: &no})
	src := sample()
	f.sync(src, engine.Options{})
	if u := f.userByName("user01@acme.example"); !slices.Equal(u.Tags, []string{"azure"}) {
		t.Fatalf("tags %v", u.Tags)
	}
	src.users[0].Department = "changed"
	run := f.sync(src, engine.Options{})
	if run.Counts.Updated != 0 || f.userByName("user01@acme.example").Department == "changed" {
		t.Fatalf("update-existing off still updated: %+v", run.Counts)
	}
}

// Turning username normalization on later renames users, keeping their ids.
func TestNormalizeUsernamesLaterKeepsIDs(t *testing.T) {
	f := newFixture(t)
	src := sample()
	f.sync(src, engine.Options{})
	id := f.userByName("user01@acme.example").ID
	f.setSettings(scope.Settings{NormalizeUsernames: true})
	run := f.sync(src, engine.Options{})
	if run.Counts.Updated != 20 || run.Counts.Created != 0 {
		t.Fatalf("counts %+v", run.Counts)
	}
	if u := f.userByName("user01"); u.ID != id {
		t.Fatalf("renamed user has id %s, want %s", u.ID, id)
	}
}
