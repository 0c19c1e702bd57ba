package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
)

// source is a directory held in memory: a real implementation of the
// connector interface, so the engine's rules are tested without a network.
type source struct {
	users   []directory.SourceUser
	groups  []directory.SourceGroup
	members []directory.SourceMembership
	skips   []connector.Skipped
	// failAfter makes Snapshot fail after handing over that many users.
	failAfter int
	err       error
}

func (s *source) Check(context.Context) ([]connector.CheckResult, error) { return nil, nil }

func (s *source) Snapshot(ctx context.Context, sink connector.Sink) error {
	for _, g := range s.groups {
		if err := sink.Group(g); err != nil {
			return err
		}
	}
	for i, u := range s.users {
		if s.err != nil && i == s.failAfter {
			return s.err
		}
		if err := sink.User(u); err != nil {
			return err
		}
	}
	for _, m := range s.members {
		if err := sink.Membership(m); err != nil {
			return err
		}
	}
	for _, sk := range s.skips {
		if err := sink.Skip(sk); err != nil {
			return err
		}
	}
	return nil
}

func user(id, upn string, enabled bool) directory.SourceUser {
	return directory.SourceUser{ExternalID: id, Enabled: enabled,
		UserAttributes: directory.UserAttributes{Username: upn, Email: upn, DisplayName: "User " + id}}
}

type fixture struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
	eng *engine.Engine
	acc directory.Account
	src directory.Source
	clk *clock.Fake
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newFixtureOn(t, st)
}

// eachStore runs fn on a fixture over SQLite, then over PostgreSQL when
// DIRSYNC_TEST_POSTGRES names a server.
func eachStore(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newFixture(t)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := sqlstore.OpenPostgres(t.Context(), sqltest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, newFixtureOn(t, st))
	})
}

func newFixtureOn(t *testing.T, st store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, st: st, clk: clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))}
	f.eng = &engine.Engine{Store: st, Clock: f.clk, BatchSize: 7}
	f.acc = directory.Account{Name: "acme"}
	f.src = directory.Source{Name: "entra", Kind: directory.KindEntra, Config: []byte(`{}`), Enabled: true}
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &f.acc); err != nil {
			return err
		}
		f.src.AccountID = f.acc.ID
		return tx.CreateSource(ctx, &f.src)
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// storedRun reads the run as recorded.
func (f *fixture) storedRun(id string) directory.Run {
	f.t.Helper()
	run, err := f.st.Run(f.ctx, f.acc.ID, id)
	if err != nil {
		f.t.Fatalf("run %s: %v", id, err)
	}
	return run
}

// staged counts every staging row left in the store.
func (f *fixture) staged() int {
	f.t.Helper()
	n, err := f.st.StagedCount(f.ctx, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) sync(src connector.Connector, opts engine.Options) directory.Run {
	f.t.Helper()
	run, err := f.eng.Sync(f.ctx, f.src, src, opts)
	if err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	return run
}

// dump is the directory's content, for comparing before and after.
func (f *fixture) dump() string {
	f.t.Helper()
	users, err := f.st.Users(f.ctx, f.acc.ID, store.UserQuery{States: []directory.State{directory.StateActive, directory.StateDisabled, directory.StateTrash}})
	if err != nil {
		f.t.Fatal(err)
	}
	groups, err := f.st.Groups(f.ctx, f.acc.ID, store.GroupQuery{States: []directory.State{directory.StateActive, directory.StateTrash}})
	if err != nil {
		f.t.Fatal(err)
	}
	out := ""
	for _, u := range users.Items {
		out += fmt.Sprintf("user %s %s %s %v %s %v\n", u.ID, u.Username, u.Email, u.Enabled, u.State, u.Sources)
	}
	for _, g := range groups.Items {
		ms, err := f.st.Members(f.ctx, f.acc.ID, g.ID, false)
		if err != nil {
			f.t.Fatal(err)
		}
		out += fmt.Sprintf("group %s %s %s %v\n", g.ID, g.Name, g.State, ms)
	}
	return out
}

func (f *fixture) userByName(name string) directory.User {
	f.t.Helper()
	u, err := f.st.UserByUsername(f.ctx, f.acc.ID, name)
	if err != nil {
		f.t.Fatalf("user %s: %v", name, err)
	}
	return u
}

func (f *fixture) changes(run directory.Run) []directory.Change {
	f.t.Helper()
	cs, err := f.st.Changes(f.ctx, run.ID, 0, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return cs
}

func sample() *source {
	s := &source{
		groups: []directory.SourceGroup{
			{ExternalID: "g-eng", GroupAttributes: directory.GroupAttributes{Name: "Engineering", SecurityEnabled: true}},
			{ExternalID: "g-all", GroupAttributes: directory.GroupAttributes{Name: "Everyone"}},
		},
		members: []directory.SourceMembership{
			{GroupExternalID: "g-all", MemberExternalID: "g-eng", MemberKind: directory.MemberGroup},
			{GroupExternalID: "g-eng", MemberExternalID: "u1", MemberKind: directory.MemberUser},
			{GroupExternalID: "g-eng", MemberExternalID: "u2", MemberKind: directory.MemberUser},
			{GroupExternalID: "g-all", MemberExternalID: "u3", MemberKind: directory.MemberUser},
		},
		skips: []connector.Skipped{{Kind: "device", ExternalID: "d1", Code: directory.SkipNonDirectoryMember, Reason: "device"}},
	}
	for i := 1; i <= 20; i++ {
		s.users = append(s.users, user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%02d@acme.example", i), i != 5))
	}
	return s
}

func TestFirstSyncThenIdempotent(t *testing.T) {
	f := newFixture(t)
	src := sample()
	run := f.sync(src, engine.Options{Trigger: "test"})
	if run.Outcome != directory.OutcomeSucceeded || run.Counts.Created != 22 || run.Counts.MembersAdded != 4 {
		t.Fatalf("first run: %+v", run)
	}
	if run.Skips["device"] != 1 {
		t.Errorf("skips = %v, want one device", run.Skips)
	}
	if u := f.userByName("user05@acme.example"); u.Enabled || u.State != directory.StateDisabled {
		t.Errorf("user05 disabled at the source is %v/%s in the directory", u.Enabled, u.State)
	}
	g, err := f.st.GroupByName(f.ctx, f.acc.ID, "Everyone")
	if err != nil {
		t.Fatal(err)
	}
	eff, err := f.st.Members(f.ctx, f.acc.ID, g.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range eff {
		names = append(names, m.Name)
	}
	want := []string{"user01@acme.example", "user02@acme.example", "user03@acme.example", "Engineering"}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("effective members of Everyone %v lack %s", names, w)
		}
	}

	before := f.dump()
	again := f.sync(src, engine.Options{})
	if again.Counts.Unchanged != 22 || again.Counts.Created+again.Counts.Updated+again.Counts.Deleted+again.Counts.MembersAdded+again.Counts.MembersRemoved != 0 {
		t.Fatalf("second identical run changed something: %+v", again.Counts)
	}
	if got := f.changes(again); len(got) != 0 {
		t.Fatalf("second identical run recorded changes: %v", got)
	}
	if after := f.dump(); after != before {
		t.Fatalf("directory changed on an identical run:\n%s\n---\n%s", before, after)
	}
}

func TestUpdateDisableEnableRecordsBeforeAndAfter(t *testing.T) {
	f := newFixture(t)
	src := sample()
	f.sync(src, engine.Options{})
	id := f.userByName("user01@acme.example").ID

	src.users[0].Department = "R&D"
	src.users[0].DisplayName = "Zoë O'Brien"
	src.users[1].Enabled = false
	src.users[4].Enabled = true
	run := f.sync(src, engine.Options{})
	if c := run.Counts; c.Updated != 1 || c.Disabled != 1 || c.Enabled != 1 || c.Unchanged != 19 {
		t.Fatalf("counts %+v", c)
	}
	u := f.userByName("user01@acme.example")
	if u.ID != id || u.Department != "R&D" || u.DisplayName != "Zoë O'Brien" {
		t.Fatalf("user after update: %+v", u)
	}
	var upd *directory.Change
	for _, c := range f.changes(run) {
		if c.Action == directory.ActionUpdated {
			upd = &c
		}
	}
	if upd == nil || len(upd.Attributes) != 2 {
		t.Fatalf("update change %+v", upd)
	}
	if a := upd.Attributes[0]; a.Attribute != "display_name" || a.Before != "User u1" || a.After != "Zoë O'Brien" {
		t.Errorf("display_name change %+v", a)
	}
	if u := f.userByName("user02@acme.example"); u.Enabled || u.State != directory.StateDisabled {
		t.Errorf("user02 not disabled: %+v", u)
	}
	if u := f.userByName("user05@acme.example"); !u.Enabled || u.State != directory.StateActive {
		t.Errorf("user05 not enabled again: %+v", u)
	}
}

func TestRemovedUserGoesToTrashAndComesBackWithItsID(t *testing.T) {
	f := newFixture(t)
	src := sample()
	f.sync(src, engine.Options{})
	gone := src.users[2]
	id := f.userByName(gone.Username).ID
	src.users = slices.Delete(src.users, 2, 3)

	run := f.sync(src, engine.Options{})
	if run.Counts.Deleted != 1 {
		t.Fatalf("counts %+v, want one deleted", run.Counts)
	}
	u := f.userByName(gone.Username)
	if u.State != directory.StateTrash || u.TrashedAt.IsZero() {
		t.Fatalf("removed user is %s, trashed at %v", u.State, u.TrashedAt)
	}
	active, _ := f.st.Users(f.ctx, f.acc.ID, store.UserQuery{})
	for _, au := range active.Items {
		if au.ID == id {
			t.Fatal("a trashed user is in the active list")
		}
	}
	src.users = append(src.users, gone)
	run = f.sync(src, engine.Options{})
	if run.Counts.Restored != 1 {
		t.Fatalf("restore counts %+v", run.Counts)
	}
	if u := f.userByName(gone.Username); u.ID != id || u.State != directory.StateActive {
		t.Fatalf("restored user %+v, want id %s active", u, id)
	}
}

func TestFailedReadAppliesNothing(t *testing.T) {
	f := newFixture(t)
	src := sample()
	f.sync(src, engine.Options{})
	before := f.dump()

	src.users[0].Department = "changed"
	src.failAfter, src.err = 10, connector.Errorf(connector.KindUnavailable, "graph answered 503 past the retry budget")
	run, err := f.eng.Sync(f.ctx, f.src, src, engine.Options{})
	if err == nil || connector.KindOf(err) != connector.KindUnavailable {
		t.Fatalf("err = %v", err)
	}
	if run.Outcome != directory.OutcomeFailed || run.Reason == "" {
		t.Fatalf("run %+v", run)
	}
	if after := f.dump(); after != before {
		t.Fatalf("a failed read changed the directory")
	}
	rec, err := f.st.Run(f.ctx, f.acc.ID, run.ID)
	if err != nil || rec.Outcome != directory.OutcomeFailed {
		t.Fatalf("recorded run %+v, %v", rec, err)
	}
}

func TestEmptySourceDeletesNobody(t *testing.T) {
	f := newFixture(t)
	f.sync(sample(), engine.Options{})
	before := f.dump()
	run, err := f.eng.Sync(f.ctx, f.src, &source{}, engine.Options{})
	if !errors.Is(err, engine.ErrStopped) || run.Outcome != directory.OutcomeStopped {
		t.Fatalf("run %+v, err %v", run, err)
	}
	if after := f.dump(); after != before {
		t.Fatal("an empty source changed the directory")
	}
}

func TestCancelledApplyLeavesDirectoryAsItWas(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := sample()
		f.sync(src, engine.Options{})
		before := f.dump()
		for i := range src.users {
			src.users[i].JobTitle = "changed"
		}
		ctx, cancel := context.WithCancel(f.ctx)
		defer cancel()
		applying := false
		run, err := f.eng.Sync(ctx, f.src, src, engine.Options{Live: func(_ string, p directory.RunProgress) {
			if p.Phase == "apply" {
				applying = true
				cancel()
			}
		}})
		if err == nil || !applying {
			t.Fatalf("err %v, reached the apply: %v", err, applying)
		}
		if after := f.dump(); after != before {
			t.Fatal("a cancelled run left part of its changes")
		}
		rec := f.storedRun(run.ID)
		if rec.Outcome != directory.OutcomeCancelled || rec.Counts != (directory.Counts{}) || rec.FinishedAt.IsZero() {
			t.Fatalf("recorded run: %s, counts %+v, finished %v", rec.Outcome, rec.Counts, rec.FinishedAt)
		}
		if changes := f.changes(rec); len(changes) != 0 {
			t.Fatalf("a cancelled run recorded %d changes", len(changes))
		}
		if n := f.staged(); n != 0 {
			t.Fatalf("%d staged rows left", n)
		}
		// The next run applies what the cancelled one did not.
		if again := f.sync(src, engine.Options{}); again.Counts.Updated != len(src.users) {
			t.Fatalf("next run: %+v", again.Counts)
		}
	})
}

func TestDryRunPlansWithoutApplying(t *testing.T) {
	f := newFixture(t)
	src := sample()
	f.sync(src, engine.Options{})
	before := f.dump()
	src.users[0].Surname = "Müller"
	src.users = src.users[:19]
	run := f.sync(src, engine.Options{DryRun: true})
	if !run.DryRun || run.Counts.Updated != 1 || run.Counts.Deleted != 1 {
		t.Fatalf("dry run counts %+v", run.Counts)
	}
	if after := f.dump(); after != before {
		t.Fatal("a dry run changed the directory")
	}
	actions := map[directory.ChangeAction]int{}
	for _, c := range f.changes(run) {
		actions[c.Action]++
	}
	if actions[directory.ActionUpdated] != 1 || actions[directory.ActionDeleted] != 1 {
		t.Fatalf("dry run plan %v", actions)
	}
	real := f.sync(src, engine.Options{})
	if real.Counts != run.Counts {
		t.Fatalf("the real run did %+v, the dry run planned %+v", real.Counts, run.Counts)
	}
}

func TestMatchesExistingLocalUserAndQuarantinesConflicts(t *testing.T) {
	f := newFixture(t)
	local := directory.User{AccountID: f.acc.ID, UserAttributes: directory.UserAttributes{Username: "USER01@acme.example", Email: "user01@acme.example"},
		Enabled: true, State: directory.StateActive, Tags: []string{"vip"}}
	other := directory.Source{AccountID: f.acc.ID, Name: "ad", Kind: directory.KindLDAP, Config: []byte(`{}`)}
	held := directory.User{AccountID: f.acc.ID, UserAttributes: directory.UserAttributes{Username: "someone@acme.example", Email: "user02@acme.example"},
		Enabled: true, State: directory.StateActive}
	err := f.st.Update(f.ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(f.ctx, &local); err != nil {
			return err
		}
		if err := tx.CreateSource(f.ctx, &other); err != nil {
			return err
		}
		if err := tx.CreateUser(f.ctx, &held); err != nil {
			return err
		}
		return tx.Link(f.ctx, directory.MemberUser, held.ID, directory.SourceLink{SourceID: other.ID, ExternalID: "ad-1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	run := f.sync(sample(), engine.Options{})
	if run.Counts.Conflicts != 1 || run.Counts.Created != 20 {
		t.Fatalf("counts %+v", run.Counts)
	}
	u := f.userByName("user01@acme.example")
	if u.ID != local.ID || len(u.Sources) != 1 || u.Sources[0].ExternalID != "u1" || !slices.Equal(u.Tags, []string{"vip"}) {
		t.Fatalf("local user not matched and linked: %+v", u)
	}
	h := f.userByName("someone@acme.example")
	if h.Email != "user02@acme.example" || len(h.Sources) != 1 || h.Sources[0].SourceID != other.ID {
		t.Fatalf("the holder of a conflicting email was touched: %+v", h)
	}
	if _, err := f.st.UserByLink(f.ctx, f.src.ID, "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the conflicting object was linked: %v", err)
	}
	// No flip-flop: the next run reports the same conflict and changes nothing.
	before := f.dump()
	again := f.sync(sample(), engine.Options{})
	if again.Counts.Conflicts != 1 || f.dump() != before {
		t.Fatalf("second run: %+v", again.Counts)
	}
}

func TestOneRunAtATimePerSource(t *testing.T) {
	f := newFixture(t)
	// Another process holds the source, as if it were mid-run.
	err := f.st.Update(f.ctx, func(tx store.Tx) error {
		return tx.AcquireLease(f.ctx, f.src.ID, "other-process", f.clk.Now(), time.Minute)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.eng.Sync(f.ctx, f.src, sample(), engine.Options{})
	if !errors.Is(err, engine.ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	if runs, _ := f.st.Runs(f.ctx, f.acc.ID, f.src.ID, 0); len(runs) != 0 {
		t.Fatalf("a refused sync recorded %d runs", len(runs))
	}
	// The other process crashed: its lease runs out, and the next sync runs.
	f.clk.Advance(61 * time.Second)
	if run := f.sync(sample(), engine.Options{}); run.Outcome != directory.OutcomeSucceeded {
		t.Fatalf("run after the lease ran out: %+v", run)
	}
	// A finished run releases its lease at once.
	if run := f.sync(sample(), engine.Options{}); run.Outcome != directory.OutcomeSucceeded {
		t.Fatalf("second run: %+v", run)
	}
}

func TestEventsWrittenWithChanges(t *testing.T) {
	f := newFixture(t)
	src := sample()
	f.sync(src, engine.Options{})
	evs, err := f.st.Events(f.ctx, f.acc.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range evs {
		count[e.Type]++
	}
	if count[directory.EventUserCreated] != 20 || count[directory.EventGroupCreated] != 2 || count[directory.EventGroupUserAdded] != 3 ||
		count[directory.EventGroupGroupAdded] != 1 || count[directory.EventSyncCompleted] != 1 {
		t.Fatalf("events after the first run: %v", count)
	}
	last := evs[len(evs)-1].Seq
	src.users[0].Department = "Ops"
	src.users[1].Enabled = false
	f.sync(src, engine.Options{DryRun: true})
	if more, _ := f.st.Events(f.ctx, f.acc.ID, last, 0); len(more) != 0 {
		t.Fatalf("a dry run wrote %d events", len(more))
	}
	f.sync(src, engine.Options{})
	more, _ := f.st.Events(f.ctx, f.acc.ID, last, 0)
	var types []string
	for _, e := range more {
		types = append(types, e.Type)
	}
	if !slices.Equal(types, []string{directory.EventUserUpdated, directory.EventUserDisabled, directory.EventSyncCompleted}) {
		t.Fatalf("events of the second run: %v", types)
	}
	var body struct {
		Attributes []directory.AttrChange `json:"attributes"`
	}
	if err := json.Unmarshal(more[0].Data, &body); err != nil || len(body.Attributes) != 1 || body.Attributes[0].After != "Ops" {
		t.Fatalf("user.updated body %s (%v)", more[0].Data, err)
	}
	// A failed run leaves its sync.failed event and nothing else.
	src.failAfter, src.err = 0, connector.Errorf(connector.KindNetwork, "unreachable")
	f.eng.Sync(f.ctx, f.src, src, engine.Options{})
	failed, _ := f.st.Events(f.ctx, f.acc.ID, more[len(more)-1].Seq, 0)
	if len(failed) != 1 || failed[0].Type != directory.EventSyncFailed {
		t.Fatalf("events of a failed run: %+v", failed)
	}
}
