package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

// lookupSource is a source that also looks up one user (by id or UPN, as
// Graph does) and the groups above a group.
type lookupSource struct {
	*source
	lookups []string
}

func (s *lookupSource) LookupUser(_ context.Context, who string) (directory.SourceUser, []directory.SourceMembership, error) {
	s.lookups = append(s.lookups, who)
	for _, u := range s.users {
		if u.ExternalID == who || strings.EqualFold(u.Username, who) {
			var ms []directory.SourceMembership
			for _, m := range s.members {
				if m.MemberExternalID == u.ExternalID {
					ms = append(ms, m)
				}
			}
			return u, ms, nil
		}
	}
	return directory.SourceUser{}, nil, connector.Errorf(connector.KindNotFound, "user %q was not found", who)
}

func (s *lookupSource) ParentGroups(_ context.Context, groups []string) ([]directory.SourceMembership, error) {
	var out []directory.SourceMembership
	for _, m := range s.members {
		if m.MemberKind == directory.MemberGroup && slices.Contains(groups, m.MemberExternalID) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (f *fixture) syncUser(src connector.Connector, who string) (directory.Run, error) {
	f.t.Helper()
	return f.eng.SyncUser(f.ctx, f.src, src, who, engine.Options{Trigger: "test"})
}

// deletedCount is how many of the account's users are in the trash.
func (f *fixture) trashed() int {
	f.t.Helper()
	page, err := f.st.Users(f.ctx, f.acc.ID, store.UserQuery{States: []directory.State{directory.StateTrash}})
	if err != nil {
		f.t.Fatal(err)
	}
	return len(page.Items)
}

// Issue 9, defect 1: with usernames shaped by the import options, the
// directory's username is not the source's; a single-user sync by the
// directory's name finds the user among those the source brought in and
// syncs it, and never trashes anyone because a lookup found nothing.
func TestSingleUserSyncByShapedNameDeletesNobody(t *testing.T) {
	f := newFixture(t)
	f.setSettings(scope.Settings{NormalizeUsernames: true})
	src := &lookupSource{source: sample()}
	f.sync(src, engine.Options{})
	u := f.userByName("user07")
	for _, who := range []string{"user07", "user07@acme.example", u.ID, "u7"} {
		run, err := f.syncUser(src, who)
		if err != nil || run.Outcome != directory.OutcomeSucceeded || run.Counts.Deleted != 0 {
			t.Fatalf("sync --user %s: %v, %s %+v (%s)", who, err, run.Outcome, run.Counts, run.Reason)
		}
		if got := f.userByName("user07"); got.State != directory.StateActive || got.ID != u.ID {
			t.Fatalf("after sync --user %s: %+v", who, got)
		}
	}
	if n := f.trashed(); n != 0 {
		t.Fatalf("%d users trashed by single-user syncs", n)
	}
	// A name nobody knows is refused, and changes nothing.
	before := f.dump()
	run, err := f.syncUser(src, "ghost@acme.example")
	if !errors.Is(err, engine.ErrUnknownUser) || run.Outcome != directory.OutcomeFailed || f.dump() != before {
		t.Fatalf("unknown user: %v, %s", err, run.Outcome)
	}
	// Only a source that answers that the user's id no longer exists
	// sends it to the trash, as a full run would.
	src.users = slices.DeleteFunc(src.users, func(su directory.SourceUser) bool { return su.ExternalID == "u7" })
	run, err = f.syncUser(src, "user07")
	if err != nil || run.Counts.Deleted != 1 || f.trashed() != 1 {
		t.Fatalf("user gone at the source: %v, %+v", err, run.Counts)
	}
	if last := src.lookups[len(src.lookups)-1]; last != "u7" {
		t.Fatalf("the deletion was decided by a lookup of %q, not of the user's id", last)
	}
}

// Issue 9, defect 2: one scope computation for full and single-user runs.
// With a nested group filter outer -> inner -> user, a single-user sync
// keeps the user as a full run does.
func TestSingleUserSyncFollowsNestedGroups(t *testing.T) {
	for _, mode := range []scope.GroupMode{scope.ModeNested, scope.ModeFlatten} {
		t.Run(string(mode), func(t *testing.T) {
			f := newFixture(t)
			f.setSettings(scope.Settings{Groups: scope.GroupFilter{Mode: mode, Selected: []string{"g-all"}}})
			src := &lookupSource{source: sample()}
			full := f.sync(src, engine.Options{})
			before := f.dump()
			// u1 is in g-eng, which is in g-all: in scope only through nesting.
			run, err := f.syncUser(src, "user01@acme.example")
			if err != nil || run.Counts.Deleted != 0 || run.Counts.Skipped != 0 {
				t.Fatalf("sync --user of a nested member: %v, %+v (%v)", err, run.Counts, run.Skips)
			}
			if f.dump() != before {
				t.Fatalf("a single-user sync changed what the full run %+v made:\n%s\nthen:\n%s", full.Counts, before, f.dump())
			}
			// u9 is in no selected group: out of scope, never created.
			run, err = f.syncUser(src, "u9")
			if err != nil || run.Counts.Skipped != 1 || run.Counts.Created != 0 {
				t.Fatalf("sync --user of a user out of scope: %v, %+v", err, run.Counts)
			}
		})
	}
}

// Issue 9, defect 2 (flatten): a user out of scope is never added as a
// member of a group in the trash.
func TestOutOfScopeUserNeverJoinsATrashedGroup(t *testing.T) {
	f := newFixture(t)
	src := &lookupSource{source: sample()}
	src.groups = append(src.groups, directory.SourceGroup{ExternalID: "g-ops", GroupAttributes: directory.GroupAttributes{Name: "Ops"}})
	src.members = append(src.members, directory.SourceMembership{GroupExternalID: "g-ops", MemberExternalID: "u9", MemberKind: directory.MemberUser})
	f.sync(src, engine.Options{})
	f.setSettings(scope.Settings{Groups: scope.GroupFilter{Mode: scope.ModeFlatten, Selected: []string{"g-all"}}})
	f.sync(src, engine.Options{AllowDeletes: true})
	ops, err := f.st.GroupByName(f.ctx, f.acc.ID, "Ops")
	if err != nil || ops.State != directory.StateTrash {
		t.Fatalf("Ops: %s %v", ops.State, err)
	}
	run, err := f.syncUser(src, "u9")
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := f.st.Members(f.ctx, f.acc.ID, ops.ID, false); len(ms) != 0 || run.Counts.MembersAdded != 0 {
		t.Fatalf("the trashed group Ops has members %v after sync --user of an out-of-scope user (%+v)", ms, run.Counts)
	}
}

// Issue 9, defect 3: a rule that removes users gives a run whose changes,
// events and membership rows agree: no membership added after a deletion,
// none left to a user in the trash.
func TestRuleRemovingUsersNeverContradictsItself(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := sample()
		for i := range src.users {
			if i < 3 {
				src.users[i].Department = "Sales" // u1, u2 (g-eng), u3 (g-all)
			}
		}
		first := f.sync(src, engine.Options{})
		last := f.lastEvent().Seq
		rule, _ := scope.ParseRule("exclude department=Sales")
		f.setSettings(scope.Settings{UserRules: []scope.Rule{rule}})
		run := f.sync(src, engine.Options{AllowDeletes: true})
		if run.Counts.Deleted != 3 || run.Counts.MembersAdded != 0 || run.Counts.MembersRemoved != 3 {
			t.Fatalf("first run %+v; with the rule: %+v, want 3 deleted, 0 members added, 3 removed", first.Counts, run.Counts)
		}
		deleted := map[string]bool{}
		for _, c := range f.changes(run) {
			switch {
			case c.Action == directory.ActionDeleted:
				deleted[c.ObjectID] = true
			case c.Member != nil && c.Action == directory.ActionMemberAdded:
				t.Errorf("change %d adds %s to %s", c.Seq, c.Member.Name, c.Name)
			case c.Member != nil && deleted[c.Member.ID]:
				t.Errorf("change %d (%s of %s) comes after the member's deletion", c.Seq, c.Action, c.Member.Name)
			}
		}
		evs, _ := f.st.Events(f.ctx, f.acc.ID, last, 0)
		for _, e := range evs {
			if e.Type == directory.EventGroupUserAdded {
				t.Errorf("event %d %s after the rule", e.Seq, e.Type)
			}
		}
		groups, _ := f.st.Groups(f.ctx, f.acc.ID, store.GroupQuery{})
		for _, g := range groups.Items {
			ms, _ := f.st.Members(f.ctx, f.acc.ID, g.ID, false)
			for _, m := range ms {
				if u, err := f.st.User(f.ctx, f.acc.ID, m.ID); err == nil && u.State == directory.StateTrash {
					t.Errorf("the trashed user %s is still a member of %s", u.Username, g.Name)
				}
			}
		}
		// The next run changes nothing.
		if again := f.sync(src, engine.Options{}); again.Counts.MembersAdded+again.Counts.MembersRemoved+again.Counts.Deleted != 0 {
			t.Fatalf("the run after: %+v", again.Counts)
		}
	})
}

// Issue 9, defect 5: an incremental run obeys the percentage limit, with
// what the directory holds from the source as its base.
func TestDeltaRunObeysThePercentageLimit(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := &incSource{source: sample()}
		for i := 21; i <= 200; i++ {
			src.users = append(src.users, user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%03d@acme.example", i), true))
		}
		f.sync(src, engine.Options{})
		before := f.dump()
		src.script = func(sink connector.ChangeSink) error {
			for i := 121; i <= 200; i++ {
				if err := sink.RemoveUser(fmt.Sprintf("u%d", i), true); err != nil {
					return err
				}
			}
			return nil
		}
		run, err := f.eng.Sync(f.ctx, f.src, src, engine.Options{})
		if !errors.Is(err, engine.ErrThreshold) || run.Kind != directory.RunDelta || run.Outcome != directory.OutcomeStopped {
			t.Fatalf("delta run removing 80 of 202: %s %s, %v", run.Kind, run.Outcome, err)
		}
		if !strings.Contains(run.Reason, "80 of 202 objects") {
			t.Errorf("reason %q does not give the count and its base", run.Reason)
		}
		if f.dump() != before {
			t.Fatal("a stopped delta run changed the directory")
		}
		// It shows its plan.
		if rec := f.storedRun(run.ID); rec.Counts.Deleted != 80 {
			t.Fatalf("stopped run's counts %+v", rec.Counts)
		}
		if n := countActions(f.changes(run))[directory.ActionDeleted]; n != 80 {
			t.Fatalf("stopped run lists %d deletions, want 80", n)
		}
		// The cursor did not move: confirmed, the same changes apply.
		if run := f.sync(src, engine.Options{AllowDeletes: true}); run.Counts.Deleted != 80 {
			t.Fatalf("confirmed run: %+v", run.Counts)
		}
	})
}

func countActions(cs []directory.Change) map[directory.ChangeAction]int {
	n := map[directory.ChangeAction]int{}
	for _, c := range cs {
		n[c.Action]++
	}
	return n
}

// stagedReads counts the pages of staged users an apply reads: a plan
// computed twice reads them twice.
type stagedReads struct {
	store.Store
	pages *int
}

func (s stagedReads) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(stagedReadsTx{tx, s.pages}) })
}

func (s stagedReads) UpdateApply(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.UpdateApply(ctx, func(tx store.Tx) error { return fn(stagedReadsTx{tx, s.pages}) })
}

type stagedReadsTx struct {
	store.Tx
	pages *int
}

func (t stagedReadsTx) StagedUsers(ctx context.Context, runID, after string, limit int) ([]directory.SourceUser, error) {
	*t.pages++
	return t.Tx.StagedUsers(ctx, runID, after, limit)
}

// Issue 9, defect 6 and issue 17, point 2: a dry run shows the whole plan
// also when the deletion limit would stop the run (exit 4 still), and a run
// the limit stops keeps the plan it computed, computed once.
func TestStoppedRunsKeepTheirWholePlan(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := sample()
		f.sync(src, engine.Options{})
		before := f.dump()
		f.setSettings(scope.Settings{DeletionLimit: scope.DeletionLimit{MaxObjects: 3}})
		src.users = src.users[2:] // u1 and u2 leave g-eng and the source, with three more
		src.users = src.users[:15]
		for _, dry := range []bool{true, false} {
			pages := 0
			eng := *f.eng
			eng.Store = stagedReads{f.st, &pages}
			run, err := eng.Sync(f.ctx, f.src, src, engine.Options{DryRun: dry})
			if !errors.Is(err, engine.ErrThreshold) || run.Outcome != directory.OutcomeStopped || run.DryRun != dry {
				t.Fatalf("dry run %v: %s, %v", dry, run.Outcome, err)
			}
			rec := f.storedRun(run.ID)
			acts := countActions(f.changes(rec))
			if rec.Counts.Deleted != 5 || rec.Counts.MembersRemoved != 2 || acts[directory.ActionDeleted] != 5 || acts[directory.ActionMemberRemoved] != 2 {
				t.Fatalf("dry run %v: plan %+v, changes %v; want 5 deleted and 2 memberships ended", dry, rec.Counts, acts)
			}
			if f.dump() != before {
				t.Fatalf("dry run %v: the directory changed", dry)
			}
			if pages != 3 { // 15 users, 7 to a page
				t.Fatalf("dry run %v: the plan read %d pages of staged users, want 3: it was computed more than once", dry, pages)
			}
		}
	})
}
