// Package storetest is the conformance suite every store.Store backend
// passes: a backend's test calls RunTests with a function that opens a
// fresh, empty store, and the suite checks each method and rule of the
// store package's contract against it.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// RunTests runs the suite. newStore opens a new, empty store for one
// subtest and arranges (with t.Cleanup) to close and remove it.
func RunTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Accounts", testAccounts},
		{"Sources", testSources},
		{"OtherAccountNotFound", testOtherAccountNotFound},
		{"UserUniqueness", testUserUniqueness},
		{"UserRoundTrip", testUserRoundTrip},
		{"GroupRoundTrip", testGroupRoundTrip},
		{"Links", testLinks},
		{"UserListing", testUserListing},
		{"ListingFilters", testListingFilters},
		{"Snapshot", testSnapshot},
		{"GroupListing", testGroupListing},
		{"Staging", testStaging},
		{"Unstaged", testUnstaged},
		{"SyncMemberships", testSyncMemberships},
		{"DeleteSource", testDeleteSource},
		{"TransitiveMembers", testTransitiveMembers},
		{"UpdateAtomic", testUpdateAtomic},
		{"TxSeesOwnWrites", testTxSeesOwnWrites},
		{"Runs", testRuns},
		{"RunSlots", testRunSlots},
		{"RunClaims", testRunClaims},
		{"UpdateApply", testUpdateApply},
		{"Changes", testChanges},
		{"UserChanges", testUserChanges},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Events", testEvents},
		{"Leases", testLeases},
		{"MembershipsOneByOne", testMembershipsOneByOne},
		{"Purge", testPurge},
		{"SourceSettings", testSourceSettings},
		{"StagedMembersOf", testStagedMembersOf},
		{"SyncMembershipsPaged", testSyncMembershipsPaged},
		{"Service", testService},
		{"StagingKeys", testStagingKeys},
		{"UnfinishedRuns", testUnfinishedRuns},
		{"SyncMembershipsReach", testSyncMembershipsReach},
		{"CountLinked", testCountLinked},
		{"ByLinks", testByLinks},
		{"Console", testConsole},
		{"DomainClaims", testDomainClaims},
		{"ResealSecrets", testResealSecrets},
		{"Targets", testTargets},
		{"Prune", testPrune},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// update runs fn in a transaction and fails the test on an error.
func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// must returns v, failing the test if err is not nil.
func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

func mkAccount(t *testing.T, s store.Store, name string) directory.Account {
	t.Helper()
	a := directory.Account{Name: name}
	update(t, s, func(tx store.Tx) error { return tx.CreateAccount(t.Context(), &a) })
	return a
}

func mkSource(t *testing.T, s store.Store, accountID, name string) directory.Source {
	t.Helper()
	src := directory.Source{AccountID: accountID, Name: name, Kind: directory.KindEntra, Enabled: true,
		Config: []byte(`{"tenant":"t"}`)}
	update(t, s, func(tx store.Tx) error { return tx.CreateSource(t.Context(), &src) })
	return src
}

func mkUser(t *testing.T, s store.Store, accountID, username, email string) directory.User {
	t.Helper()
	u := directory.User{AccountID: accountID, Enabled: true,
		UserAttributes: directory.UserAttributes{Username: username, Email: email, DisplayName: "User " + username}}
	update(t, s, func(tx store.Tx) error { return tx.CreateUser(t.Context(), &u) })
	return u
}

func mkGroup(t *testing.T, s store.Store, accountID, name string) directory.Group {
	t.Helper()
	g := directory.Group{AccountID: accountID, GroupAttributes: directory.GroupAttributes{Name: name}}
	update(t, s, func(tx store.Tx) error { return tx.CreateGroup(t.Context(), &g) })
	return g
}

func link(t *testing.T, s store.Store, kind directory.MemberKind, id, sourceID, ext string) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		return tx.Link(t.Context(), kind, id, directory.SourceLink{SourceID: sourceID, ExternalID: ext})
	})
}

// tm is a time at microsecond precision, which every backend keeps.
func tm(sec, usec int) time.Time {
	return time.Date(2025, 3, 14, 15, 9, sec, usec*1000, time.UTC)
}

func testAccounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Minute)
	b := mkAccount(t, s, "Beta")
	a := mkAccount(t, s, "Alpha")
	if a.ID == "" || a.ID == b.ID {
		t.Fatalf("ids: %q, %q", a.ID, b.ID)
	}
	if a.CreatedAt.Before(before) {
		t.Errorf("CreatedAt %v not set", a.CreatedAt)
	}
	for _, q := range []string{a.ID, "Alpha", "alpha", "ALPHA"} {
		got, err := s.Account(ctx, q)
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("Account(%q) = %+v, %v; want %+v", q, got, err, a)
		}
	}
	_, err := s.Account(ctx, "gamma")
	wantErr(t, err, store.ErrNotFound, "Account(gamma)")

	all := must[[]directory.Account](t)(s.Accounts(ctx))
	if len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID {
		t.Errorf("Accounts = %+v, want Alpha then Beta", all)
	}

	dup := directory.Account{Name: "BETA"}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.CreateAccount(ctx, &dup) })
	wantErr(t, err, store.ErrAlreadyExists, "CreateAccount(BETA)")
}

func testSources(t *testing.T, s store.Store) {
	ctx := t.Context()
	acc := mkAccount(t, s, "acme")
	other := mkAccount(t, s, "other")
	src := directory.Source{AccountID: acc.ID, Name: "Entra", Description: "the tenant", Kind: directory.KindEntra,
		Config: []byte(`{"tenant_id":"x"}`), Secret: []byte{0, 1, 2, 0xff}, Enabled: true}
	update(t, s, func(tx store.Tx) error { return tx.CreateSource(ctx, &src) })
	if src.ID == "" || src.CreatedAt.IsZero() || !src.UpdatedAt.Equal(src.CreatedAt) {
		t.Fatalf("CreateSource set %+v", src)
	}
	for _, q := range []string{src.ID, "entra", "ENTRA"} {
		got, err := s.Source(ctx, acc.ID, q)
		if err != nil || !reflect.DeepEqual(got, src) {
			t.Errorf("Source(%q) = %+v, %v; want %+v", q, got, err, src)
		}
	}
	_, err := s.Source(ctx, other.ID, src.ID)
	wantErr(t, err, store.ErrNotFound, "Source from another account")

	// The same name in another account is another source.
	mkSource(t, s, other.ID, "entra")
	ldap := mkSource(t, s, acc.ID, "ad")
	dup := directory.Source{AccountID: acc.ID, Name: "eNTRA", Kind: directory.KindLDAP}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.CreateSource(ctx, &dup) })
	wantErr(t, err, store.ErrAlreadyExists, "CreateSource with a taken name")

	srcs := must[[]directory.Source](t)(s.Sources(ctx, acc.ID))
	if len(srcs) != 2 || srcs[0].ID != ldap.ID || srcs[1].ID != src.ID {
		t.Errorf("Sources = %+v, want ad then Entra", srcs)
	}

	// UpdateSource writes every field.
	changed := src
	changed.Name, changed.Description, changed.Kind = "Entra2", "", directory.KindLDAP
	changed.Config, changed.Secret, changed.Enabled = []byte(`{}`), []byte("sealed"), false
	update(t, s, func(tx store.Tx) error { return tx.UpdateSource(ctx, changed) })
	got := must[directory.Source](t)(s.Source(ctx, acc.ID, "entra2"))
	if got.UpdatedAt.Before(src.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v < %v", got.UpdatedAt, src.UpdatedAt)
	}
	changed.UpdatedAt = got.UpdatedAt
	if !reflect.DeepEqual(got, changed) {
		t.Errorf("after UpdateSource: %+v, want %+v", got, changed)
	}
	taken := changed
	taken.Name = "AD"
	err = s.Update(ctx, func(tx store.Tx) error { return tx.UpdateSource(ctx, taken) })
	wantErr(t, err, store.ErrAlreadyExists, "UpdateSource to a taken name")
	wrongAccount := changed
	wrongAccount.AccountID = other.ID
	err = s.Update(ctx, func(tx store.Tx) error { return tx.UpdateSource(ctx, wrongAccount) })
	wantErr(t, err, store.ErrNotFound, "UpdateSource in another account")

	// State.
	if st := must[string](t)(s.SourceState(ctx, src.ID)); st != "" {
		t.Errorf("new source state = %q", st)
	}
	update(t, s, func(tx store.Tx) error { return tx.SetSourceState(ctx, src.ID, `{"delta":"abc"}`) })
	if st := must[string](t)(s.SourceState(ctx, src.ID)); st != `{"delta":"abc"}` {
		t.Errorf("state = %q", st)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.SetSourceState(ctx, "nope", "x") })
	wantErr(t, err, store.ErrNotFound, "SetSourceState of a missing source")
	_, err = s.SourceState(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "SourceState of a missing source")
}

// testOtherAccountNotFound reads and writes every kind of object of one
// account through another: all of it is ErrNotFound.
func testOtherAccountNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	b := mkAccount(t, s, "b")
	src := mkSource(t, s, a.ID, "src")
	u := mkUser(t, s, a.ID, "ann@a.example", "ann@a.example")
	g := mkGroup(t, s, a.ID, "Staff")
	run := directory.Run{AccountID: a.ID, SourceID: src.ID, Kind: directory.RunFull}
	update(t, s, func(tx store.Tx) error { return tx.CreateRun(ctx, &run) })

	for _, c := range []struct {
		what string
		err  error
	}{
		{"User", second(s.User(ctx, b.ID, u.ID))},
		{"UserByUsername", second(s.UserByUsername(ctx, b.ID, u.Username))},
		{"UserByEmail", second(s.UserByEmail(ctx, b.ID, u.Email))},
		{"Group", second(s.Group(ctx, b.ID, g.ID))},
		{"GroupByName", second(s.GroupByName(ctx, b.ID, g.Name))},
		{"Members", second(s.Members(ctx, b.ID, g.ID, true))},
		{"Source", second(s.Source(ctx, b.ID, src.ID))},
		{"Run", second(s.Run(ctx, b.ID, run.ID))},
		{"UpdateUser", s.Update(ctx, func(tx store.Tx) error {
			v := u
			v.AccountID = b.ID
			return tx.UpdateUser(ctx, v)
		})},
		{"UpdateGroup", s.Update(ctx, func(tx store.Tx) error {
			v := g
			v.AccountID = b.ID
			return tx.UpdateGroup(ctx, v)
		})},
		{"UpdateRun", s.Update(ctx, func(tx store.Tx) error {
			v := run
			v.AccountID = b.ID
			return tx.UpdateRun(ctx, v)
		})},
		{"DeleteSource", s.Update(ctx, func(tx store.Tx) error { return tx.DeleteSource(ctx, b.ID, src.ID) })},
		{"CreateRun with another account's source", s.Update(ctx, func(tx store.Tx) error {
			return tx.CreateRun(ctx, &directory.Run{AccountID: b.ID, SourceID: src.ID})
		})},
		{"CreateUser in a missing account", s.Update(ctx, func(tx store.Tx) error {
			return tx.CreateUser(ctx, &directory.User{AccountID: "missing", UserAttributes: directory.UserAttributes{Username: "x"}})
		})},
		{"Link to another account's source", s.Update(ctx, func(tx store.Tx) error {
			bu := directory.User{AccountID: b.ID, UserAttributes: directory.UserAttributes{Username: "bob"}}
			if err := tx.CreateUser(ctx, &bu); err != nil {
				return err
			}
			return tx.Link(ctx, directory.MemberUser, bu.ID, directory.SourceLink{SourceID: src.ID, ExternalID: "x"})
		})},
	} {
		wantErr(t, c.err, store.ErrNotFound, c.what)
	}
	// Nothing of a leaked into b's listings.
	if p := must[store.Page[directory.User]](t)(s.Users(ctx, b.ID, store.UserQuery{})); len(p.Items) != 0 {
		t.Errorf("b's users: %+v", p.Items)
	}
	if p := must[store.Page[directory.Group]](t)(s.Groups(ctx, b.ID, store.GroupQuery{})); len(p.Items) != 0 {
		t.Errorf("b's groups: %+v", p.Items)
	}
	if rs := must[[]directory.Run](t)(s.Runs(ctx, b.ID, "", 0)); len(rs) != 0 {
		t.Errorf("b's runs: %+v", rs)
	}
	if ss := must[[]directory.Source](t)(s.Sources(ctx, b.ID)); len(ss) != 0 {
		t.Errorf("b's sources: %+v", ss)
	}
}

func second[T any](_ T, err error) error { return err }

func testUserUniqueness(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	b := mkAccount(t, s, "b")
	ann := mkUser(t, s, a.ID, "Ann@Example.com", "ann@example.com")
	bob := mkUser(t, s, a.ID, "bob@example.com", "Bob@Example.com")

	create := func(username, email string) error {
		u := directory.User{AccountID: a.ID, UserAttributes: directory.UserAttributes{Username: username, Email: email}}
		return s.Update(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &u) })
	}
	wantTaken(t, create("ANN@example.COM", ""), "username", "CreateUser with a taken username")
	wantTaken(t, create("carol@example.com", "BOB@example.com"), "email", "CreateUser with a taken email")
	// Users without email are many.
	for _, n := range []string{"c1", "c2", "c3"} {
		if err := create(n, ""); err != nil {
			t.Errorf("CreateUser(%s) without email: %v", n, err)
		}
	}
	// Another account has its own names.
	mkUser(t, s, b.ID, "ann@example.com", "ann@example.com")
	userUniquenessOnUpdate(t, s, ann, bob)
	userConflictsInsideATx(t, s, a.ID, ann, bob)
}

// wantTaken checks that err is ErrAlreadyExists naming field.
func wantTaken(t *testing.T, err error, field, what string) {
	t.Helper()
	wantErr(t, err, store.ErrAlreadyExists, what)
	if err != nil && !strings.Contains(err.Error(), field) {
		t.Errorf("error %q does not name the %s", err, field)
	}
}

// userUniquenessOnUpdate: a user cannot take another's username or email,
// whatever the case, and keeps its own under another case.
func userUniquenessOnUpdate(t *testing.T, s store.Store, ann, bob directory.User) {
	ctx := t.Context()
	upd := func(u directory.User) error {
		return s.Update(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, u) })
	}
	v := bob
	v.Username = "ann@EXAMPLE.com"
	wantTaken(t, upd(v), "username", "UpdateUser to a taken username")
	v = bob
	v.Email = "ANN@example.com"
	wantTaken(t, upd(v), "email", "UpdateUser to a taken email")
	// A user keeps its own name and email under another case.
	v = ann
	v.Username, v.Email = "ANN@example.com", "Ann@Example.COM"
	if err := upd(v); err != nil {
		t.Errorf("UpdateUser recasing its own name: %v", err)
	}
	v = bob
	v.Email = ""
	if err := upd(v); err != nil {
		t.Errorf("UpdateUser clearing its email: %v", err)
	}
}

func userConflictsInsideATx(t *testing.T, s store.Store, accountID string, ann, bob directory.User) {
	ctx, a := t.Context(), directory.Account{ID: accountID}
	// A conflict inside a transaction does not spoil the transaction: an
	// apply counts the conflict and goes on.
	err := s.Update(ctx, func(tx store.Tx) error {
		u := directory.User{AccountID: a.ID, UserAttributes: directory.UserAttributes{Username: "ann@example.com"}}
		if err := tx.CreateUser(ctx, &u); !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("CreateUser: got %v, want ErrAlreadyExists", err)
		}
		w := bob
		w.Username = "ann@example.com"
		if err := tx.UpdateUser(ctx, w); !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("UpdateUser: got %v, want ErrAlreadyExists", err)
		}
		w = bob
		w.Email = "ann@example.com"
		if err := tx.UpdateUser(ctx, w); !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("UpdateUser to a taken email: got %v, want ErrAlreadyExists", err)
		}
		u = directory.User{AccountID: a.ID, UserAttributes: directory.UserAttributes{Username: "eve@example.com", Email: "ANN@example.com"}}
		if err := tx.CreateUser(ctx, &u); !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("CreateUser with a taken email: got %v, want ErrAlreadyExists", err)
		}
		u = directory.User{AccountID: a.ID, UserAttributes: directory.UserAttributes{Username: "dave@example.com"}}
		return tx.CreateUser(ctx, &u)
	})
	if err != nil {
		t.Errorf("transaction after conflicts: %v", err)
	}
	got, err := s.UserByUsername(ctx, a.ID, "DAVE@example.com")
	if err != nil || got.Username != "dave@example.com" {
		t.Errorf("UserByUsername(DAVE) = %+v, %v", got, err)
	}
	got, err = s.UserByEmail(ctx, a.ID, "ann@EXAMPLE.com")
	if err != nil || got.ID != ann.ID {
		t.Errorf("UserByEmail(ann) = %+v, %v", got, err)
	}
	_, err = s.UserByEmail(ctx, a.ID, "")
	wantErr(t, err, store.ErrNotFound, "UserByEmail(\"\")")
}

func fullUser(accountID string) directory.User {
	return directory.User{
		AccountID: accountID,
		UserAttributes: directory.UserAttributes{
			Username: "Zoë.O'Brien@example.com", Email: "zoe@example.com", DisplayName: "Zoë O'Brien",
			GivenName: "Zoë", Surname: "O'Brien", JobTitle: "Engineer", Department: "R&D",
			MobilePhone: "+33612345678", BusinessPhones: []string{"+4930123456", "+4930654321"},
			UserType: "Member", Licenses: []string{"sku-1", "sku-2"}, ProxyAddresses: []string{"SMTP:zoe@example.com", "smtp:z@example.com"},
			ImmutableID: "aW1tdXRhYmxl", AccountName: "zobrien", DN: "CN=Zoë O'Brien,OU=People,DC=example,DC=com",
		},
		Enabled: true,
		State:   directory.StateActive,
		Tags:    []string{"vip", "pilot"},
		Notes:   "line one\nline two",
	}
}

func testUserRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	u := fullUser(a.ID)
	want := u
	update(t, s, func(tx store.Tx) error { return tx.CreateUser(ctx, &u) })
	if u.ID == "" || u.CreatedAt.IsZero() || !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Fatalf("CreateUser set %+v", u)
	}
	want.ID, want.CreatedAt, want.UpdatedAt = u.ID, u.CreatedAt, u.UpdatedAt
	got := must[directory.User](t)(s.User(ctx, a.ID, u.ID))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("User after create:\n got %+v\nwant %+v", got, want)
	}

	// Every field changes; ID, AccountID, Sources and CreatedAt are not the
	// update's to write.
	w := directory.User{
		ID: u.ID, AccountID: a.ID,
		UserAttributes: directory.UserAttributes{
			Username: "zoe.new@example.com", Email: "ZOE.NEW@example.com", DisplayName: "Zoë New",
			GivenName: "Zo", Surname: "New", JobTitle: "Lead", Department: "Ops",
			MobilePhone: "+33700000000", BusinessPhones: []string{"+1"},
			UserType: "Guest", Licenses: []string{"sku-3"}, ProxyAddresses: []string{"SMTP:zoe.new@example.com"},
			ImmutableID: "bmV3", AccountName: "znew", DN: "CN=Zoë New,OU=Gone,DC=example,DC=com",
		},
		Enabled:   false,
		State:     directory.StateTrash,
		Tags:      []string{"gone"},
		Notes:     "left",
		TrashedAt: tm(5, 123456),
		Sources:   []directory.SourceLink{{SourceID: "ignored", ExternalID: "ignored"}},
		CreatedAt: tm(1, 0),
	}
	update(t, s, func(tx store.Tx) error { return tx.UpdateUser(ctx, w) })
	got = must[directory.User](t)(s.User(ctx, a.ID, u.ID))
	if got.UpdatedAt.Before(u.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v < %v", got.UpdatedAt, u.UpdatedAt)
	}
	w.Sources, w.CreatedAt, w.UpdatedAt = nil, u.CreatedAt, got.UpdatedAt
	if !reflect.DeepEqual(got, w) {
		t.Errorf("User after update:\n got %+v\nwant %+v", got, w)
	}

	// And back to empty: lists, strings and TrashedAt clear.
	e := directory.User{ID: u.ID, AccountID: a.ID, State: directory.StateDisabled,
		UserAttributes: directory.UserAttributes{Username: "z"}}
	update(t, s, func(tx store.Tx) error { return tx.UpdateUser(ctx, e) })
	got = must[directory.User](t)(s.User(ctx, a.ID, u.ID))
	e.CreatedAt, e.UpdatedAt = u.CreatedAt, got.UpdatedAt
	if !reflect.DeepEqual(got, e) {
		t.Errorf("User after clearing:\n got %+v\nwant %+v", got, e)
	}

	err := s.Update(ctx, func(tx store.Tx) error {
		v := e
		v.ID = "no-such-user"
		return tx.UpdateUser(ctx, v)
	})
	wantErr(t, err, store.ErrNotFound, "UpdateUser of a missing user")
	_, err = s.User(ctx, a.ID, "no-such-user")
	wantErr(t, err, store.ErrNotFound, "User(no-such-user)")
}

func testGroupRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	g := directory.Group{AccountID: a.ID, GroupAttributes: directory.GroupAttributes{
		Name: "Ingénieurs", Description: "all of them", Mail: "eng@example.com",
		GroupTypes: []string{"Unified", "DynamicMembership"}, SecurityEnabled: true, MailEnabled: true,
		DN: "CN=Eng,DC=example,DC=com"}}
	want := g
	update(t, s, func(tx store.Tx) error { return tx.CreateGroup(ctx, &g) })
	if g.ID == "" || g.CreatedAt.IsZero() || g.State != directory.StateActive {
		t.Fatalf("CreateGroup set %+v", g)
	}
	want.ID, want.State, want.CreatedAt, want.UpdatedAt = g.ID, directory.StateActive, g.CreatedAt, g.UpdatedAt
	got := must[directory.Group](t)(s.Group(ctx, a.ID, g.ID))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Group after create:\n got %+v\nwant %+v", got, want)
	}
	w := directory.Group{ID: g.ID, AccountID: a.ID, GroupAttributes: directory.GroupAttributes{Name: "Eng"},
		State: directory.StateTrash, TrashedAt: tm(7, 1)}
	update(t, s, func(tx store.Tx) error { return tx.UpdateGroup(ctx, w) })
	got = must[directory.Group](t)(s.Group(ctx, a.ID, g.ID))
	w.CreatedAt, w.UpdatedAt = g.CreatedAt, got.UpdatedAt
	if !reflect.DeepEqual(got, w) {
		t.Errorf("Group after update:\n got %+v\nwant %+v", got, w)
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		v := w
		v.ID = "missing"
		return tx.UpdateGroup(ctx, v)
	})
	wantErr(t, err, store.ErrNotFound, "UpdateGroup of a missing group")
}

func testLinks(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "Zulu")
	src2 := mkSource(t, s, a.ID, "alpha")
	ann := mkUser(t, s, a.ID, "ann", "")
	bob := mkUser(t, s, a.ID, "bob", "")
	g := mkGroup(t, s, a.ID, "G")
	g2 := mkGroup(t, s, a.ID, "G2")

	link(t, s, directory.MemberUser, ann.ID, src.ID, "ext-ann")
	link(t, s, directory.MemberUser, ann.ID, src2.ID, "ext-ann-2")
	// Linking the same pair again is no change.
	link(t, s, directory.MemberUser, ann.ID, src.ID, "ext-ann")
	got := must[directory.User](t)(s.UserByLink(ctx, src.ID, "ext-ann"))
	want := []directory.SourceLink{
		{SourceID: src2.ID, Source: "alpha", ExternalID: "ext-ann-2"},
		{SourceID: src.ID, Source: "Zulu", ExternalID: "ext-ann"},
	}
	if got.ID != ann.ID || !reflect.DeepEqual(got.Sources, want) {
		t.Errorf("UserByLink = %+v, want ann with %+v", got, want)
	}
	for _, f := range []func() (directory.User, error){
		func() (directory.User, error) { return s.User(ctx, a.ID, ann.ID) },
		func() (directory.User, error) { return s.UserByUsername(ctx, a.ID, "ann") },
	} {
		if u, err := f(); err != nil || !reflect.DeepEqual(u.Sources, want) {
			t.Errorf("user's sources = %+v, %v; want %+v", u.Sources, err, want)
		}
	}
	_, err := s.UserByLink(ctx, src.ID, "ext-ann-2")
	wantErr(t, err, store.ErrNotFound, "UserByLink with the other source's external id")

	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.Link(ctx, directory.MemberUser, bob.ID, directory.SourceLink{SourceID: src.ID, ExternalID: "ext-ann"})
	})
	wantErr(t, err, store.ErrAlreadyExists, "Link of a linked source object to another user")
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.Link(ctx, directory.MemberUser, "missing", directory.SourceLink{SourceID: src.ID, ExternalID: "x"})
	})
	wantErr(t, err, store.ErrNotFound, "Link of a missing user")

	link(t, s, directory.MemberGroup, g.ID, src.ID, "ext-g")
	gg := must[directory.Group](t)(s.GroupByLink(ctx, src.ID, "ext-g"))
	if gg.ID != g.ID || len(gg.Sources) != 1 || gg.Sources[0] != (directory.SourceLink{SourceID: src.ID, Source: "Zulu", ExternalID: "ext-g"}) {
		t.Errorf("GroupByLink = %+v", gg)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.Link(ctx, directory.MemberGroup, g2.ID, directory.SourceLink{SourceID: src.ID, ExternalID: "ext-g"})
	})
	wantErr(t, err, store.ErrAlreadyExists, "Link of a linked group object to another group")
	// Users and groups have separate external ids.
	link(t, s, directory.MemberGroup, g2.ID, src.ID, "ext-ann")
	_, err = s.GroupByLink(ctx, src.ID, "missing")
	wantErr(t, err, store.ErrNotFound, "GroupByLink(missing)")
}

// userNames lists the usernames of a page.
func userNames(us []directory.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Username)
	}
	return out
}

// allUsers pages through a listing, checking each page's size.
func allUsers(t *testing.T, s store.Store, accountID string, q store.UserQuery) []string {
	t.Helper()
	var out []string
	for i := 0; ; i++ {
		p, err := s.Users(t.Context(), accountID, q)
		if err != nil {
			t.Fatalf("Users: %v", err)
		}
		if q.Limit > 0 && (len(p.Items) > q.Limit || (p.Next != "" && len(p.Items) != q.Limit)) {
			t.Fatalf("page of %d with limit %d and next %q", len(p.Items), q.Limit, p.Next)
		}
		out = append(out, userNames(p.Items)...)
		if p.Next == "" {
			return out
		}
		if i > 1000 {
			t.Fatal("paging does not end")
		}
		q.After = p.Next
	}
}

func testUserListing(t *testing.T, s store.Store) {
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	active, disabled, trash, linked := mkListedUsers(t, s, a.ID, src.ID)
	sorted := sortedFold
	notTrash := sorted(active, disabled)
	for _, limit := range []int{0, 1, 4, 7, 15, 16, 100} {
		if got := allUsers(t, s, a.ID, store.UserQuery{Limit: limit}); !slices.Equal(got, notTrash) {
			t.Errorf("limit %d: got %v\nwant %v", limit, got, notTrash)
		}
	}
	if got := allUsers(t, s, a.ID, store.UserQuery{States: []directory.State{directory.StateTrash}, Limit: 2}); !slices.Equal(got, sorted(trash)) {
		t.Errorf("trash: got %v, want %v", got, sorted(trash))
	}
	all := []directory.State{directory.StateActive, directory.StateDisabled, directory.StateTrash}
	if got := allUsers(t, s, a.ID, store.UserQuery{States: all, SourceID: src.ID, Limit: 3}); !slices.Equal(got, sorted(linked)) {
		t.Errorf("linked: got %v, want %v", got, sorted(linked))
	}
	for search, want := range map[string][]string{
		// Words begin words, in any order: Person 1x, and user06's email
		// Special_100%@ (100).
		"person 1":       sorted(filterSub(notTrash, []string{"01@", "06@", "10@", "12@", "13@", "14@", "16@", "17@", "18@"})),
		"1 PERS":         sorted(filterSub(notTrash, []string{"01@", "06@", "10@", "12@", "13@", "14@", "16@", "17@", "18@"})),
		"erson":          nil, // no word begins so
		"USER08":         {"USER08@example.com"},
		"special_100%":   {"user06@example.com"},
		"r_1":            nil, // _ is no wildcard: "user01" does not match
		"100%@":          {"user06@example.com"},
		"%":              nil, // no word at all
		"nobody-matches": nil,
	} {
		if got := allUsers(t, s, a.ID, store.UserQuery{Search: search, Limit: 2}); !slices.Equal(got, want) {
			t.Errorf("search %q: got %v, want %v", search, got, want)
		}
	}
	userListingCursor(t, s, a.ID, notTrash)
}

// mkListedUsers makes 23 users, active, disabled and in the trash, their
// names in mixed case, some linked to the source; it returns the names by
// state and the linked ones.
func mkListedUsers(t *testing.T, s store.Store, accountID, sourceID string) (active, disabled, trash, linked []string) {
	ctx, a, src := t.Context(), directory.Account{ID: accountID}, directory.Source{ID: sourceID}
	update(t, s, func(tx store.Tx) error {
		for i := range 23 {
			u := directory.User{AccountID: a.ID, UserAttributes: directory.UserAttributes{
				// Mixed case: the listing orders case-insensitively.
				Username:    fmt.Sprintf("%s%02d@example.com", []string{"user", "User", "USER"}[i%3], i),
				DisplayName: fmt.Sprintf("Person %d", i),
			}}
			switch i % 4 {
			case 0, 1:
				u.State = directory.StateActive
				active = append(active, u.Username)
			case 2:
				u.State = directory.StateDisabled
				disabled = append(disabled, u.Username)
			case 3:
				u.State = directory.StateTrash
				trash = append(trash, u.Username)
			}
			if i == 6 {
				u.Email = "Special_100%@example.com"
			}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			if i%5 == 0 {
				linked = append(linked, u.Username)
				if err := tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: src.ID, ExternalID: fmt.Sprint("x", i)}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return active, disabled, trash, linked
}

// sortedFold is the lists joined and sorted case-insensitively, as
// listings are.
func sortedFold(l ...[]string) []string {
	out := slices.Concat(l...)
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return out
}

// userListingCursor: a page that ends at the last user has no Next; users
// added behind the cursor do not shift the pages after it; a bad cursor is
// refused.
func userListingCursor(t *testing.T, s store.Store, accountID string, notTrash []string) {
	ctx, a := t.Context(), directory.Account{ID: accountID}
	// A page that ends exactly at the last user has no Next.
	p := must[store.Page[directory.User]](t)(s.Users(ctx, a.ID, store.UserQuery{Limit: len(notTrash)}))
	if p.Next != "" || len(p.Items) != len(notTrash) {
		t.Errorf("full page: %d items, next %q", len(p.Items), p.Next)
	}
	// Users added behind the cursor do not shift the pages after it.
	p = must[store.Page[directory.User]](t)(s.Users(ctx, a.ID, store.UserQuery{Limit: 5}))
	mkUser(t, s, a.ID, "aaa-first", "")
	rest := allUsers(t, s, a.ID, store.UserQuery{Limit: 5, After: p.Next})
	if got := append(userNames(p.Items), rest...); !slices.Equal(got, notTrash) {
		t.Errorf("after an insert before the cursor: got %v, want %v", got, notTrash)
	}
	_, err := s.Users(ctx, a.ID, store.UserQuery{After: "not a cursor!"})
	if err == nil {
		t.Error("Users with a bad cursor: no error")
	}
}

// filterSub keeps the names containing one of subs.
func filterSub(names, subs []string) []string {
	var out []string
	for _, n := range names {
		for _, s := range subs {
			if strings.Contains(n, s) {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

func testGroupListing(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	mkListedGroups(t, s, a.ID, src.ID)
	full, want, wantLinked := listedGroups(t, s, a.ID)
	page := func(q store.GroupQuery) []string { return allGroups(t, s, a.ID, q) }
	for _, limit := range []int{1, 3, 4, 5} {
		if got := page(store.GroupQuery{Limit: limit}); !slices.Equal(got, want) {
			t.Errorf("limit %d: got %v, want %v", limit, got, want)
		}
	}
	if got := page(store.GroupQuery{Limit: 3, SourceID: src.ID}); !slices.Equal(got, wantLinked) {
		t.Errorf("linked: got %v, want %v", got, wantLinked)
	}
	if got := page(store.GroupQuery{Search: "SALES"}); len(got) != 8 {
		t.Errorf("search SALES: %d groups, want 8", len(got))
	}
	if got := page(store.GroupQuery{States: []directory.State{directory.StateTrash}}); len(got) != 1 {
		t.Errorf("trash: %v", got)
	}
	// GroupByName: case-insensitive, first by id.
	first := ""
	for _, g := range full.Items {
		if strings.EqualFold(g.Name, "sales") && (first == "" || g.ID < first) {
			first = g.ID
		}
	}
	if g := must[directory.Group](t)(s.GroupByName(ctx, a.ID, "SaLeS")); g.ID != first {
		t.Errorf("GroupByName(SaLeS) = %s, want %s", g.ID, first)
	}
	_, err := s.GroupByName(ctx, a.ID, "nobody")
	wantErr(t, err, store.ErrNotFound, "GroupByName(nobody)")
}

// mkListedGroups makes 17 groups, many sharing a name, one in the trash,
// every other one linked to the source.
func mkListedGroups(t *testing.T, s store.Store, accountID, sourceID string) {
	ctx, a, src := t.Context(), directory.Account{ID: accountID}, directory.Source{ID: sourceID}
	update(t, s, func(tx store.Tx) error {
		// Many groups share names: paging must still be exact.
		for i := range 17 {
			g := directory.Group{AccountID: a.ID, GroupAttributes: directory.GroupAttributes{
				Name: []string{"Sales", "sales", "Eng", "Ops"}[i%4], Mail: fmt.Sprintf("g%d@example.com", i)}}
			if i == 16 {
				g.State = directory.StateTrash
			}
			if err := tx.CreateGroup(ctx, &g); err != nil {
				return err
			}
			if i%2 == 0 {
				if err := tx.Link(ctx, directory.MemberGroup, g.ID, directory.SourceLink{SourceID: src.ID, ExternalID: fmt.Sprint(i)}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// listedGroups lists the groups at once, checks their order (by name,
// case-insensitively, then id) and returns the page, the ids listed and
// the ids of the linked ones.
func listedGroups(t *testing.T, s store.Store, accountID string) (full store.Page[directory.Group], want, wantLinked []string) {
	ctx := t.Context()
	full = must[store.Page[directory.Group]](t)(s.Groups(ctx, accountID, store.GroupQuery{}))
	for i, g := range full.Items {
		if i > 0 {
			prev := full.Items[i-1]
			if c := strings.Compare(strings.ToLower(prev.Name), strings.ToLower(g.Name)); c > 0 || (c == 0 && prev.ID >= g.ID) {
				t.Errorf("groups out of order: %s/%s before %s/%s", prev.Name, prev.ID, g.Name, g.ID)
			}
		}
		if g.State == directory.StateTrash {
			t.Errorf("trashed group %s listed", g.ID)
		}
		want = append(want, g.ID)
		if len(g.Sources) == 1 {
			wantLinked = append(wantLinked, g.ID)
		}
	}
	if len(want) != 16 || len(wantLinked) != 8 {
		t.Fatalf("listed %d groups, %d linked; want 16, 8", len(want), len(wantLinked))
	}
	return full, want, wantLinked
}

// allGroups lists the groups page by page and returns their ids.
func allGroups(t *testing.T, s store.Store, accountID string, q store.GroupQuery) []string {
	t.Helper()
	var out []string
	for {
		p := must[store.Page[directory.Group]](t)(s.Groups(t.Context(), accountID, q))
		for _, g := range p.Items {
			out = append(out, g.ID)
		}
		if p.Next == "" {
			return out
		}
		if len(out) > 100 {
			t.Fatalf("paging does not end: %d groups listed", len(out))
		}
		q.After = p.Next
	}
}

func sourceUser(ext, username string) directory.SourceUser {
	return directory.SourceUser{ExternalID: ext, Enabled: true, UserAttributes: directory.UserAttributes{
		Username: username, Email: username, BusinessPhones: []string{"+1 555"}, Licenses: []string{"l"}}}
}

func testStaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	want, gs := stageRun1(t, s)
	update(t, s, func(tx store.Tx) error {
		for _, limit := range []int{0, 1, 3, 10} {
			got, err := allStagedUsers(ctx, tx, "run1", limit)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, want) {
				return fmt.Errorf("limit %d: staged users\n got %+v\nwant %+v", limit, got, want)
			}
		}
		if got, err := tx.StagedUsers(ctx, "run2", "", 0); err != nil || len(got) != 2 {
			return fmt.Errorf("run2: %d staged users, %v", len(got), err)
		}
		got, err := tx.StagedGroups(ctx, "run1", "", 0)
		if err != nil {
			return err
		}
		if wantG := []directory.SourceGroup{gs[1], gs[2]}; !reflect.DeepEqual(got, wantG) {
			return fmt.Errorf("staged groups %+v, want %+v", got, wantG)
		}
		if got, err := tx.StagedGroups(ctx, "run1", "g1", 1); err != nil || len(got) != 1 || got[0].ExternalID != "g2" {
			return fmt.Errorf("staged groups after g1: %+v, %v", got, err)
		}
		return nil
	})
	if err := s.DropStage(ctx, "run1"); err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx store.Tx) error {
		if got, err := tx.StagedUsers(ctx, "run1", "", 0); err != nil || len(got) != 0 {
			return fmt.Errorf("after DropStage: %d staged users, %v", len(got), err)
		}
		if got, err := tx.StagedGroups(ctx, "run1", "", 0); err != nil || len(got) != 0 {
			return fmt.Errorf("after DropStage: %d staged groups, %v", len(got), err)
		}
		if got, err := tx.StagedUsers(ctx, "run2", "", 0); err != nil || len(got) != 2 {
			return fmt.Errorf("DropStage(run1) took run2's users: %d left, %v", len(got), err)
		}
		return nil
	})
	if err := s.StageUsers(ctx, "run3", []directory.SourceUser{{}}); err == nil {
		t.Error("StageUsers of a user without external id: no error")
	}
}

// stageRun1 stages users, groups and memberships for run1 (with repeats,
// the last of which wins), and two users for run2; it returns the users
// and groups given for run1.
func stageRun1(t *testing.T, s store.Store) ([]directory.SourceUser, []directory.SourceGroup) {
	ctx := t.Context()
	var users []directory.SourceUser
	for i := range 10 {
		users = append(users, sourceUser(fmt.Sprintf("u%02d", i), fmt.Sprintf("user%d", i)))
	}
	// u03 twice in one call, u05 again in a later call: the last wins.
	again := sourceUser("u03", "renamed3")
	again.Enabled = false
	if err := s.StageUsers(ctx, "run1", append(users, again)); err != nil {
		t.Fatal(err)
	}
	later := sourceUser("u05", "renamed5")
	if err := s.StageUsers(ctx, "run1", []directory.SourceUser{later}); err != nil {
		t.Fatal(err)
	}
	if err := s.StageUsers(ctx, "run2", users[:2]); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(users)
	want[3], want[5] = again, later
	gs := []directory.SourceGroup{
		{ExternalID: "g2", GroupAttributes: directory.GroupAttributes{Name: "two", GroupTypes: []string{"Unified"}, SecurityEnabled: true}},
		{ExternalID: "g1", GroupAttributes: directory.GroupAttributes{Name: "one"}},
		{ExternalID: "g2", GroupAttributes: directory.GroupAttributes{Name: "two again"}},
	}
	if err := s.StageGroups(ctx, "run1", gs); err != nil {
		t.Fatal(err)
	}
	if err := s.StageMemberships(ctx, "run1", []directory.SourceMembership{
		{GroupExternalID: "g1", MemberExternalID: "u01", MemberKind: directory.MemberUser},
		{GroupExternalID: "g1", MemberExternalID: "u01", MemberKind: directory.MemberUser},
	}); err != nil {
		t.Fatal(err)
	}
	return want, gs
}

// allStagedUsers reads a run's staged users limit at a time.
func allStagedUsers(ctx context.Context, tx store.Tx, runID string, limit int) ([]directory.SourceUser, error) {
	var got []directory.SourceUser
	for after := ""; ; {
		page, err := tx.StagedUsers(ctx, runID, after, limit)
		if err != nil {
			return nil, err
		}
		if len(got) > 100 {
			return nil, fmt.Errorf("limit %d: paging does not end", limit)
		}
		if len(page) == 0 {
			return got, nil
		}
		if limit > 0 && len(page) > limit {
			return nil, fmt.Errorf("page of %d with limit %d", len(page), limit)
		}
		got = append(got, page...)
		after = page[len(page)-1].ExternalID
		if limit == 0 {
			return got, nil
		}
	}
}

func testUnstaged(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	users, groups := mkUnstagedWorld(t, s, a.ID, src, mkSource(t, s, a.ID, "other"))
	// The run stages x1, x3, x5 and one the directory does not know yet.
	var su []directory.SourceUser
	var sg []directory.SourceGroup
	for _, ext := range []string{"x1", "x3", "x5", "new"} {
		su = append(su, sourceUser(ext, ext))
		sg = append(sg, directory.SourceGroup{ExternalID: ext, GroupAttributes: directory.GroupAttributes{Name: ext}})
	}
	if err := s.StageUsers(ctx, "run", su); err != nil {
		t.Fatal(err)
	}
	if err := s.StageGroups(ctx, "run", sg); err != nil {
		t.Fatal(err)
	}
	var wantU, wantG []string
	for _, i := range []int{0, 2, 4, 6} {
		wantU = append(wantU, users[i].ID)
		wantG = append(wantG, groups[i].ID)
	}
	slices.Sort(wantU)
	slices.Sort(wantG)
	userID := func(u directory.User) string { return u.ID }
	groupID := func(g directory.Group) string { return g.ID }
	update(t, s, func(tx store.Tx) error {
		for _, limit := range []int{0, 1, 3} {
			gotU, err := allPages(limit, userID, func(after string, limit int) ([]directory.User, error) {
				return tx.UnstagedUsers(ctx, src.ID, "run", after, limit)
			})
			if err != nil {
				return err
			}
			gotG, err := allPages(limit, groupID, func(after string, limit int) ([]directory.Group, error) {
				return tx.UnstagedGroups(ctx, src.ID, "run", after, limit)
			})
			if err != nil {
				return err
			}
			if !slices.Equal(gotU, wantU) {
				return fmt.Errorf("limit %d: unstaged users %v, want %v", limit, gotU, wantU)
			}
			if !slices.Equal(gotG, wantG) {
				return fmt.Errorf("limit %d: unstaged groups %v, want %v", limit, gotG, wantG)
			}
		}
		// The full user comes back, links and all.
		page, err := tx.UnstagedUsers(ctx, src.ID, "run", "", 1)
		if err != nil {
			return err
		}
		// users[0] is linked twice (x0 and x0-again): both links come back.
		if len(page) != 1 || len(page[0].Sources) != 2 || page[0].Sources[0].Source != "src" || page[0].Sources[1].Source != "src" {
			return fmt.Errorf("unstaged user %+v", page)
		}
		// A run that staged nothing leaves every linked user unstaged.
		all, err := tx.UnstagedUsers(ctx, src.ID, "empty-run", "", 0)
		if err != nil || len(all) != 7 {
			return fmt.Errorf("empty run: %d unstaged users, %v", len(all), err)
		}
		return nil
	})
}

// mkUnstagedWorld makes 8 users and 8 groups linked to src as x0..x6 (the
// user u2 in the trash; u0 and u4 linked twice), and u7 linked to other
// only.
func mkUnstagedWorld(t *testing.T, s store.Store, accountID string, src, other directory.Source) ([]directory.User, []directory.Group) {
	ctx := t.Context()
	a := directory.Account{ID: accountID}
	var users []directory.User
	var groups []directory.Group
	update(t, s, func(tx store.Tx) error {
		for i := range 8 {
			u := directory.User{AccountID: a.ID, UserAttributes: directory.UserAttributes{Username: fmt.Sprint("u", i)}}
			if i == 2 {
				u.State = directory.StateTrash
			}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			users = append(users, u)
			g := directory.Group{AccountID: a.ID, GroupAttributes: directory.GroupAttributes{Name: fmt.Sprint("g", i)}}
			if err := tx.CreateGroup(ctx, &g); err != nil {
				return err
			}
			groups = append(groups, g)
			ext := fmt.Sprint("x", i)
			if i == 7 {
				// Linked only to the other source.
				if err := tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: other.ID, ExternalID: ext}); err != nil {
					return err
				}
				continue
			}
			if err := tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: src.ID, ExternalID: ext}); err != nil {
				return err
			}
			if err := tx.Link(ctx, directory.MemberGroup, g.ID, directory.SourceLink{SourceID: src.ID, ExternalID: ext}); err != nil {
				return err
			}
			if i == 0 || i == 4 {
				// A second object of the source linked to the same user (a
				// source object deleted and recreated): listed once.
				if err := tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: src.ID, ExternalID: ext + "-again"}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return users, groups
}

// allPages reads a listing page by page, limit items at a time (0: all
// at once), and returns the ids; a page may never pass the limit, and a
// short page ends the listing.
func allPages[T any](limit int, id func(T) string, list func(after string, limit int) ([]T, error)) ([]string, error) {
	var got []string
	for after := ""; ; {
		page, err := list(after, limit)
		if err != nil {
			return nil, err
		}
		if len(got) > 100 {
			return nil, fmt.Errorf("limit %d: paging does not end", limit)
		}
		for _, v := range page {
			got = append(got, id(v))
		}
		if limit == 0 || len(page) < limit {
			return got, nil
		}
		if len(page) > limit {
			return nil, fmt.Errorf("limit %d: a page of %d after %d", limit, len(page), len(got)-len(page))
		}
		after = id(page[len(page)-1])
	}
}

// membershipKey identifies a store.Membership in tests.
// membershipKeys names memberships as group>member, sorted: SyncMemberships
// promises pages, not an order.
func membershipKeys(ms []store.Membership) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.GroupName+">"+m.MemberName)
	}
	slices.Sort(out)
	return out
}

func memberNames(ms []directory.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Kind)+":"+m.Name)
	}
	return out
}

// syncRun stages memberships (group ext, kind, member ext) under a new run
// id and syncs the source's memberships to them.
func syncRun(t *testing.T, s store.Store, sourceID, runID string, ms ...[3]string) (added, removed []string) {
	t.Helper()
	return syncReach(t, s, sourceID, runID, store.Reach{}, ms...)
}

// syncReach is syncRun within a reach.
func syncReach(t *testing.T, s store.Store, sourceID, runID string, reach store.Reach, ms ...[3]string) (added, removed []string) {
	t.Helper()
	var staged []directory.SourceMembership
	for _, m := range ms {
		staged = append(staged, directory.SourceMembership{GroupExternalID: m[0], MemberKind: directory.MemberKind(m[1]), MemberExternalID: m[2]})
	}
	if len(staged) > 0 {
		if err := s.StageMemberships(t.Context(), runID, staged); err != nil {
			t.Fatal(err)
		}
	}
	update(t, s, func(tx store.Tx) error {
		var a, r []store.Membership
		err := tx.SyncMemberships(t.Context(), sourceID, runID, reach, func(add bool, page []store.Membership) error {
			if len(page) == 0 {
				return fmt.Errorf("an empty page")
			}
			if add {
				a = append(a, page...)
			} else {
				r = append(r, page...)
			}
			return nil
		})
		added, removed = membershipKeys(a), membershipKeys(r)
		for _, m := range slices.Concat(a, r) {
			if m.GroupID == "" || m.MemberID == "" || m.MemberKind == "" {
				return fmt.Errorf("incomplete membership %+v", m)
			}
		}
		return err
	})
	return added, removed
}

func testSyncMemberships(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	src2 := mkSource(t, s, a.ID, "src2")
	ids := mkMembershipWorld(t, s, a.ID, src.ID)
	direct := func(g string) []string {
		return memberNames(must[[]directory.Member](t)(s.Members(ctx, a.ID, ids[g], false)))
	}
	firstMembershipSync(t, s, src.ID, direct)
	laterMembershipSyncs(t, s, src.ID, src2.ID, ids, direct)
}

// mkMembershipWorld makes users ann, bob, cat (linked to the source as
// u-NAME) and dan (not linked), groups G1, G2 (linked as g-NAME) and G3 (not
// linked); it returns their ids by name.
func mkMembershipWorld(t *testing.T, s store.Store, accountID, sourceID string) map[string]string {
	a, src := directory.Account{ID: accountID}, directory.Source{ID: sourceID}
	ids := map[string]string{}
	for _, n := range []string{"ann", "bob", "cat", "dan"} {
		u := mkUser(t, s, a.ID, n, "")
		ids[n] = u.ID
		if n != "dan" { // dan has no link: his memberships are ignored
			link(t, s, directory.MemberUser, u.ID, src.ID, "u-"+n)
		}
	}
	for _, n := range []string{"G1", "G2", "G3"} {
		g := mkGroup(t, s, a.ID, n)
		ids[n] = g.ID
		if n != "G3" {
			link(t, s, directory.MemberGroup, g.ID, src.ID, "g-"+n)
		}
	}
	return ids
}

// firstMembershipSync: only memberships between linked users and groups
// are added; the same staged set again changes nothing.
func firstMembershipSync(t *testing.T, s store.Store, sourceID string, direct func(g string) []string) {
	src := directory.Source{ID: sourceID}
	added, removed := syncRun(t, s, src.ID, "r1",
		[3]string{"g-G1", "user", "u-ann"},
		[3]string{"g-G1", "user", "u-bob"},
		[3]string{"g-G2", "group", "g-G1"},
		[3]string{"g-G2", "user", "u-cat"},
		[3]string{"g-G1", "user", "u-dan"},     // member without link
		[3]string{"g-G3", "user", "u-ann"},     // group without link
		[3]string{"g-G1", "group", "u-ann"},    // a user's id as a group: no such group link
		[3]string{"g-G1", "device", "d-phone"}, // not a user or group
	)
	if want := []string{"G1>ann", "G1>bob", "G2>G1", "G2>cat"}; !slices.Equal(added, want) || len(removed) != 0 {
		t.Errorf("first sync: added %v removed %v; want added %v", added, removed, want)
	}
	if got, want := direct("G1"), []string{"user:ann", "user:bob"}; !slices.Equal(got, want) {
		t.Errorf("G1 members %v, want %v", got, want)
	}
	if got, want := direct("G2"), []string{"group:G1", "user:cat"}; !slices.Equal(got, want) {
		t.Errorf("G2 members %v, want %v", got, want)
	}

	// The same staged set again changes nothing.
	if added, removed := syncRun(t, s, src.ID, "r1"); len(added)+len(removed) != 0 {
		t.Errorf("resync: added %v removed %v", added, removed)
	}
}

// laterMembershipSyncs: a run removes what its source no longer says, but
// not what another source owns too; an empty run removes all the source
// owns.
func laterMembershipSyncs(t *testing.T, s store.Store, sourceID, source2ID string, ids map[string]string, direct func(g string) []string) {
	src, src2 := directory.Source{ID: sourceID}, directory.Source{ID: source2ID}
	// src2 owns G1>bob too, through its own links.
	link(t, s, directory.MemberUser, ids["bob"], src2.ID, "b")
	link(t, s, directory.MemberGroup, ids["G1"], src2.ID, "g1")
	if added, _ := syncRun(t, s, src2.ID, "s1", [3]string{"g1", "user", "b"}); !slices.Equal(added, []string{"G1>bob"}) {
		t.Errorf("src2 added %v", added)
	}

	// The next run of src: bob leaves G1, cat joins, G1 leaves G2.
	added, removed := syncRun(t, s, src.ID, "r2",
		[3]string{"g-G1", "user", "u-ann"},
		[3]string{"g-G1", "user", "u-cat"},
		[3]string{"g-G2", "user", "u-cat"},
	)
	if want := []string{"G1>cat"}; !slices.Equal(added, want) {
		t.Errorf("second sync added %v, want %v", added, want)
	}
	if want := []string{"G1>bob", "G2>G1"}; !slices.Equal(removed, want) {
		t.Errorf("second sync removed %v, want %v", removed, want)
	}
	// bob stays in G1: src2 still owns that membership, once listed.
	if got, want := direct("G1"), []string{"user:ann", "user:bob", "user:cat"}; !slices.Equal(got, want) {
		t.Errorf("G1 members %v, want %v", got, want)
	}
	if got, want := direct("G2"), []string{"user:cat"}; !slices.Equal(got, want) {
		t.Errorf("G2 members %v, want %v", got, want)
	}
	// A run that staged nothing removes all the source owns.
	_, removed = syncRun(t, s, src.ID, "r3")
	if want := []string{"G1>ann", "G1>cat", "G2>cat"}; !slices.Equal(removed, want) {
		t.Errorf("empty run removed %v, want %v", removed, want)
	}
	if got, want := direct("G1"), []string{"user:bob"}; !slices.Equal(got, want) {
		t.Errorf("G1 members %v, want %v", got, want)
	}
}

func testDeleteSource(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	keep := mkSource(t, s, a.ID, "keep")
	u := mkUser(t, s, a.ID, "ann", "")
	g := mkGroup(t, s, a.ID, "G")
	link(t, s, directory.MemberUser, u.ID, src.ID, "u")
	link(t, s, directory.MemberGroup, g.ID, src.ID, "g")
	link(t, s, directory.MemberUser, u.ID, keep.ID, "ku")
	link(t, s, directory.MemberGroup, g.ID, keep.ID, "kg")
	run := directory.Run{AccountID: a.ID, SourceID: src.ID, Source: "src", Kind: directory.RunFull}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateRun(ctx, &run); err != nil {
			return err
		}
		return tx.SetSourceState(ctx, src.ID, "cursor")
	})
	syncRun(t, s, src.ID, run.ID, [3]string{"g", "user", "u"})
	if err := s.StageUsers(ctx, run.ID, []directory.SourceUser{sourceUser("u", "ann")}); err != nil {
		t.Fatal(err)
	}
	keepRun := "keep-run"
	if err := s.StageUsers(ctx, keepRun, []directory.SourceUser{sourceUser("ku", "ann")}); err != nil {
		t.Fatal(err)
	}

	update(t, s, func(tx store.Tx) error { return tx.DeleteSource(ctx, a.ID, src.ID) })

	_, err := s.Source(ctx, a.ID, src.ID)
	wantErr(t, err, store.ErrNotFound, "Source after DeleteSource")
	_, err = s.SourceState(ctx, src.ID)
	wantErr(t, err, store.ErrNotFound, "SourceState after DeleteSource")
	_, err = s.UserByLink(ctx, src.ID, "u")
	wantErr(t, err, store.ErrNotFound, "UserByLink after DeleteSource")
	// The user and group stay, with the other source's links only.
	gotU := must[directory.User](t)(s.User(ctx, a.ID, u.ID))
	if len(gotU.Sources) != 1 || gotU.Sources[0].SourceID != keep.ID {
		t.Errorf("user's sources after DeleteSource: %+v", gotU.Sources)
	}
	gotG := must[directory.Group](t)(s.Group(ctx, a.ID, g.ID))
	if len(gotG.Sources) != 1 || gotG.Sources[0].SourceID != keep.ID {
		t.Errorf("group's sources after DeleteSource: %+v", gotG.Sources)
	}
	if m := must[[]directory.Member](t)(s.Members(ctx, a.ID, g.ID, false)); len(m) != 0 {
		t.Errorf("memberships owned by the deleted source remain: %+v", m)
	}
	update(t, s, func(tx store.Tx) error {
		if got, err := tx.StagedUsers(ctx, run.ID, "", 0); err != nil || len(got) != 0 {
			return fmt.Errorf("staged rows of the deleted source: %d, %v", len(got), err)
		}
		if got, err := tx.StagedUsers(ctx, keepRun, "", 0); err != nil || len(got) != 1 {
			return fmt.Errorf("staged rows of another run: %d, %v", len(got), err)
		}
		return nil
	})
	// Its name is free again.
	mkSource(t, s, a.ID, "src")
	err = s.Update(ctx, func(tx store.Tx) error { return tx.DeleteSource(ctx, a.ID, src.ID) })
	wantErr(t, err, store.ErrNotFound, "DeleteSource twice")
}

func testTransitiveMembers(t *testing.T, s store.Store) {
	a := mkAccount(t, s, "a")
	ids := mkNestedGroups(t, s, a.ID, mkSource(t, s, a.ID, "src").ID)
	transitiveMembers(t, s, a.ID, ids)
	transitiveGroups(t, s, a.ID, ids)
}

// mkNestedGroups makes A > ann, b;  b > Bob, C, ann;  C > cat, eve, A (a
// cycle);  D > dan, all linked to the source, with eve in the trash; it
// returns the ids by name.
func mkNestedGroups(t *testing.T, s store.Store, accountID, sourceID string) map[string]string {
	ctx, a, src := t.Context(), directory.Account{ID: accountID}, directory.Source{ID: sourceID}
	ids := map[string]string{}
	for _, n := range []string{"ann", "Bob", "cat", "dan", "eve"} {
		u := mkUser(t, s, a.ID, n, "")
		ids[n] = u.ID
		link(t, s, directory.MemberUser, u.ID, src.ID, n)
	}
	for _, n := range []string{"A", "b", "C", "D"} {
		g := mkGroup(t, s, a.ID, n)
		ids[n] = g.ID
		link(t, s, directory.MemberGroup, g.ID, src.ID, n)
	}
	// A > ann, b;  b > Bob, C, ann;  C > cat, eve, A (a cycle);  D > dan.
	syncRun(t, s, src.ID, "r",
		[3]string{"A", "user", "ann"}, [3]string{"A", "group", "b"},
		[3]string{"b", "user", "Bob"}, [3]string{"b", "group", "C"}, [3]string{"b", "user", "ann"},
		[3]string{"C", "user", "cat"}, [3]string{"C", "user", "eve"}, [3]string{"C", "group", "A"},
		[3]string{"D", "user", "dan"},
	)
	// eve goes to the trash: no longer a member anywhere.
	update(t, s, func(tx store.Tx) error {
		u, err := tx.User(ctx, a.ID, ids["eve"])
		if err != nil {
			return err
		}
		u.State, u.TrashedAt = directory.StateTrash, tm(0, 0)
		return tx.UpdateUser(ctx, u)
	})
	return ids
}

// transitiveMembers: a group's direct and effective members, each once,
// with its id.
func transitiveMembers(t *testing.T, s store.Store, accountID string, ids map[string]string) {
	ctx, a := t.Context(), directory.Account{ID: accountID}
	members := func(g string, transitive bool) []string {
		return memberNames(must[[]directory.Member](t)(s.Members(ctx, a.ID, ids[g], transitive)))
	}
	for _, c := range []struct {
		group      string
		transitive bool
		want       []string
	}{
		{"A", false, []string{"group:b", "user:ann"}},
		// The cycle brings A back: it is listed, once, as its own member.
		{"A", true, []string{"group:A", "group:b", "group:C", "user:ann", "user:Bob", "user:cat"}},
		{"C", true, []string{"group:A", "group:b", "group:C", "user:ann", "user:Bob", "user:cat"}},
		{"C", false, []string{"group:A", "user:cat"}},
		{"D", true, []string{"user:dan"}},
	} {
		if got := members(c.group, c.transitive); !slices.Equal(got, c.want) {
			t.Errorf("Members(%s, transitive %v) = %v, want %v", c.group, c.transitive, got, c.want)
		}
		for limit := 1; limit <= 2; limit++ {
			got := walkPages(t, limit, func(after string) (store.Page[directory.Member], error) {
				return s.MemberPage(ctx, a.ID, ids[c.group], store.MemberQuery{Transitive: c.transitive, After: after, Limit: limit})
			})
			if names := memberNames(got); !slices.Equal(names, c.want) {
				t.Errorf("MemberPage(%s, transitive %v) by %d = %v, want %v", c.group, c.transitive, limit, names, c.want)
			}
		}
	}
	_, err := s.MemberPage(ctx, a.ID, ids["A"], store.MemberQuery{After: "garbage", Limit: 1})
	wantErr(t, err, store.ErrInvalidCursor, "MemberPage after a forged cursor")
	// Each member carries its id.
	for _, m := range must[[]directory.Member](t)(s.Members(ctx, a.ID, ids["A"], true)) {
		if ids[m.Name] != m.ID {
			t.Errorf("member %s has id %s, want %s", m.Name, m.ID, ids[m.Name])
		}
	}
	_, err = s.Members(ctx, a.ID, "missing", true)
	wantErr(t, err, store.ErrNotFound, "Members of a missing group")
}

// walkPages reads a listing page after page, checking each page's size.
func walkPages[T any](t *testing.T, limit int, page func(after string) (store.Page[T], error)) []T {
	t.Helper()
	var out []T
	after := ""
	for range 100 {
		p, err := page(after)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > limit || (p.Next != "" && len(p.Items) != limit) {
			t.Fatalf("a page of %d holds %d, next %q", limit, len(p.Items), p.Next)
		}
		out = append(out, p.Items...)
		if after = p.Next; after == "" {
			return out
		}
	}
	t.Fatal("paging does not end")
	return nil
}

// transitiveGroups: the other way up, the groups a user is in, and the
// users filtered by a group (its effective members).
func transitiveGroups(t *testing.T, s store.Store, accountID string, ids map[string]string) {
	ctx, a := t.Context(), directory.Account{ID: accountID}
	// The other way up: the groups a user is in.
	groupNames := func(gs []directory.Group) []string {
		out := []string{}
		for _, g := range gs {
			out = append(out, g.Name)
		}
		return out
	}
	for _, c := range []struct {
		user       string
		transitive bool
		want       []string
	}{
		{"ann", false, []string{"A", "b"}},
		{"ann", true, []string{"A", "b", "C"}},
		{"cat", false, []string{"C"}},
		{"cat", true, []string{"A", "b", "C"}},
		{"dan", true, []string{"D"}},
	} {
		if got := groupNames(must[[]directory.Group](t)(s.GroupsOf(ctx, a.ID, ids[c.user], c.transitive))); !slices.Equal(got, c.want) {
			t.Errorf("GroupsOf(%s, transitive %v) = %v, want %v", c.user, c.transitive, got, c.want)
		}
		got := walkPages(t, 1, func(after string) (store.Page[directory.Group], error) {
			return s.GroupsOfPage(ctx, a.ID, ids[c.user], store.MemberQuery{Transitive: c.transitive, After: after, Limit: 1})
		})
		if names := groupNames(got); !slices.Equal(names, c.want) {
			t.Errorf("GroupsOfPage(%s, transitive %v) by 1 = %v, want %v", c.user, c.transitive, names, c.want)
		}
	}
	// Users filtered by group: its effective members.
	for g, want := range map[string][]string{"A": {"ann", "Bob", "cat"}, "D": {"dan"}} {
		page := must[store.Page[directory.User]](t)(s.Users(ctx, a.ID, store.UserQuery{GroupID: ids[g]}))
		var got []string
		for _, u := range page.Items {
			got = append(got, u.Username)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Users of group %s = %v, want %v", g, got, want)
		}
	}
}

// errTest is the error a test's transaction fails with.
var errTest = errors.New("test failure")

func testUpdateAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	w := &atomicWorld{s: s, a: a, src: mkSource(t, s, a.ID, "src"), existing: mkUser(t, s, a.ID, "keep", "")}
	writeAll := func(tx store.Tx) error { return w.writeAll(ctx, tx) }
	check := func(how string) {
		t.Helper()
		w.check(t, how)
	}

	err := s.Update(ctx, func(tx store.Tx) error {
		if err := writeAll(tx); err != nil {
			return err
		}
		return errTest
	})
	if !errors.Is(err, errTest) {
		t.Errorf("Update returned %v, want fn's error", err)
	}
	check("error")

	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the panic re-raised", p)
			}
		}()
		s.Update(ctx, func(tx store.Tx) error {
			if err := writeAll(tx); err != nil {
				return err
			}
			panic("boom")
		})
		t.Error("Update returned after a panic")
	}()
	check("panic")

	cctx, cancel := context.WithCancel(ctx)
	err = s.Update(cctx, func(tx store.Tx) error {
		if err := writeAll(tx); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Error("Update with a context cancelled during fn: no error")
	}
	check("cancel")

	// The store still works after all that.
	if err := s.Update(ctx, writeAll); err != nil {
		t.Fatalf("Update after rollbacks: %v", err)
	}
	if _, err := s.Account(ctx, "ghost"); err != nil {
		t.Errorf("committed account: %v", err)
	}
}

// atomicWorld is what testUpdateAtomic writes over: an account, a source
// and a user.
type atomicWorld struct {
	s        store.Store
	a        directory.Account
	src      directory.Source
	existing directory.User
}

// writeAll writes something of every kind.
func (w *atomicWorld) writeAll(ctx context.Context, tx store.Tx) error {
	a, src, existing := w.a, w.src, w.existing
	acc := directory.Account{Name: "ghost"}
	if err := tx.CreateAccount(ctx, &acc); err != nil {
		return err
	}
	u := directory.User{AccountID: a.ID, UserAttributes: directory.UserAttributes{Username: "ghost"}}
	if err := tx.CreateUser(ctx, &u); err != nil {
		return err
	}
	if err := tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: src.ID, ExternalID: "ghost"}); err != nil {
		return err
	}
	e := existing
	e.Notes = "changed"
	if err := tx.UpdateUser(ctx, e); err != nil {
		return err
	}
	if err := tx.SetSourceState(ctx, src.ID, "ghost-cursor"); err != nil {
		return err
	}
	run := directory.Run{AccountID: a.ID, SourceID: src.ID}
	if err := tx.CreateRun(ctx, &run); err != nil {
		return err
	}
	return tx.AddChanges(ctx, run.ID, []directory.Change{{Name: "ghost", Action: directory.ActionCreated}})
}

// check fails the test if anything writeAll writes is stored.
func (w *atomicWorld) check(t *testing.T, how string) {
	t.Helper()
	ctx, s, a, src, existing := t.Context(), w.s, w.a, w.src, w.existing
	if _, err := s.Account(ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: account created: %v", how, err)
	}
	if _, err := s.UserByUsername(ctx, a.ID, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: user created: %v", how, err)
	}
	if _, err := s.UserByLink(ctx, src.ID, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: link created: %v", how, err)
	}
	if u, err := s.User(ctx, a.ID, existing.ID); err != nil || u.Notes != "" {
		t.Errorf("%s: user updated: %+v, %v", how, u, err)
	}
	if st, err := s.SourceState(ctx, src.ID); err != nil || st != "" {
		t.Errorf("%s: state set: %q, %v", how, st, err)
	}
	if rs, err := s.Runs(ctx, a.ID, "", 0); err != nil || len(rs) != 0 {
		t.Errorf("%s: run created: %+v, %v", how, rs, err)
	}
}

func testTxSeesOwnWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	update(t, s, func(tx store.Tx) error {
		u := directory.User{AccountID: a.ID, UserAttributes: directory.UserAttributes{Username: "new", Email: "new@example.com"}}
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		if err := tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: src.ID, ExternalID: "n"}); err != nil {
			return err
		}
		got, err := tx.UserByLink(ctx, src.ID, "n")
		if err != nil || got.ID != u.ID || len(got.Sources) != 1 {
			return fmt.Errorf("UserByLink in the tx: %+v, %v", got, err)
		}
		if _, err := tx.UserByEmail(ctx, a.ID, "NEW@example.com"); err != nil {
			return fmt.Errorf("UserByEmail in the tx: %w", err)
		}
		p, err := tx.Users(ctx, a.ID, store.UserQuery{})
		if err != nil || len(p.Items) != 1 {
			return fmt.Errorf("Users in the tx: %+v, %v", p, err)
		}
		// Outside the transaction, nothing yet.
		if _, err := s.UserByLink(ctx, src.ID, "n"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("UserByLink outside the tx before commit: %v", err)
		}
		return nil
	})
	if _, err := s.UserByLink(ctx, src.ID, "n"); err != nil {
		t.Errorf("UserByLink after commit: %v", err)
	}
	// A Tx is dead once its Update returned.
	var kept store.Tx
	update(t, s, func(tx store.Tx) error { kept = tx; return nil })
	if _, err := kept.Accounts(ctx); err == nil {
		t.Error("Tx used after its Update: no error")
	}
}

func testRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := mkRuns(t, s)
	if w.older.Outcome != directory.OutcomeRunning {
		t.Errorf("new run's outcome %q, want running", w.older.Outcome)
	}
	if got := must[directory.Run](t)(s.Run(ctx, w.a.ID, w.full.ID)); !reflect.DeepEqual(got, w.full) {
		t.Errorf("Run:\n got %+v\nwant %+v", got, w.full)
	}
	w.listings(t, s)
	w.byOutcome(t, s)
	w.updateAndHistory(t, s)
}

// runsWorld is four runs of two sources of an account: full has every
// field set; other and same started at once.
type runsWorld struct {
	a                        directory.Account
	src                      directory.Source
	full, older, other, same directory.Run
}

func mkRuns(t *testing.T, s store.Store) *runsWorld {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	src2 := mkSource(t, s, a.ID, "src2")
	full := directory.Run{AccountID: a.ID, SourceID: src.ID, Source: "src", Kind: directory.RunDelta, Trigger: "api",
		DryRun: true, StartedAt: tm(10, 5), FinishedAt: tm(20, 7), Outcome: directory.OutcomeStopped,
		Reason: "deletion limit", Counts: directory.Counts{Created: 1, Updated: 2, Disabled: 3, Enabled: 4, Deleted: 5,
			Restored: 6, Unchanged: 7, Skipped: 29, Conflicts: 9, MembersAdded: 10, MembersRemoved: 11, Warnings: 18},
		SourceUsers: 12, SourceGroups: 13, Skips: map[string]int{"device": 14, "contact": 15},
		SkipReasons: directory.Reasons{{Code: directory.SkipNonDirectoryMember, Message: "device", Count: 14},
			{Code: directory.SkipNonDirectoryMember, Message: "contact", Count: 15}},
		Warnings: directory.Reasons{{Code: directory.WarnInvalidPhone, Message: "mobile_phone not imported", Count: 18}},
		Requests: 16, Throttled: 17,
		Slot: tm(9, 0)}
	older := directory.Run{AccountID: a.ID, SourceID: src.ID, Source: "src", Kind: directory.RunFull, StartedAt: tm(1, 0)}
	other := directory.Run{AccountID: a.ID, SourceID: src2.ID, Source: "src2", Kind: directory.RunFull, StartedAt: tm(5, 0)}
	same := directory.Run{AccountID: a.ID, SourceID: src2.ID, Source: "src2", Kind: directory.RunSingle, StartedAt: tm(5, 0)}
	update(t, s, func(tx store.Tx) error {
		for _, r := range []*directory.Run{&full, &older, &other, &same} {
			if err := tx.CreateRun(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	return &runsWorld{a: a, src: src, full: full, older: older, other: other, same: same}
}

func runIDs(rs []directory.Run) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// listings: newest first, by source, limited, and paged.
func (w *runsWorld) listings(t *testing.T, s store.Store) {
	ctx, a, src, full, older, other, same, ids := t.Context(), w.a, w.src, w.full, w.older, w.other, w.same, runIDs
	// Newest first; the two runs started at once, newest created first.
	if got, want := ids(must[[]directory.Run](t)(s.Runs(ctx, a.ID, "", 0))), []string{full.ID, same.ID, other.ID, older.ID}; !slices.Equal(got, want) {
		t.Errorf("Runs = %v, want %v", got, want)
	}
	if got, want := ids(must[[]directory.Run](t)(s.Runs(ctx, a.ID, "", 2))), []string{full.ID, same.ID}; !slices.Equal(got, want) {
		t.Errorf("Runs limit 2 = %v, want %v", got, want)
	}
	if got, want := ids(must[[]directory.Run](t)(s.Runs(ctx, a.ID, src.ID, 0))), []string{full.ID, older.ID}; !slices.Equal(got, want) {
		t.Errorf("Runs of src = %v, want %v", got, want)
	}
	// Paged: every run once, in the same order, whatever the page size;
	// a tie on the start time is broken by id across pages.
	for _, limit := range []int{1, 2, 3} {
		var got []string
		q := store.RunQuery{Limit: limit}
		for {
			page := must[store.Page[directory.Run]](t)(s.RunPage(ctx, a.ID, q))
			got = append(got, ids(page.Items)...)
			if page.Next == "" {
				break
			}
			q.After = page.Next
		}
		if want := []string{full.ID, same.ID, other.ID, older.ID}; !slices.Equal(got, want) {
			t.Errorf("RunPage by %d = %v, want %v", limit, got, want)
		}
	}
	if p := must[store.Page[directory.Run]](t)(s.RunPage(ctx, a.ID, store.RunQuery{SourceID: src.ID, Limit: 2})); p.Next != "" || len(p.Items) != 2 {
		t.Errorf("RunPage of src by 2 = %v next %q, want both runs and no next page", ids(p.Items), p.Next)
	}
}

// byOutcome: every account's runs of one outcome, oldest first.
func (w *runsWorld) byOutcome(t *testing.T, s store.Store) {
	ctx, older, other, same, ids := t.Context(), w.older, w.other, w.same, runIDs
	// Every account's runs of one outcome, oldest first.
	b := mkAccount(t, s, "b")
	queued := directory.Run{AccountID: b.ID, Kind: directory.RunDelta, StartedAt: tm(2, 0), Outcome: directory.OutcomeQueued}
	update(t, s, func(tx store.Tx) error { return tx.CreateRun(ctx, &queued) })
	if got, want := ids(must[[]directory.Run](t)(s.RunsByOutcome(ctx, directory.OutcomeRunning))), []string{older.ID, other.ID, same.ID}; !slices.Equal(got, want) {
		t.Errorf("RunsByOutcome(running) = %v, want %v", got, want)
	}
	if got, want := ids(must[[]directory.Run](t)(s.RunsByOutcome(ctx, directory.OutcomeQueued))), []string{queued.ID}; !slices.Equal(got, want) {
		t.Errorf("RunsByOutcome(queued) = %v, want %v", got, want)
	}
}

// updateAndHistory: a run's update is stored whole, and run history
// outlives its source.
func (w *runsWorld) updateAndHistory(t *testing.T, s store.Store) {
	ctx, a, src, older := t.Context(), w.a, w.src, w.older
	older.Outcome, older.FinishedAt, older.Counts.Created, older.Reason = directory.OutcomeSucceeded, tm(3, 0), 42, ""
	older.Skip(directory.SkipOther, "x", 1)
	update(t, s, func(tx store.Tx) error { return tx.UpdateRun(ctx, older) })
	if got := must[directory.Run](t)(s.Run(ctx, a.ID, older.ID)); !reflect.DeepEqual(got, older) {
		t.Errorf("Run after update:\n got %+v\nwant %+v", got, older)
	}
	_, err := s.Run(ctx, a.ID, "missing")
	wantErr(t, err, store.ErrNotFound, "Run(missing)")
	// Run history outlives its source.
	update(t, s, func(tx store.Tx) error { return tx.DeleteSource(ctx, a.ID, src.ID) })
	if got := must[[]directory.Run](t)(s.Runs(ctx, a.ID, src.ID, 0)); len(got) != 2 {
		t.Errorf("runs of a deleted source: %d, want 2", len(got))
	}
}

// testRunSlots: a source has one run per scheduled slot; runs without a
// slot, and other sources' runs of the same slot, are not held back.
func testRunSlots(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	src2 := mkSource(t, s, a.ID, "src2")
	run := func(sourceID string, slot time.Time) *directory.Run {
		return &directory.Run{AccountID: a.ID, SourceID: sourceID, Kind: directory.RunDelta, Trigger: "schedule",
			StartedAt: tm(1, 0), Outcome: directory.OutcomeQueued, Slot: slot}
	}
	update(t, s, func(tx store.Tx) error {
		for _, r := range []*directory.Run{run(src.ID, tm(60, 0)), run(src.ID, tm(120, 0)), run(src2.ID, tm(60, 0)),
			run(src.ID, time.Time{}), run(src.ID, time.Time{})} {
			if err := tx.CreateRun(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateRun(ctx, run(src.ID, tm(60, 0))) })
	wantErr(t, err, store.ErrAlreadyExists, "a second run of one slot")
	runs := must[[]directory.Run](t)(s.Runs(ctx, a.ID, src.ID, 0))
	if len(runs) != 4 {
		t.Errorf("src has %d runs, want 4: the refused one left nothing", len(runs))
	}
	// A run keeps its slot through the updates that record its progress.
	first := run(src2.ID, tm(180, 0))
	update(t, s, func(tx store.Tx) error { return tx.CreateRun(ctx, first) })
	started := *first
	started.Slot, started.Outcome = time.Time{}, directory.OutcomeRunning
	update(t, s, func(tx store.Tx) error { return tx.UpdateRun(ctx, started) })
	if got := must[directory.Run](t)(s.Run(ctx, a.ID, first.ID)); !got.Slot.Equal(tm(180, 0)) || got.Outcome != directory.OutcomeRunning {
		t.Errorf("after UpdateRun: slot %v outcome %s, want the slot kept and running", got.Slot, got.Outcome)
	}
}

func testChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	run := directory.Run{AccountID: a.ID, SourceID: src.ID}
	run2 := directory.Run{AccountID: a.ID, SourceID: src.ID}
	var first []directory.Change
	for i := range 250 { // more than a batch
		first = append(first, directory.Change{ObjectKind: directory.MemberUser, ObjectID: fmt.Sprint("id", i),
			ExternalID: fmt.Sprint("x", i), Name: fmt.Sprint("user", i), Action: directory.ActionUpdated,
			Attributes: []directory.AttrChange{{Attribute: "department", Before: "Ops", After: "R&D"}},
			Detail:     "d"})
	}
	second := []directory.Change{{ObjectKind: directory.MemberGroup, Name: "G", Action: directory.ActionMemberAdded, Detail: "ann"}}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateRun(ctx, &run); err != nil {
			return err
		}
		if err := tx.CreateRun(ctx, &run2); err != nil {
			return err
		}
		if err := tx.AddChanges(ctx, run.ID, first); err != nil {
			return err
		}
		return tx.AddChanges(ctx, run2.ID, second[:1:1])
	})
	update(t, s, func(tx store.Tx) error { return tx.AddChanges(ctx, run.ID, second) })
	if first[0].Seq != 1 || first[249].Seq != 250 || second[0].Seq != 251 || first[0].RunID != run.ID {
		t.Errorf("seqs set: %d, %d, %d", first[0].Seq, first[249].Seq, second[0].Seq)
	}
	all := must[[]directory.Change](t)(s.Changes(ctx, run.ID, 0, 0))
	if len(all) != 251 {
		t.Fatalf("%d changes, want 251", len(all))
	}
	for i, c := range all {
		if c.Seq != i+1 || c.RunID != run.ID {
			t.Fatalf("change %d: seq %d run %s", i, c.Seq, c.RunID)
		}
	}
	want := first[10]
	want.Attributes = []directory.AttrChange{{Attribute: "department", Before: "Ops", After: "R&D"}}
	if !reflect.DeepEqual(all[10], want) {
		t.Errorf("change 11:\n got %+v\nwant %+v", all[10], want)
	}
	if !reflect.DeepEqual(all[250], second[0]) {
		t.Errorf("change 251:\n got %+v\nwant %+v", all[250], second[0])
	}
	page := must[[]directory.Change](t)(s.Changes(ctx, run.ID, 248, 2))
	if len(page) != 2 || page[0].Seq != 249 || page[1].Seq != 250 {
		t.Errorf("Changes(after 248, limit 2) = %+v", page)
	}
	if c := must[[]directory.Change](t)(s.Changes(ctx, run2.ID, 0, 0)); len(c) != 1 || c[0].Seq != 1 {
		t.Errorf("run2's changes: %+v", c)
	}
	err := s.Update(ctx, func(tx store.Tx) error { return tx.AddChanges(ctx, "missing", second) })
	wantErr(t, err, store.ErrNotFound, "AddChanges to a missing run")
}

// testConcurrentUpdates runs read-modify-write transactions from several
// goroutines at once, with staging alongside: every write must land, and no
// transaction may fail for a busy or locked database.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	shared := mkUser(t, s, a.ID, "counter", "")
	const workers, rounds = 4, 8
	errs := make(chan error, workers+1)
	for w := range workers {
		go func() {
			for i := range rounds {
				err := s.Update(ctx, func(tx store.Tx) error {
					u, err := tx.User(ctx, a.ID, shared.ID)
					if err != nil {
						return err
					}
					u.Notes += "x"
					if err := tx.UpdateUser(ctx, u); err != nil {
						return err
					}
					nu := directory.User{AccountID: a.ID, UserAttributes: directory.UserAttributes{Username: fmt.Sprintf("w%d-%d", w, i)}}
					return tx.CreateUser(ctx, &nu)
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		for i := range rounds {
			if err := s.StageUsers(ctx, "concurrent", []directory.SourceUser{sourceUser(fmt.Sprint("s", i), "x")}); err != nil {
				errs <- fmt.Errorf("staging %d: %w", i, err)
				return
			}
		}
		errs <- nil
	}()
	for range workers + 1 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	u := must[directory.User](t)(s.User(ctx, a.ID, shared.ID))
	if want := strings.Repeat("x", workers*rounds); u.Notes != want {
		t.Errorf("notes %q: %d of %d writes landed", u.Notes, len(u.Notes), workers*rounds)
	}
	p := must[store.Page[directory.User]](t)(s.Users(ctx, a.ID, store.UserQuery{}))
	if len(p.Items) != workers*rounds+1 {
		t.Errorf("%d users, want %d", len(p.Items), workers*rounds+1)
	}
	update(t, s, func(tx store.Tx) error {
		if got, err := tx.StagedUsers(ctx, "concurrent", "", 0); err != nil || len(got) != rounds {
			return fmt.Errorf("staged %d users, %v; want %d", len(got), err, rounds)
		}
		return nil
	})
}

// testStagingKeys: a run's staging keys ("RUN", "RUN/flat") are counted and
// dropped together, and no other run's ("RUN2", "RUNX/flat") with them.
func testStagingKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := func(g, u string) directory.SourceMembership {
		return directory.SourceMembership{GroupExternalID: g, MemberExternalID: u, MemberKind: directory.MemberUser}
	}
	for _, key := range []string{"run1", "run1/flat", "run1/removed", "run10", "run1x/flat", "run"} {
		if err := s.StageUsers(ctx, key, []directory.SourceUser{sourceUser("u1", "one"), sourceUser("u2", "two")}); err != nil {
			t.Fatal(err)
		}
		if err := s.StageGroups(ctx, key, []directory.SourceGroup{{ExternalID: "g1", GroupAttributes: directory.GroupAttributes{Name: "g"}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.StageMemberships(ctx, key, []directory.SourceMembership{m("g1", "u1")}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(key string) int {
		t.Helper()
		return must[int](t)(s.StagedCount(ctx, key))
	}
	if got := count("run1"); got != 12 {
		t.Errorf("StagedCount(run1) = %d, want 12 (three keys of four rows)", got)
	}
	if got := count(""); got != 24 {
		t.Errorf("StagedCount(\"\") = %d, want 24", got)
	}
	if err := s.DropStage(ctx, "run1"); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"run1": 0, "run10": 4, "run1x": 4, "run": 4, "": 12} {
		if got := count(key); got != want {
			t.Errorf("after DropStage(run1): StagedCount(%q) = %d, want %d", key, got, want)
		}
	}
	// In a transaction: gone with its commit, back with its rollback.
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.DropStage(ctx, "run10"); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil || count("run10") != 4 {
		t.Errorf("a rolled back Tx.DropStage: %v, %d rows left, want 4", err, count("run10"))
	}
	update(t, s, func(tx store.Tx) error { return tx.DropStage(ctx, "run10") })
	if got := count(""); got != 8 {
		t.Errorf("after a committed Tx.DropStage(run10): %d rows, want 8", got)
	}
}

// testUnfinishedRuns: the source's runs recorded as running, oldest first;
// not other sources', nor finished ones, nor another account's.
func testUnfinishedRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	other := mkSource(t, s, a.ID, "other")
	runs := []directory.Run{
		{AccountID: a.ID, SourceID: src.ID, StartedAt: tm(3, 0), Outcome: directory.OutcomeRunning},
		{AccountID: a.ID, SourceID: src.ID, StartedAt: tm(1, 0), Outcome: directory.OutcomeRunning},
		{AccountID: a.ID, SourceID: src.ID, StartedAt: tm(2, 0), Outcome: directory.OutcomeSucceeded},
		{AccountID: a.ID, SourceID: other.ID, StartedAt: tm(1, 0), Outcome: directory.OutcomeRunning},
	}
	update(t, s, func(tx store.Tx) error {
		for i := range runs {
			if err := tx.CreateRun(ctx, &runs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	got := must[[]directory.Run](t)(s.UnfinishedRuns(ctx, a.ID, src.ID))
	if len(got) != 2 || got[0].ID != runs[1].ID || got[1].ID != runs[0].ID {
		t.Fatalf("UnfinishedRuns = %+v, want runs 1 and 0", got)
	}
	runs[1].Outcome, runs[1].FinishedAt = directory.OutcomeInterrupted, tm(4, 0)
	update(t, s, func(tx store.Tx) error { return tx.UpdateRun(ctx, runs[1]) })
	if got := must[[]directory.Run](t)(s.UnfinishedRuns(ctx, a.ID, src.ID)); len(got) != 1 || got[0].ID != runs[0].ID {
		t.Fatalf("after one was marked interrupted: %+v", got)
	}
	b := mkAccount(t, s, "b")
	if got := must[[]directory.Run](t)(s.UnfinishedRuns(ctx, b.ID, src.ID)); len(got) != 0 {
		t.Fatalf("another account sees %d runs", len(got))
	}
}

// testSyncMembershipsReach: a single-user reach and an incremental reach
// change only what they reach; no reach ever keeps or adds a membership of
// an object in the trash.
func testSyncMembershipsReach(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	ids := map[string]string{}
	for _, n := range []string{"ann", "bob", "cat"} {
		ids[n] = mkUser(t, s, a.ID, n, "").ID
		link(t, s, directory.MemberUser, ids[n], src.ID, "u-"+n)
	}
	for _, n := range []string{"G1", "G2", "G3"} {
		ids[n] = mkGroup(t, s, a.ID, n).ID
		link(t, s, directory.MemberGroup, ids[n], src.ID, "g-"+n)
	}
	syncRun(t, s, src.ID, "full",
		[3]string{"g-G1", "user", "u-ann"}, [3]string{"g-G1", "user", "u-bob"},
		[3]string{"g-G2", "user", "u-ann"}, [3]string{"g-G2", "group", "g-G1"})

	// One user: ann leaves G2 and joins G3; bob, staged by mistake, and
	// the group membership stay out of reach.
	added, removed := syncReach(t, s, src.ID, "one", store.Reach{UserID: ids["ann"]},
		[3]string{"g-G1", "user", "u-ann"}, [3]string{"g-G3", "user", "u-ann"}, [3]string{"g-G3", "user", "u-bob"})
	if !slices.Equal(added, []string{"G3>ann"}) || !slices.Equal(removed, []string{"G2>ann"}) {
		t.Errorf("user reach: added %v removed %v; want G3>ann, G2>ann", added, removed)
	}

	// Incremental: cat joins G2, bob's end in G1 is reported, G2>G1 is
	// not mentioned and stays; an ended pair that was never there is no change.
	if err := s.StageMemberships(ctx, "inc/ended", []directory.SourceMembership{
		{GroupExternalID: "g-G1", MemberKind: directory.MemberUser, MemberExternalID: "u-bob"},
		{GroupExternalID: "g-G3", MemberKind: directory.MemberUser, MemberExternalID: "u-cat"},
	}); err != nil {
		t.Fatal(err)
	}
	added, removed = syncReach(t, s, src.ID, "inc", store.Reach{Ended: "inc/ended"}, [3]string{"g-G2", "user", "u-cat"})
	if !slices.Equal(added, []string{"G2>cat"}) || !slices.Equal(removed, []string{"G1>bob"}) {
		t.Errorf("incremental reach: added %v removed %v; want G2>cat, G1>bob", added, removed)
	}
	if got := memberNames(must[[]directory.Member](t)(s.Members(ctx, a.ID, ids["G2"], false))); !slices.Equal(got, []string{"group:G1", "user:cat"}) {
		t.Errorf("G2 after the incremental sync: %v", got)
	}

	// Objects in the trash: cat (a member) and G3 (a group) lose what they
	// had and gain nothing, whatever is staged.
	update(t, s, func(tx store.Tx) error {
		u := must[directory.User](t)(tx.User(ctx, a.ID, ids["cat"]))
		u.State = directory.StateTrash
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		g := must[directory.Group](t)(tx.Group(ctx, a.ID, ids["G3"]))
		g.State = directory.StateTrash
		return tx.UpdateGroup(ctx, g)
	})
	added, removed = syncRun(t, s, src.ID, "trash",
		[3]string{"g-G1", "user", "u-ann"}, [3]string{"g-G1", "user", "u-cat"},
		[3]string{"g-G2", "user", "u-cat"}, [3]string{"g-G3", "user", "u-ann"}, [3]string{"g-G2", "group", "g-G1"})
	if len(added) != 0 || !slices.Equal(removed, []string{"G2>cat", "G3>ann"}) {
		t.Errorf("with objects in the trash: added %v removed %v; want none, G2>cat G3>ann", added, removed)
	}
}

// testCountLinked counts a source's users and groups out of the trash.
func testCountLinked(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	other := mkSource(t, s, a.ID, "other")
	for i, n := range []string{"ann", "bob", "cat", "dan"} {
		u := mkUser(t, s, a.ID, n, "")
		link(t, s, directory.MemberUser, u.ID, src.ID, "u-"+n)
		if i == 0 { // linked twice, counted once
			link(t, s, directory.MemberUser, u.ID, src.ID, "old-"+n)
		}
		if n == "dan" {
			u.State = directory.StateTrash
			update(t, s, func(tx store.Tx) error { return tx.UpdateUser(ctx, u) })
		}
	}
	link(t, s, directory.MemberUser, mkUser(t, s, a.ID, "eve", "").ID, other.ID, "u-eve")
	link(t, s, directory.MemberGroup, mkGroup(t, s, a.ID, "G").ID, src.ID, "g")
	mkGroup(t, s, a.ID, "local")
	update(t, s, func(tx store.Tx) error {
		users, groups, err := tx.CountLinked(ctx, src.ID)
		if err != nil || users != 3 || groups != 1 {
			return fmt.Errorf("CountLinked = %d users, %d groups, %v; want 3, 1", users, groups, err)
		}
		return nil
	})
}

// testByLinks looks many links up at once: each external id of the
// source that links to an object maps to it (two to one object, both),
// and those of another source or linking to nothing are absent.
func testByLinks(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	src := mkSource(t, s, a.ID, "src")
	other := mkSource(t, s, a.ID, "other")
	ann, bob := mkUser(t, s, a.ID, "ann", ""), mkUser(t, s, a.ID, "bob", "")
	link(t, s, directory.MemberUser, ann.ID, src.ID, "u-ann")
	link(t, s, directory.MemberUser, ann.ID, src.ID, "old-ann")
	link(t, s, directory.MemberUser, bob.ID, other.ID, "u-bob")
	g := mkGroup(t, s, a.ID, "G")
	link(t, s, directory.MemberGroup, g.ID, src.ID, "g")
	var ids []string
	for i := range 1200 { // past a batch
		ids = append(ids, fmt.Sprintf("none-%d", i))
	}
	ids = append(ids, "u-ann", "old-ann", "u-bob", "g")
	update(t, s, func(tx store.Tx) error {
		users, err := tx.UsersByLink(ctx, src.ID, ids)
		if err != nil || len(users) != 2 || users["u-ann"].ID != ann.ID || users["old-ann"].ID != ann.ID || len(users["u-ann"].Sources) != 2 {
			return fmt.Errorf("UsersByLink = %+v, %v; want ann twice, with both links", users, err)
		}
		groups, err := tx.GroupsByLink(ctx, src.ID, ids)
		if err != nil || len(groups) != 1 || groups["g"].ID != g.ID || groups["g"].Name != "G" {
			return fmt.Errorf("GroupsByLink = %+v, %v; want G", groups, err)
		}
		return nil
	})
}

// testListingFilters: users by tag, email domain and time of change;
// groups by name.
func testListingFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	for _, u := range []struct{ name, email string }{{"ann", "ann@Contoso.com"}, {"bob", "bob@sub.contoso.com"}, {"cy", "cy@fabrikam.com"}, {"di", ""}} {
		mkUser(t, s, a.ID, u.name, u.email)
	}
	update(t, s, func(tx store.Tx) error {
		for name, tags := range map[string][]string{"ann": {"vip", "emea"}, "bob": {"vip%"}, "cy": {"VIP"}} {
			u, err := tx.UserByUsername(ctx, a.ID, name)
			if err != nil {
				return err
			}
			u.Tags = tags
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	names := func(q store.UserQuery) []string {
		var out []string
		for _, u := range must[store.Page[directory.User]](t)(s.Users(ctx, a.ID, q)).Items {
			out = append(out, u.Username)
		}
		return out
	}
	for _, c := range []struct {
		q    store.UserQuery
		want []string
	}{
		{store.UserQuery{Tag: "vip"}, []string{"ann", "cy"}}, // case-insensitively
		{store.UserQuery{Tag: "vip%"}, []string{"bob"}},
		{store.UserQuery{Tag: "emea"}, []string{"ann"}},
		{store.UserQuery{EmailDomain: "contoso.com"}, []string{"ann"}},
		{store.UserQuery{EmailDomain: "CONTOSO.COM", Tag: "vip"}, []string{"ann"}},
		{store.UserQuery{EmailDomain: "fabrikam.com"}, []string{"cy"}},
		{store.UserQuery{UpdatedSince: time.Now().Add(time.Hour)}, nil},
		{store.UserQuery{UpdatedSince: time.Now().Add(-time.Hour)}, []string{"ann", "bob", "cy", "di"}},
	} {
		if got := names(c.q); !slices.Equal(got, c.want) {
			t.Errorf("Users(%+v) = %v, want %v", c.q, got, c.want)
		}
	}
	mkGroup(t, s, a.ID, "Sales")
	mkGroup(t, s, a.ID, "Sales EMEA")
	page := must[store.Page[directory.Group]](t)(s.Groups(ctx, a.ID, store.GroupQuery{Name: "sales"}))
	if len(page.Items) != 1 || page.Items[0].Name != "Sales" {
		t.Errorf("Groups named sales = %+v", page.Items)
	}
}

// testSnapshot: a snapshot reads the database as it was when it first
// read, while another change commits beside it, events included.
func testSnapshot(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkAccount(t, s, "a")
	mkUser(t, s, a.ID, "ann", "")
	count := func(rd store.Reader) (int, int64) {
		page := must[store.Page[directory.User]](t)(rd.Users(ctx, a.ID, store.UserQuery{}))
		seq := must[int64](t)(rd.LastEventSeq(ctx, a.ID))
		return len(page.Items), seq
	}
	err := s.Snapshot(ctx, func(rd store.Reader) error {
		users, seq := count(rd)
		// Another writer commits a user and its event meanwhile.
		update(t, s, func(tx store.Tx) error {
			u := directory.User{AccountID: a.ID, Enabled: true, UserAttributes: directory.UserAttributes{Username: "bob"}}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			return tx.AppendEvents(ctx, []directory.Event{{AccountID: a.ID, Type: directory.EventUserCreated, Time: time.Now()}})
		})
		if u2, seq2 := count(rd); u2 != users || seq2 != seq {
			t.Errorf("the snapshot saw a later commit: %d users, event %d, then %d, %d", users, seq, u2, seq2)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if u, seq := count(s); u != 2 || seq == 0 {
		t.Errorf("after the snapshot: %d users, event %d", u, seq)
	}
}
