package engine_test

import (
	"context"
	"sync"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/store"
)

// applySpy counts what an apply's transaction asks the store: the
// transaction every other writer waits for, which an incremental run
// keeps to what changed.
type applySpy struct {
	store.Store
	mu    sync.Mutex
	calls map[string]int
}

func newApplySpy(st store.Store) *applySpy { return &applySpy{Store: st, calls: map[string]int{}} }

func (s *applySpy) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
}

func (s *applySpy) called(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

func (s *applySpy) UpdateApply(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.UpdateApply(ctx, func(tx store.Tx) error { return fn(applySpyTx{tx, s}) })
}

type applySpyTx struct {
	store.Tx
	s *applySpy
}

func (t applySpyTx) CountLinked(ctx context.Context, sourceID string) (int, int, error) {
	t.s.count("CountLinked")
	return t.Tx.CountLinked(ctx, sourceID)
}

func (t applySpyTx) UserByLink(ctx context.Context, sourceID, externalID string) (directory.User, error) {
	t.s.count("UserByLink")
	return t.Tx.UserByLink(ctx, sourceID, externalID)
}

func (t applySpyTx) GroupByLink(ctx context.Context, sourceID, externalID string) (directory.Group, error) {
	t.s.count("GroupByLink")
	return t.Tx.GroupByLink(ctx, sourceID, externalID)
}

func (t applySpyTx) UsersByLink(ctx context.Context, sourceID string, ids []string) (map[string]directory.User, error) {
	t.s.count("UsersByLink")
	return t.Tx.UsersByLink(ctx, sourceID, ids)
}

func (t applySpyTx) GroupsByLink(ctx context.Context, sourceID string, ids []string) (map[string]directory.Group, error) {
	t.s.count("GroupsByLink")
	return t.Tx.GroupsByLink(ctx, sourceID, ids)
}

func (t applySpyTx) UserByUsername(ctx context.Context, accountID, username string) (directory.User, error) {
	t.s.count("UserByUsername")
	return t.Tx.UserByUsername(ctx, accountID, username)
}

func (t applySpyTx) UserByEmail(ctx context.Context, accountID, email string) (directory.User, error) {
	t.s.count("UserByEmail")
	return t.Tx.UserByEmail(ctx, accountID, email)
}

// An incremental run looks the objects it changes up by their links in a
// few statements (a delta of 1,000 users and 3,000 groups made 8,000
// lookups in its transaction, each object's twice), and looks for another
// holder of a user's username or email only when they change (the store
// keeps both unique).
func TestDeltaLooksEachObjectUpOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := &incSource{source: sample()}
		f.sync(src, engine.Options{})
		spy := newApplySpy(f.st)
		eng := *f.eng
		eng.Store = spy
		src.script = func(s connector.ChangeSink) error {
			if err := s.UserPatch(patch("u1", func(u *directory.SourceUser) { u.Department = "Finance" }), []directory.UserField{directory.UserDepartment}); err != nil {
				return err
			}
			whole := src.users[1]
			whole.JobTitle = "Chief"
			if err := s.User(whole); err != nil {
				return err
			}
			return s.GroupPatch(directory.SourceGroup{ExternalID: "g-eng", GroupAttributes: directory.GroupAttributes{Description: "Builders"}},
				[]directory.GroupField{directory.GroupDescription})
		}
		run, err := eng.Sync(f.ctx, f.src, src, engine.Options{})
		if err != nil || run.Kind != directory.RunDelta || run.Counts.Updated != 3 {
			t.Fatalf("delta: %s %+v, %v", run.Kind, run.Counts, err)
		}
		for name, want := range map[string]int{"UsersByLink": 1, "GroupsByLink": 1, "UserByLink": 0, "GroupByLink": 0, "UserByUsername": 0, "UserByEmail": 0} {
			if n := spy.called(name); n != want {
				t.Errorf("the apply's transaction called %s %d times, want %d", name, n, want)
			}
		}
		if u := f.userByName(src.users[1].Username); u.JobTitle != "Chief" {
			t.Errorf("the whole user was not applied: %+v", u)
		}
	})
}

// What the directory holds from the source (the deletion limit's base) is
// counted beside the read, not in the apply's transaction: a count of the
// whole source, a third of a second at 100,000 users, in the transaction
// of a run that changes a handful of objects. The limit still counts from it.
func TestApplyCountsNothingWholeInItsTransaction(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := &incSource{source: sample()}
		f.sync(src, engine.Options{})
		spy := newApplySpy(f.st)
		eng := *f.eng
		eng.Store = spy
		src.script = func(s connector.ChangeSink) error {
			return s.UserPatch(patch("u1", func(u *directory.SourceUser) { u.Department = "Finance" }), []directory.UserField{directory.UserDepartment})
		}
		run, err := eng.Sync(f.ctx, f.src, src, engine.Options{})
		if err != nil || run.Kind != directory.RunDelta || run.Counts.Updated != 1 {
			t.Fatalf("delta: %s %+v, %v", run.Kind, run.Counts, err)
		}
		if n := spy.called("CountLinked"); n != 0 {
			t.Errorf("the apply's transaction counted the source's objects %d times", n)
		}
	})
}

// A user two objects of the source link to, both in one round: the
// second patch is laid over what the first made of it, not over the user
// as the round found it.
func TestDeltaTwoLinksToOneUser(t *testing.T) {
	f := newFixture(t)
	src := &incSource{source: sample()}
	f.sync(src, engine.Options{})
	u := f.userByName("user01@acme.example")
	if err := f.st.Update(f.ctx, func(tx store.Tx) error {
		return tx.Link(f.ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: f.src.ID, ExternalID: "u1-alias"})
	}); err != nil {
		t.Fatal(err)
	}
	f.delta(src, func(s connector.ChangeSink) error {
		if err := s.UserPatch(patch("u1", func(u *directory.SourceUser) { u.Department = "Finance" }), []directory.UserField{directory.UserDepartment}); err != nil {
			return err
		}
		return s.UserPatch(patch("u1-alias", func(u *directory.SourceUser) { u.JobTitle = "Chief" }), []directory.UserField{directory.UserJobTitle})
	})
	if got := f.userByName("user01@acme.example"); got.Department != "Finance" || got.JobTitle != "Chief" {
		t.Fatalf("department %q, job title %q: one patch undid the other", got.Department, got.JobTitle)
	}
}

// An incremental run says when its read has ended, with what it read,
// before its apply: the first progress of phase "apply" has no step yet.
func TestDeltaRecordsItsReadBeforeTheApply(t *testing.T) {
	f := newFixture(t)
	src := &incSource{source: sample()}
	f.sync(src, engine.Options{})
	src.script = func(s connector.ChangeSink) error {
		return s.UserPatch(patch("u1", func(u *directory.SourceUser) { u.Department = "Finance" }), []directory.UserField{directory.UserDepartment})
	}
	var first *directory.RunProgress
	run, err := f.eng.Sync(f.ctx, f.src, src, engine.Options{Live: func(_ string, p directory.RunProgress) {
		if first == nil && p.Phase == "apply" {
			first = &p
		}
	}})
	if err != nil || run.Kind != directory.RunDelta {
		t.Fatalf("delta: %s, %v", run.Kind, err)
	}
	if first == nil || first.Step != "" || first.Users != 1 {
		t.Fatalf("first progress of the apply %+v, want the read's (1 user, no step)", first)
	}
}
