package manage_test

import (
	"context"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// TestEveryUseCaseChecksTheRole calls one use case of each action as each
// role: the roles below the action's least role are refused, and change
// nothing; the others are not refused for their role.
func TestEveryUseCaseChecksTheRole(t *testing.T) {
	w := newWorld(t, 5, 1)
	ctx := t.Context()
	src := w.addSource(w.owner, "s")
	name := "another"
	tags := []string{"x"}
	url := "https://hooks.example/x"
	useCases := map[manage.Action]func(a manage.Actor) error{
		manage.ActRead: func(a manage.Actor) error { _, err := w.m.Sources(ctx, a); return err },
		manage.ActSyncUser: func(a manage.Actor) error {
			_, err := w.m.SyncUser(ctx, a, src.ID, "nobody@nowhere.example", true)
			return err
		},
		manage.ActEditUsers: func(a manage.Actor) error {
			_, err := w.m.EditUser(ctx, a, "nobody", manage.UserEdit{Tags: &tags})
			return err
		},
		manage.ActRestore: func(a manage.Actor) error {
			_, err := w.m.Restore(ctx, a, manage.TrashRef{Key: "nobody"})
			return err
		},
		manage.ActManageSources: func(a manage.Actor) error {
			_, err := w.m.AddSource(ctx, a, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: w.config(), Secret: []byte("x")})
			return err
		},
		manage.ActSync: func(a manage.Actor) error {
			_, err := w.m.RequestSync(ctx, a, src.ID, manage.SyncRequest{})
			return err
		},
		manage.ActManageHooks: func(a manage.Actor) error {
			_, err := w.m.CreateWebhook(ctx, a, manage.WebhookInput{URL: &url})
			return err
		},
		manage.ActPurge:        func(a manage.Actor) error { _, err := w.m.PurgeExpired(ctx, a, nil); return err },
		manage.ActManageTokens: func(a manage.Actor) error { _, err := w.m.CreateToken(ctx, a, "", "read_only"); return err },
	}
	if len(useCases) != 9 {
		t.Fatal("an action is not covered")
	}
	for act, call := range useCases {
		for _, role := range manage.Roles {
			a := manage.Actor{AccountID: w.owner.AccountID, AccountName: w.owner.AccountName, Role: role, Via: manage.ViaAPI}
			err := call(a)
			allowed := role.Allows(manage.MinRole(act))
			if got := manage.KindOf(err) == manage.Forbidden; got == allowed {
				t.Errorf("%s as %s: %v (allowed: %v)", act, role, err, allowed)
			}
			if a.Can(act) != allowed {
				t.Errorf("Can(%s) as %s = %v", act, role, !allowed)
			}
		}
	}
	// What was refused wrote nothing: the administrator's and the owner's
	// webhooks, the owner's token, the administrator's source (the owner's
	// clashed on its name).
	srcs, _ := w.m.Sources(ctx, w.owner)
	hooks, _ := w.m.Webhooks(ctx, w.owner)
	toks, _ := w.m.Tokens(ctx, w.owner)
	if len(srcs) != 2 || len(hooks) != 2 || len(toks) != 1 {
		t.Fatalf("%d sources, %d webhooks, %d tokens: a refused call wrote something", len(srcs), len(hooks), len(toks))
	}
	// An actor of no account may do nothing in one.
	if _, err := w.m.Sources(context.Background(), manage.Actor{Role: manage.RoleOwner}); manage.KindOf(err) != manage.Forbidden {
		t.Fatalf("no account: %v", err)
	}
}

func TestParseRoleTakesDuoSpelling(t *testing.T) {
	for in, want := range map[string]manage.Role{"Read-only": manage.RoleReadOnly, "User Manager": manage.RoleUserManager, " owner ": manage.RoleOwner} {
		if r, err := manage.ParseRole(in); err != nil || r != want {
			t.Errorf("ParseRole(%q) = %q, %v", in, r, err)
		}
	}
	_, err := manage.ParseRole("god")
	if e := wantKind(t, err, manage.Invalid, "unknown role"); e.Field != "role" {
		t.Fatalf("field %q", e.Field)
	}
}
