package manage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/manage"
)

const goodPassword = "correct horse battery staple"

// TestConsoleSetupAndSignIn: an account without console users gets a
// setup link that creates its first owner once; the owner then signs in
// with the password, and the session's actor carries the user's role.
func TestConsoleSetupAndSignIn(t *testing.T) {
	w := newWorld(t, 0, 0)
	ctx := t.Context()
	need, err := w.m.ConsoleNeedsSetup(ctx, w.owner)
	if err != nil || !need {
		t.Fatalf("ConsoleNeedsSetup = %v, %v; want true", need, err)
	}
	link, err := w.m.IssueSignInLink(ctx, w.owner, "")
	if err != nil || !link.Setup || !strings.HasPrefix(link.Token, "dsl_") {
		t.Fatalf("IssueSignInLink = %+v, %v", link, err)
	}
	info, err := w.m.PeekSignInLink(ctx, link.Token)
	if err != nil || !info.Setup || info.AccountName != "default" {
		t.Fatalf("PeekSignInLink = %+v, %v", info, err)
	}
	// A weak password is refused and does not spend the link.
	_, err = w.m.RedeemSignInLink(ctx, link.Token, &manage.Setup{Email: "owner@example.com", Password: []byte("short")}, "test")
	if e := wantKind(t, err, manage.Invalid, "short password"); e != nil && e.Field != "password" {
		t.Errorf("field = %q, want password", e.Field)
	}
	ns, err := w.m.RedeemSignInLink(ctx, link.Token, &manage.Setup{Email: "owner@example.com", Password: []byte(goodPassword)}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if ns.Actor.Role != manage.RoleOwner || ns.Actor.Via != manage.ViaConsole || ns.Actor.Name != "owner@example.com" || ns.Actor.UserID == "" {
		t.Errorf("actor = %+v", ns.Actor)
	}
	_, err = w.m.RedeemSignInLink(ctx, link.Token, &manage.Setup{Email: "other@example.com", Password: []byte(goodPassword)}, "test")
	wantKind(t, err, manage.Unauthenticated, "a setup link used twice")
	_, err = w.m.IssueSignInLink(ctx, w.owner, "")
	wantKind(t, err, manage.Invalid, "a setup link once console users exist")

	actor, err := w.m.ConsoleSession(ctx, ns.Token)
	if err != nil || actor.UserID != ns.Actor.UserID || actor.Role != manage.RoleOwner {
		t.Fatalf("ConsoleSession = %+v, %v", actor, err)
	}
	// Signing in with the password; the wrong one says only that it is wrong.
	_, err = w.m.SignIn(ctx, "OWNER@example.com", []byte("wrong password here"), "test")
	wantKind(t, err, manage.Unauthenticated, "wrong password")
	_, err = w.m.SignIn(ctx, "nobody@example.com", []byte(goodPassword), "test")
	wantKind(t, err, manage.Unauthenticated, "unknown address")
	ns2, err := w.m.SignIn(ctx, "owner@example.com", []byte(goodPassword), "test")
	if err != nil {
		t.Fatal(err)
	}
	// Sign-out ends one session; sign-out everywhere ends the rest.
	if err := w.m.SignOut(ctx, ns.Token); err != nil {
		t.Fatal(err)
	}
	_, err = w.m.ConsoleSession(ctx, ns.Token)
	wantKind(t, err, manage.Unauthenticated, "a signed-out session")
	a2, err := w.m.ConsoleSession(ctx, ns2.Token)
	if err != nil {
		t.Fatalf("the other session ended too: %v", err)
	}
	if err := w.m.SignOutEverywhere(ctx, a2); err != nil {
		t.Fatal(err)
	}
	_, err = w.m.ConsoleSession(ctx, ns2.Token)
	wantKind(t, err, manage.Unauthenticated, "a session after sign-out everywhere")
}

// TestConsoleLockout: five wrong passwords lock the address, known or
// not, for fifteen minutes, the right password included; the fifth failure
// already says so (it used to say only "wrong", and the lock showed on the
// next try); the lock is in the store and ends on the clock.
func TestConsoleLockout(t *testing.T) {
	w := newWorld(t, 0, 0)
	ctx := t.Context()
	if _, err := w.m.CreateConsoleUser(ctx, w.owner, manage.ConsoleUserInput{Email: "ada@example.com", Role: "administrator", Password: []byte(goodPassword)}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"ada@example.com", "ghost@example.com"} {
		for i := range 4 {
			_, err := w.m.SignIn(ctx, email, []byte("not the password"), "test")
			if e := manage.AsError(err); e == nil || e.Code != "wrong_credentials" || !strings.Contains(e.Message, "after 5 failed tries") {
				t.Fatalf("%s try %d: %v", email, i+1, err)
			}
		}
		_, err := w.m.SignIn(ctx, email, []byte("not the password"), "test")
		if e := manage.AsError(err); e == nil || e.Code != manage.CodeLockedOut || !strings.Contains(e.Message, "locked for 15 more minutes") {
			t.Fatalf("%s try 5, the one that locks: %v", email, err)
		}
		att, err := w.parts.Store.SignInAttempts(ctx, email)
		if err != nil || att.Failures != 5 || !att.LockedUntil.Equal(w.clock.Now().Add(15*time.Minute)) {
			t.Fatalf("%s: stored attempts %+v (%v), want 5 failures locked for 15 minutes", email, att, err)
		}
		_, err = w.m.SignIn(ctx, email, []byte(goodPassword), "test")
		e := wantKind(t, err, manage.Unauthenticated, email+" locked")
		if e == nil || e.Code != manage.CodeLockedOut || !strings.Contains(e.Message, "locked for 15 more minutes") {
			t.Errorf("%s: lockout error = %+v", email, e)
		}
	}
	w.clock.Advance(15*time.Minute + time.Second)
	if _, err := w.m.SignIn(ctx, "ada@example.com", []byte(goodPassword), "test"); err != nil {
		t.Errorf("after the lockout: %v", err)
	}
}

// TestConsoleSessionExpiry: idle for 8 hours or signed in 7 days ago, a
// session ends; activity keeps it alive until then.
func TestConsoleSessionExpiry(t *testing.T) {
	w := newWorld(t, 0, 0)
	ctx := t.Context()
	if _, err := w.m.CreateConsoleUser(ctx, w.owner, manage.ConsoleUserInput{Email: "ada@example.com", Role: "read_only", Password: []byte(goodPassword)}); err != nil {
		t.Fatal(err)
	}
	ns, err := w.m.SignIn(ctx, "ada@example.com", []byte(goodPassword), "test")
	if err != nil {
		t.Fatal(err)
	}
	for range 24 { // six days of activity every six hours
		w.clock.Advance(6 * time.Hour)
		if _, err := w.m.ConsoleSession(ctx, ns.Token); err != nil {
			t.Fatalf("an active session ended: %v", err)
		}
	}
	w.clock.Advance(24 * time.Hour)
	_, err = w.m.ConsoleSession(ctx, ns.Token)
	wantKind(t, err, manage.Unauthenticated, "a session past 7 days")

	ns, _ = w.m.SignIn(ctx, "ada@example.com", []byte(goodPassword), "test")
	w.clock.Advance(8 * time.Hour)
	_, err = w.m.ConsoleSession(ctx, ns.Token)
	wantKind(t, err, manage.Unauthenticated, "a session idle 8 hours")
}

// TestConsoleUsersAndRoles: roles apply at the next request, only owners
// manage console users, and the last owner stays.
func TestConsoleUsersAndRoles(t *testing.T) {
	w := newWorld(t, 0, 0)
	ctx := t.Context()
	owner, err := w.m.CreateConsoleUser(ctx, w.owner, manage.ConsoleUserInput{Email: "owner@example.com", Role: "owner", Password: []byte(goodPassword)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.m.CreateConsoleUser(ctx, w.owner, manage.ConsoleUserInput{Email: "Owner@Example.com", Role: "read_only"})
	wantKind(t, err, manage.Conflict, "an address taken")
	_, err = w.m.CreateConsoleUser(ctx, w.owner, manage.ConsoleUserInput{Email: "not an address", Role: "read_only"})
	wantKind(t, err, manage.Invalid, "a bad address")
	helper, err := w.m.CreateConsoleUser(ctx, w.owner, manage.ConsoleUserInput{Email: "help@example.com", Role: "help desk"})
	if err != nil || helper.Role != manage.RoleHelpDesk || helper.HasPassword {
		t.Fatalf("CreateConsoleUser = %+v, %v", helper, err)
	}
	// A user without a password signs in through a link, then sets one.
	link, err := w.m.IssueSignInLink(ctx, w.owner, "help@example.com")
	if err != nil || link.Setup || link.Email != "help@example.com" {
		t.Fatalf("IssueSignInLink = %+v, %v", link, err)
	}
	ns, err := w.m.RedeemSignInLink(ctx, link.Token, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.m.ChangePassword(ctx, ns.Actor, nil, []byte(goodPassword+"!")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.SignIn(ctx, "help@example.com", []byte(goodPassword+"!"), "test"); err != nil {
		t.Fatal(err)
	}
	// The help desk may not manage console users, nor read them.
	_, err = w.m.ConsoleUsers(ctx, ns.Actor)
	wantKind(t, err, manage.Forbidden, "help desk lists console users")
	_, err = w.m.CreateConsoleUser(ctx, ns.Actor, manage.ConsoleUserInput{Email: "x@example.com", Role: "owner"})
	wantKind(t, err, manage.Forbidden, "help desk creates an owner")

	// A role change applies at the next request of the session.
	if _, err := w.m.SetConsoleUserRole(ctx, w.owner, "help@example.com", "read_only"); err != nil {
		t.Fatal(err)
	}
	if a, err := w.m.ConsoleSession(ctx, ns.Token); err != nil || a.Role != manage.RoleReadOnly {
		t.Errorf("after the role change: %+v, %v", a, err)
	}
	_, err = w.m.SetConsoleUserRole(ctx, w.owner, owner.ID, "administrator")
	wantKind(t, err, manage.Conflict, "demoting the last owner")
	_, err = w.m.RemoveConsoleUser(ctx, w.owner, "owner@example.com")
	wantKind(t, err, manage.Conflict, "removing the last owner")
	// Removing a user ends its sessions.
	if _, err := w.m.RemoveConsoleUser(ctx, w.owner, "help@example.com"); err != nil {
		t.Fatal(err)
	}
	_, err = w.m.ConsoleSession(ctx, ns.Token)
	wantKind(t, err, manage.Unauthenticated, "the session of a removed user")
	users, err := w.m.ConsoleUsers(ctx, w.owner)
	if err != nil || len(users) != 1 || users[0].Email != "owner@example.com" {
		t.Errorf("ConsoleUsers = %+v, %v", users, err)
	}
}

// TestAccountSettings: defaults, validation, the trash retention that the
// trash and the purge follow, and the notification recipients.
func TestAccountSettings(t *testing.T) {
	w := newWorld(t, 5, 0)
	ctx := t.Context()
	w.addSource(w.owner, "contoso")
	if _, err := w.m.SyncNow(ctx, w.owner, "contoso", manage.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	gone := w.tenant.Users()[2]
	w.tenant.DeleteUser(gone.ID)
	if _, err := w.m.SyncNow(ctx, w.owner, "contoso", manage.SyncRequest{Full: true}); err != nil {
		t.Fatal(err)
	}
	s, err := w.m.AccountSettings(ctx, w.owner)
	if err != nil || s.TimeZone != "UTC" || s.TrashRetentionDays != 7 || len(s.NotifyRoles) != 1 || s.NotifyRoles[0] != manage.RoleOwner {
		t.Fatalf("default settings = %+v, %v", s, err)
	}
	for _, bad := range []manage.AccountSettings{
		{TimeZone: "Mars/Olympus", TrashRetentionDays: 7},
		{TimeZone: "UTC", TrashRetentionDays: 0},
		{TimeZone: "UTC", TrashRetentionDays: 400},
		{TimeZone: "UTC", TrashRetentionDays: 7, NotifyRoles: []manage.Role{"janitor"}},
		{TimeZone: "UTC", TrashRetentionDays: 7, NotifyEmails: []string{"not an address"}},
	} {
		_, err := w.m.SetAccountSettings(ctx, w.owner, bad)
		wantKind(t, err, manage.Invalid, "settings "+bad.TimeZone)
	}
	if _, err := w.m.CreateConsoleUser(ctx, w.owner, manage.ConsoleUserInput{Email: "admin@example.com", Role: "administrator"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.CreateConsoleUser(ctx, w.owner, manage.ConsoleUserInput{Email: "owner@example.com", Role: "owner"}); err != nil {
		t.Fatal(err)
	}
	s, err = w.m.SetAccountSettings(ctx, w.owner, manage.AccountSettings{TimeZone: "Europe/Paris", TrashRetentionDays: 30,
		NotifyRoles: []manage.Role{"administrator", "owner"}, NotifyEmails: manage.ParseEmails("it@example.com, IT@example.com\nsec@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Location().String() != "Europe/Paris" || len(s.NotifyEmails) != 2 {
		t.Errorf("saved settings = %+v", s)
	}
	to, err := w.m.NotificationRecipients(ctx, w.owner.AccountID)
	if err != nil || strings.Join(to, " ") != "admin@example.com owner@example.com it@example.com sec@example.com" {
		t.Errorf("NotificationRecipients = %v, %v", to, err)
	}
	// The trash keeps objects 30 days now: a user trashed 10 days ago
	// stays, in the listing and through the service's hourly prune.
	trash, err := w.m.ListTrash(ctx, w.owner, manage.TrashQuery{})
	if err != nil || trash.Retention != 30*24*time.Hour || len(trash.Users) != 1 {
		t.Fatalf("trash = %+v, %v", trash, err)
	}
	w.clock.Advance(10 * 24 * time.Hour)
	if p, err := w.m.Prune(ctx); err != nil || p.Trash != 0 {
		t.Errorf("Prune at 10 days = %+v, %v", p, err)
	}
	if n, err := w.m.PurgeExpired(ctx, w.owner, nil); err != nil || n != 0 {
		t.Errorf("PurgeExpired at 10 days = %d, %v", n, err)
	}
	s.TrashRetentionDays = 9
	if _, err := w.m.SetAccountSettings(ctx, w.owner, s); err != nil {
		t.Fatal(err)
	}
	if p, err := w.m.Prune(ctx); err != nil || p.Trash != 1 {
		t.Errorf("Prune at 10 days with 9 days' retention = %+v, %v", p, err)
	}
	// Read-only may read the settings and not change them.
	ro := manage.Actor{AccountID: w.owner.AccountID, AccountName: "default", Role: manage.RoleReadOnly, Via: manage.ViaConsole}
	if _, err := w.m.AccountSettings(ctx, ro); err != nil {
		t.Error(err)
	}
	_, err = w.m.SetAccountSettings(ctx, ro, s)
	wantKind(t, err, manage.Forbidden, "read_only changes the settings")
}
