package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// testEvents: the feed keeps order per account, resumes after a seq, and
// prunes by age.
func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkAccount(t, s, "a"), mkAccount(t, s, "b")
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	update(t, s, func(tx store.Tx) error {
		return tx.AppendEvents(ctx, []directory.Event{
			{AccountID: a.ID, Type: directory.EventUserCreated, Time: old, Data: json.RawMessage(`{"n":1}`)},
			{AccountID: b.ID, Type: directory.EventUserCreated, Time: old},
			{AccountID: a.ID, Type: directory.EventUserUpdated, Time: old.Add(48 * time.Hour), Data: json.RawMessage(`{"n":2}`)},
		})
	})
	evs := must[[]directory.Event](t)(s.Events(ctx, a.ID, 0, 0))
	if len(evs) != 2 || evs[0].Seq >= evs[1].Seq || evs[0].ID == "" || evs[0].ID == evs[1].ID || string(evs[1].Data) != `{"n":2}` {
		t.Fatalf("events of a: %+v", evs)
	}
	if rest := must[[]directory.Event](t)(s.Events(ctx, a.ID, evs[0].Seq, 0)); len(rest) != 1 || rest[0].Seq != evs[1].Seq {
		t.Fatalf("events after %d: %+v", evs[0].Seq, rest)
	}
	if one := must[[]directory.Event](t)(s.Events(ctx, a.ID, 0, 1)); len(one) != 1 {
		t.Fatalf("limit 1: %d events", len(one))
	}
	update(t, s, func(tx store.Tx) error {
		n, err := tx.PruneEvents(ctx, old.Add(time.Hour))
		if err == nil && n != 2 {
			t.Errorf("pruned %d events, want 2", n)
		}
		return err
	})
	if left := must[[]directory.Event](t)(s.Events(ctx, a.ID, 0, 0)); len(left) != 1 || left[0].Type != directory.EventUserUpdated {
		t.Fatalf("after pruning: %+v", left)
	}
}

// testLeases: one holder at a time; a lease runs out; release frees it.
func testLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	acc := mkAccount(t, s, "acme")
	src := mkSource(t, s, acc.ID, "entra")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	lease := func(holder string, at time.Time) error {
		return s.Update(ctx, func(tx store.Tx) error { return tx.AcquireLease(ctx, src.ID, holder, at, time.Minute) })
	}
	if err := lease("p1", now); err != nil {
		t.Fatal(err)
	}
	wantErr(t, lease("p2", now.Add(30*time.Second)), store.ErrLeaseHeld, "second holder")
	if err := lease("p1", now.Add(50*time.Second)); err != nil {
		t.Fatalf("renewal: %v", err)
	}
	wantErr(t, lease("p2", now.Add(100*time.Second)), store.ErrLeaseHeld, "second holder after a renewal")
	if err := lease("p2", now.Add(111*time.Second)); err != nil {
		t.Fatalf("a lease that ran out still held: %v", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.ReleaseLease(ctx, src.ID, "p1") }) // not the holder: no effect
	wantErr(t, lease("p1", now.Add(112*time.Second)), store.ErrLeaseHeld, "after a release by another")
	update(t, s, func(tx store.Tx) error { return tx.ReleaseLease(ctx, src.ID, "p2") })
	if err := lease("p1", now.Add(113*time.Second)); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// testMembershipsOneByOne: add, remove and list one member's memberships
// through one source; replays report no change.
func testMembershipsOneByOne(t *testing.T, s store.Store) {
	ctx := t.Context()
	acc := mkAccount(t, s, "acme")
	src, other := mkSource(t, s, acc.ID, "entra"), mkSource(t, s, acc.ID, "ad")
	u := mkUser(t, s, acc.ID, "ann", "ann@x.example")
	g1, g2 := mkGroup(t, s, acc.ID, "g1"), mkGroup(t, s, acc.ID, "g2")
	m := func(g directory.Group) store.Membership {
		return store.Membership{GroupID: g.ID, GroupName: g.Name, MemberKind: directory.MemberUser, MemberID: u.ID}
	}
	update(t, s, func(tx store.Tx) error {
		for _, c := range []struct {
			src  string
			m    store.Membership
			want bool
		}{{src.ID, m(g1), true}, {src.ID, m(g1), false}, {src.ID, m(g2), true}, {other.ID, m(g1), true}} {
			got, err := tx.AddMembership(ctx, c.src, c.m)
			if err != nil || got != c.want {
				t.Errorf("AddMembership(%s) = %v, %v; want %v", c.m.GroupName, got, err, c.want)
			}
		}
		of, err := tx.MembershipsOf(ctx, src.ID, directory.MemberUser, u.ID)
		if err != nil || len(of) != 2 {
			t.Errorf("MembershipsOf = %+v, %v", of, err)
		}
		if got, err := tx.RemoveMembership(ctx, src.ID, m(g1)); err != nil || !got {
			t.Errorf("RemoveMembership = %v, %v", got, err)
		}
		if got, _ := tx.RemoveMembership(ctx, src.ID, m(g1)); got {
			t.Error("removing twice reported a change")
		}
		return nil
	})
	// g1 still has ann through the other source.
	if ms := must[[]directory.Member](t)(s.Members(ctx, acc.ID, g1.ID, false)); len(ms) != 1 {
		t.Fatalf("g1 members %+v", ms)
	}
}

// testPurge: a purged user or group is gone, with its links and memberships.
func testPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	acc, other := mkAccount(t, s, "acme"), mkAccount(t, s, "other")
	src := mkSource(t, s, acc.ID, "entra")
	u := mkUser(t, s, acc.ID, "ann", "ann@x.example")
	g, parent := mkGroup(t, s, acc.ID, "g"), mkGroup(t, s, acc.ID, "parent")
	link(t, s, directory.MemberUser, u.ID, src.ID, "ext-u")
	update(t, s, func(tx store.Tx) error {
		tx.AddMembership(ctx, src.ID, store.Membership{GroupID: g.ID, MemberKind: directory.MemberUser, MemberID: u.ID})
		_, err := tx.AddMembership(ctx, src.ID, store.Membership{GroupID: parent.ID, MemberKind: directory.MemberGroup, MemberID: g.ID})
		return err
	})
	wantErr(t, s.Update(ctx, func(tx store.Tx) error { return tx.PurgeUser(ctx, other.ID, u.ID) }), store.ErrNotFound, "purge from another account")
	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, acc.ID, u.ID) })
	if _, err := s.User(ctx, acc.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("purged user still there: %v", err)
	}
	if _, err := s.UserByLink(ctx, src.ID, "ext-u"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a purged user's link is still there")
	}
	if ms := must[[]directory.Member](t)(s.Members(ctx, acc.ID, g.ID, false)); len(ms) != 0 {
		t.Fatalf("a purged user is still a member: %+v", ms)
	}
	// Its username is free again.
	mkUser(t, s, acc.ID, "ann", "ann@x.example")
	update(t, s, func(tx store.Tx) error { return tx.PurgeGroup(ctx, acc.ID, g.ID) })
	if ms := must[[]directory.Member](t)(s.Members(ctx, acc.ID, parent.ID, false)); len(ms) != 0 {
		t.Fatalf("a purged group is still a member: %+v", ms)
	}
}

// testSourceSettings: settings round-trip with the source.
func testSourceSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	acc := mkAccount(t, s, "acme")
	src := mkSource(t, s, acc.ID, "entra")
	if got := must[directory.Source](t)(s.Source(ctx, acc.ID, src.ID)); len(got.Settings) != 0 {
		t.Fatalf("new source has settings %s", got.Settings)
	}
	src.Settings = []byte(`{"require_email":true}`)
	update(t, s, func(tx store.Tx) error { return tx.UpdateSource(ctx, src) })
	if got := must[directory.Source](t)(s.Source(ctx, acc.ID, "entra")); string(got.Settings) != `{"require_email":true}` {
		t.Fatalf("settings %q", got.Settings)
	}
}

// testStagedMembersOf: one group's staged direct members.
func testStagedMembersOf(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.StageMemberships(ctx, "run", []directory.SourceMembership{
		{GroupExternalID: "g", MemberExternalID: "u2", MemberKind: directory.MemberUser},
		{GroupExternalID: "g", MemberExternalID: "g2", MemberKind: directory.MemberGroup},
		{GroupExternalID: "other", MemberExternalID: "u1", MemberKind: directory.MemberUser},
	}); err != nil {
		t.Fatal(err)
	}
	ms := must[[]directory.SourceMembership](t)(s.StagedMembersOf(ctx, "run", "g"))
	if len(ms) != 2 || ms[0].MemberExternalID != "g2" || ms[1].MemberExternalID != "u2" {
		t.Fatalf("staged members of g: %+v", ms)
	}
	if ms := must[[]directory.SourceMembership](t)(s.StagedMembersOf(ctx, "other-run", "g")); len(ms) != 0 {
		t.Fatalf("another run's staging leaked: %+v", ms)
	}
}

// testSyncMembershipsPaged: thousands of changed memberships come in pages,
// each whole, none twice.
func testSyncMembershipsPaged(t *testing.T, s store.Store) {
	ctx := t.Context()
	acc := mkAccount(t, s, "acme")
	src := mkSource(t, s, acc.ID, "entra")
	g := mkGroup(t, s, acc.ID, "big")
	link(t, s, directory.MemberGroup, g.ID, src.ID, "g")
	const n = 2600
	var staged []directory.SourceMembership
	update(t, s, func(tx store.Tx) error {
		for i := range n {
			u := directory.User{AccountID: acc.ID, Enabled: true, UserAttributes: directory.UserAttributes{Username: fmt.Sprintf("u%04d", i)}}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			ext := fmt.Sprintf("x%04d", i)
			if err := tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: src.ID, ExternalID: ext}); err != nil {
				return err
			}
			staged = append(staged, directory.SourceMembership{GroupExternalID: "g", MemberExternalID: ext, MemberKind: directory.MemberUser})
		}
		return nil
	})
	sync := func(run string, ms []directory.SourceMembership) (added, removed map[string]int, pages int) {
		if len(ms) > 0 {
			if err := s.StageMemberships(ctx, run, ms); err != nil {
				t.Fatal(err)
			}
		}
		added, removed = map[string]int{}, map[string]int{}
		update(t, s, func(tx store.Tx) error {
			return tx.SyncMemberships(ctx, src.ID, run, store.Reach{}, func(add bool, page []store.Membership) error {
				pages++
				for _, m := range page {
					if add {
						added[m.MemberName]++
					} else {
						removed[m.MemberName]++
					}
				}
				return nil
			})
		})
		return added, removed, pages
	}
	added, removed, pages := sync("r1", staged)
	if len(added) != n || len(removed) != 0 || pages < 3 {
		t.Fatalf("first sync: %d added, %d removed in %d pages", len(added), len(removed), pages)
	}
	for name, c := range added {
		if c != 1 {
			t.Fatalf("%s handed over %d times", name, c)
		}
	}
	if ms := must[[]directory.Member](t)(s.Members(ctx, acc.ID, g.ID, false)); len(ms) != n {
		t.Fatalf("%d members after the first sync", len(ms))
	}
	added, removed, _ = sync("r2", staged[:100])
	if len(added) != 0 || len(removed) != n-100 {
		t.Fatalf("second sync: %d added, %d removed", len(added), len(removed))
	}
	if ms := must[[]directory.Member](t)(s.Members(ctx, acc.ID, g.ID, false)); len(ms) != 100 {
		t.Fatalf("%d members after the second sync", len(ms))
	}
}
