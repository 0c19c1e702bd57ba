package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// testUserChanges checks a user's change history: the changes of
// succeeded, applied runs about the user (the user's own and its
// memberships), newest first, paged without repeats; other users', dry
// runs', failed runs' and other accounts' changes are left out.
func testUserChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkAccount(t, s, "a"), mkAccount(t, s, "b")
	src, srcB := mkSource(t, s, a.ID, "src"), mkSource(t, s, b.ID, "src")
	ann := directory.Member{Kind: directory.MemberUser, ID: "ann-id", Name: "ann"}
	created := directory.Change{ObjectKind: directory.MemberUser, ObjectID: ann.ID, Name: "ann", Action: directory.ActionCreated,
		Attributes: []directory.AttrChange{{Attribute: "department", After: "Ops"}}}
	joined := directory.Change{ObjectKind: directory.MemberGroup, ObjectID: "g-id", Name: "Staff", Action: directory.ActionMemberAdded, Member: &ann}
	updated := directory.Change{ObjectKind: directory.MemberUser, ObjectID: ann.ID, Name: "ann", Action: directory.ActionUpdated,
		Attributes: []directory.AttrChange{{Attribute: "department", Before: "Ops", After: "R&D"}}}
	bob := directory.Change{ObjectKind: directory.MemberUser, ObjectID: "bob-id", Name: "bob", Action: directory.ActionCreated}
	group := directory.Change{ObjectKind: directory.MemberGroup, ObjectID: "g-id", Name: "Staff", Action: directory.ActionCreated}
	ok := directory.OutcomeSucceeded
	runs := []struct {
		acct, src string
		fin       int
		outcome   directory.Outcome
		dry       bool
		changes   []directory.Change
	}{
		{a.ID, src.ID, 100, ok, false, []directory.Change{created, group, joined, bob}},
		{a.ID, src.ID, 200, ok, true, []directory.Change{updated}},                       // a dry run
		{a.ID, src.ID, 300, directory.OutcomeFailed, false, []directory.Change{updated}}, // applied nothing
		{b.ID, srcB.ID, 400, ok, false, []directory.Change{updated}},                     // another account
		{a.ID, src.ID, 500, ok, false, []directory.Change{updated}},
	}
	ids := make([]string, len(runs))
	for i, r := range runs {
		run := directory.Run{AccountID: r.acct, SourceID: r.src, Source: "src", StartedAt: tm(r.fin-10, 0),
			FinishedAt: tm(r.fin, 0), Outcome: r.outcome, DryRun: r.dry}
		update(t, s, func(tx store.Tx) error {
			if err := tx.CreateRun(ctx, &run); err != nil {
				return err
			}
			return tx.AddChanges(ctx, run.ID, append([]directory.Change(nil), r.changes...))
		})
		ids[i] = run.ID
	}
	// Newest first: the update of the last run, then the first run's
	// membership (Seq 3) and creation (Seq 1).
	want := []string{fmt.Sprint(ids[4], "/1 updated"), fmt.Sprint(ids[0], "/3 member_added"), fmt.Sprint(ids[0], "/1 created")}
	all := must[store.Page[store.UserChange]](t)(s.UserChanges(ctx, a.ID, ann.ID, store.UserChangeQuery{}))
	if got := userChangeKeys(all.Items); fmt.Sprint(got) != fmt.Sprint(want) || all.Next != "" {
		t.Fatalf("UserChanges = %v next %q, want %v and no next", got, all.Next, want)
	}
	first := all.Items[0]
	if first.Source != "src" || first.SourceID != src.ID || !first.AppliedAt.Equal(tm(500, 0)) ||
		len(first.Attributes) != 1 || first.Attributes[0] != updated.Attributes[0] {
		t.Errorf("newest change: %+v", first)
	}
	if m := all.Items[1].Member; m == nil || *m != ann || all.Items[1].Name != "Staff" {
		t.Errorf("membership change: %+v", all.Items[1])
	}
	var paged []string
	q := store.UserChangeQuery{Limit: 2}
	for range 3 {
		p := must[store.Page[store.UserChange]](t)(s.UserChanges(ctx, a.ID, ann.ID, q))
		paged = append(paged, userChangeKeys(p.Items)...)
		if q.After = p.Next; q.After == "" {
			break
		}
	}
	if fmt.Sprint(paged) != fmt.Sprint(want) {
		t.Errorf("paged by 2: %v, want %v", paged, want)
	}
	if p := must[store.Page[store.UserChange]](t)(s.UserChanges(ctx, b.ID, ann.ID, store.UserChangeQuery{})); len(p.Items) != 1 || p.Items[0].RunID != ids[3] {
		t.Errorf("account b's history of the same id: %v", userChangeKeys(p.Items))
	}
	if p := must[store.Page[store.UserChange]](t)(s.UserChanges(ctx, a.ID, "nobody", store.UserChangeQuery{})); len(p.Items) != 0 {
		t.Errorf("a user without changes: %v", userChangeKeys(p.Items))
	}
	_, err := s.UserChanges(ctx, a.ID, ann.ID, store.UserChangeQuery{After: "not-a-cursor", Limit: 2})
	wantErr(t, err, store.ErrInvalidCursor, "UserChanges after a made-up cursor")
	testUserChangesOfSyncedMemberships(t, s, a, src)
}

// testUserChangesOfSyncedMemberships: the membership changes a sync writes
// in SQL (SyncMembershipsLogged) are in the member's history too.
func testUserChangesOfSyncedMemberships(t *testing.T, s store.Store, a directory.Account, src directory.Source) {
	ctx := t.Context()
	g := directory.Group{AccountID: a.ID, GroupAttributes: directory.GroupAttributes{Name: "Engineering"}}
	u := directory.User{AccountID: a.ID, Enabled: true, UserAttributes: directory.UserAttributes{Username: "alice@example.com"}}
	run := directory.Run{AccountID: a.ID, SourceID: src.ID, Kind: directory.RunFull, StartedAt: tm(900, 0)}
	update(t, s, func(tx store.Tx) error {
		for _, err := range []error{tx.CreateGroup(ctx, &g), tx.CreateUser(ctx, &u), tx.CreateRun(ctx, &run)} {
			if err != nil {
				return err
			}
		}
		if err := tx.Link(ctx, directory.MemberGroup, g.ID, directory.SourceLink{SourceID: src.ID, ExternalID: "g"}); err != nil {
			return err
		}
		return tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: src.ID, ExternalID: "u"})
	})
	if err := s.StageMemberships(ctx, run.ID, []directory.SourceMembership{{GroupExternalID: "g", MemberExternalID: "u", MemberKind: directory.MemberUser}}); err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx store.Tx) error {
		_, _, err := tx.SyncMembershipsLogged(ctx, src.ID, run.ID, store.Reach{},
			store.MemberLog{RunID: run.ID, AccountID: a.ID, SourceName: src.Name, Time: time.Now()})
		if err != nil {
			return err
		}
		run.Outcome, run.FinishedAt = directory.OutcomeSucceeded, tm(901, 0)
		return tx.UpdateRun(ctx, run)
	})
	p := must[store.Page[store.UserChange]](t)(s.UserChanges(ctx, a.ID, u.ID, store.UserChangeQuery{}))
	if len(p.Items) != 1 || p.Items[0].Action != directory.ActionMemberAdded || p.Items[0].ObjectID != g.ID ||
		p.Items[0].Member == nil || p.Items[0].Member.ID != u.ID || p.Items[0].RunID != run.ID {
		t.Errorf("history of a user a sync added to a group: %+v", p.Items)
	}
}

func userChangeKeys(cs []store.UserChange) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s/%d %s", c.RunID, c.Seq, c.Action)
	}
	return out
}
