package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
)

// incSource is a source that also reads incrementally: each Changes call
// replays the script it was given, as a delta round would.
type incSource struct {
	*source
	round  int
	script func(sink connector.ChangeSink) error
	err    error // returned by Changes instead of running the script
}

func (s *incSource) Cursor(context.Context) (string, error) {
	return fmt.Sprintf("cursor-%d", s.round), nil
}

func (s *incSource) Changes(ctx context.Context, cursor string, sink connector.ChangeSink) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	s.round++
	if s.script != nil {
		if err := s.script(sink); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("cursor-%d", s.round), nil
}

func (f *fixture) delta(src *incSource, script func(connector.ChangeSink) error) directory.Run {
	f.t.Helper()
	src.script = script
	run := f.sync(src, engine.Options{})
	if run.Kind != directory.RunDelta {
		f.t.Fatalf("ran %s (%s), want delta", run.Kind, run.Reason)
	}
	return run
}

func patch(id string, set func(*directory.SourceUser)) directory.SourceUser {
	u := directory.SourceUser{ExternalID: id}
	set(&u)
	return u
}

// An incremental entry may carry only what changed: the rest keeps its value.
func TestDeltaPatchNeverBlanksOtherAttributes(t *testing.T) {
	f := newFixture(t)
	src := &incSource{source: sample()}
	f.sync(src, engine.Options{})
	before := f.userByName("user01@acme.example")
	f.delta(src, func(s connector.ChangeSink) error {
		return s.UserPatch(patch("u1", func(u *directory.SourceUser) { u.Department = "Finance" }), []directory.UserField{directory.UserDepartment})
	})
	after := f.userByName("user01@acme.example")
	if after.Department != "Finance" || after.DisplayName != before.DisplayName || after.Email != before.Email || !after.Enabled {
		t.Fatalf("patch blanked attributes: before %+v after %+v", before, after)
	}
	// A field named in a patch but absent was cleared at the source.
	f.delta(src, func(s connector.ChangeSink) error {
		return s.UserPatch(directory.SourceUser{ExternalID: "u1"}, []directory.UserField{directory.UserDepartment})
	})
	if u := f.userByName("user01@acme.example"); u.Department != "" || u.DisplayName != before.DisplayName {
		t.Fatalf("clearing one attribute: %+v", u)
	}
}

// The same object several times in one round: every report merges, the last wins.
func TestDeltaSameObjectSeveralTimesMerges(t *testing.T) {
	f := newFixture(t)
	src := &incSource{source: sample()}
	f.sync(src, engine.Options{})
	run := f.delta(src, func(s connector.ChangeSink) error {
		s.UserPatch(patch("u1", func(u *directory.SourceUser) { u.Department = "A" }), []directory.UserField{directory.UserDepartment})
		s.UserPatch(patch("u1", func(u *directory.SourceUser) { u.JobTitle = "B" }), []directory.UserField{directory.UserJobTitle})
		s.UserPatch(patch("u1", func(u *directory.SourceUser) { u.Department = "C" }), []directory.UserField{directory.UserDepartment})
		// Removed, then back in the same round (restored): present.
		s.RemoveUser("u2", false)
		s.UserPatch(patch("u2", func(u *directory.SourceUser) { u.Enabled = true }), []directory.UserField{directory.UserEnabled})
		return nil
	})
	u := f.userByName("user01@acme.example")
	if u.Department != "C" || u.JobTitle != "B" {
		t.Fatalf("merged user %+v", u)
	}
	if u2 := f.userByName("user02@acme.example"); u2.State == directory.StateTrash {
		t.Fatal("a user removed then restored in one round ended in the trash")
	}
	if run.Counts.Updated != 1 || run.Counts.Deleted != 0 {
		t.Fatalf("counts %+v", run.Counts)
	}
}

// @removed "changed" (soft) and "deleted" (hard) both go to the trash, and
// the run says which; a restored object comes back with its id.
func TestDeltaRemovalsSoftAndHardThenRestore(t *testing.T) {
	f := newFixture(t)
	src := &incSource{source: sample()}
	f.sync(src, engine.Options{})
	id3 := f.userByName("user03@acme.example").ID
	run := f.delta(src, func(s connector.ChangeSink) error {
		s.RemoveUser("u3", false)
		s.RemoveUser("u4", true)
		return nil
	})
	details := map[string]string{}
	for _, c := range f.changes(run) {
		details[c.ExternalID] = c.Detail
	}
	if details["u3"] == details["u4"] || details["u3"] == "" {
		t.Fatalf("soft and hard removals not told apart: %v", details)
	}
	if u := f.userByName("user03@acme.example"); u.State != directory.StateTrash {
		t.Fatalf("soft-deleted user is %s", u.State)
	}
	// Restored at the source: no annotation, just the object again.
	run = f.delta(src, func(s connector.ChangeSink) error { return s.User(src.users[2]) })
	if u := f.userByName("user03@acme.example"); u.ID != id3 || u.State != directory.StateActive || run.Counts.Restored != 1 {
		t.Fatalf("restored user %+v, counts %+v", u, run.Counts)
	}
}

// A large group's members come in slices; removals come inside them too.
func TestDeltaMemberSlicesAndRemovals(t *testing.T) {
	f := newFixture(t)
	src := &incSource{source: sample()}
	f.sync(src, engine.Options{})
	run := f.delta(src, func(s connector.ChangeSink) error {
		s.GroupPatch(directory.SourceGroup{ExternalID: "g-eng"}, []directory.GroupField{})
		for i := 4; i <= 10; i++ { // first slice
			s.Membership(directory.SourceMembership{GroupExternalID: "g-eng", MemberExternalID: fmt.Sprint("u", i), MemberKind: directory.MemberUser})
		}
		s.GroupPatch(directory.SourceGroup{ExternalID: "g-eng"}, []directory.GroupField{})
		for i := 11; i <= 15; i++ { // second slice, another page
			s.Membership(directory.SourceMembership{GroupExternalID: "g-eng", MemberExternalID: fmt.Sprint("u", i), MemberKind: directory.MemberUser})
		}
		s.RemoveMembership(directory.SourceMembership{GroupExternalID: "g-eng", MemberExternalID: "u1", MemberKind: directory.MemberUser})
		// A replay of a membership the directory already has changes nothing.
		return s.Membership(directory.SourceMembership{GroupExternalID: "g-eng", MemberExternalID: "u2", MemberKind: directory.MemberUser})
	})
	if run.Counts.MembersAdded != 12 || run.Counts.MembersRemoved != 1 {
		t.Fatalf("counts %+v", run.Counts)
	}
	g, _ := f.st.GroupByName(f.ctx, f.acc.ID, "Engineering")
	ms, _ := f.st.Members(f.ctx, f.acc.ID, g.ID, false)
	if len(ms) != 13 {
		t.Fatalf("%d direct members, want 13", len(ms))
	}
}

// The cursor lands with the changes it covers, or not at all.
func TestDeltaCursorSavedWithItsChanges(t *testing.T) {
	f := newFixture(t)
	src := &incSource{source: sample()}
	f.sync(src, engine.Options{})
	state, _ := f.st.SourceState(f.ctx, f.src.ID)
	change := func(s connector.ChangeSink) error {
		return s.UserPatch(patch("u1", func(u *directory.SourceUser) { u.Department = "Legal" }), []directory.UserField{directory.UserDepartment})
	}
	// The process dies between reading the changes and applying them.
	ctx, cancel := context.WithCancel(f.ctx)
	src.script = func(s connector.ChangeSink) error { cancel(); return change(s) }
	if _, err := f.eng.Sync(ctx, f.src, src, engine.Options{}); err == nil {
		t.Fatal("a delta whose apply was cancelled succeeded")
	}
	if now, _ := f.st.SourceState(f.ctx, f.src.ID); now != state {
		t.Fatalf("the cursor moved (%s → %s) without its changes", state, now)
	}
	if f.userByName("user01@acme.example").Department == "Legal" {
		t.Fatal("a cancelled delta applied a change")
	}
	// The next run reads the same round again and lands it with its cursor.
	run := f.delta(src, change)
	if now, _ := f.st.SourceState(f.ctx, f.src.ID); now == state || run.Counts.Updated != 1 {
		t.Fatalf("cursor %s after a delta, counts %+v", now, run.Counts)
	}
}

// A refused cursor means a full reconcile, never "start empty".
func TestRefusedCursorReconcilesInFull(t *testing.T) {
	f := newFixture(t)
	src := &incSource{source: sample()}
	f.sync(src, engine.Options{})
	id := f.userByName("user07@acme.example").ID
	src.err = &connector.Error{Kind: connector.KindCursor, Code: "syncStateNotFound", Message: "delta token expired"}
	run := f.sync(src, engine.Options{})
	if run.Kind != directory.RunFull || run.Reason == "" || run.Counts.Created != 0 || run.Counts.Deleted != 0 {
		t.Fatalf("run %s %q %+v", run.Kind, run.Reason, run.Counts)
	}
	if f.userByName("user07@acme.example").ID != id {
		t.Fatal("a resync re-created a user")
	}
}
