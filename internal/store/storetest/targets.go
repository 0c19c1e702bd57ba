package storetest

import (
	"encoding/json"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// testTargets checks what provisioning keeps: targets by name or id within
// their account, unique names, cached objects, links, errors replaced as a
// set, export runs, and a delete that takes everything of the target.
func testTargets(t *testing.T, s store.Store) {
	a, b := mkAccount(t, s, "acme"), mkAccount(t, s, "globex")
	tg := targetsByName(t, s, a.ID, b.ID)
	targetCache(t, s, tg)
	exportRuns(t, s, tg, b.ID)
	targetDeletion(t, s, tg)
}

// targetsByName: a target is found by name (any case) or id in its
// account only, its name unique there, and updated whole.
func targetsByName(t *testing.T, s store.Store, accountID, otherAccountID string) directory.Target {
	ctx, a, b := t.Context(), directory.Account{ID: accountID}, directory.Account{ID: otherAccountID}
	tg := directory.Target{AccountID: a.ID, Name: "Cloud", Kind: directory.TargetEntra, Config: []byte(`{"tenant":"x"}`),
		Secret: []byte("sealed"), Settings: []byte(`{"staging":true}`), Enabled: true}
	update(t, s, func(tx store.Tx) error { return tx.CreateTarget(ctx, &tg) })
	if tg.ID == "" || tg.CreatedAt.IsZero() {
		t.Fatalf("CreateTarget did not set ID and times: %+v", tg)
	}
	dup := directory.Target{AccountID: a.ID, Name: "cloud", Kind: directory.TargetEntra}
	wantErr(t, s.Update(ctx, func(tx store.Tx) error { return tx.CreateTarget(ctx, &dup) }), store.ErrAlreadyExists, "same target name")
	other := directory.Target{AccountID: b.ID, Name: "cloud", Kind: directory.TargetEntra}
	update(t, s, func(tx store.Tx) error { return tx.CreateTarget(ctx, &other) })
	got := must[directory.Target](t)(s.Target(ctx, a.ID, "CLOUD"))
	if got.ID != tg.ID || string(got.Secret) != "sealed" || string(got.Settings) != `{"staging":true}` || !got.Enabled {
		t.Errorf("Target = %+v", got)
	}
	_, err := s.Target(ctx, b.ID, tg.ID)
	wantErr(t, err, store.ErrNotFound, "another account's target")
	got.Settings = []byte(`{"staging":false}`)
	update(t, s, func(tx store.Tx) error { return tx.UpdateTarget(ctx, got) })
	if got := must[[]directory.Target](t)(s.Targets(ctx, a.ID)); len(got) != 1 || string(got[0].Settings) != `{"staging":false}` {
		t.Errorf("Targets after update = %+v", got)
	}

	return tg
}

// targetCache: the cursor, cached objects, links, and errors replaced as
// a set.
func targetCache(t *testing.T, s store.Store, tg directory.Target) {
	ctx := t.Context()
	update(t, s, func(tx store.Tx) error {
		if err := tx.SetTargetState(ctx, tg.ID, "cursor"); err != nil {
			return err
		}
		if err := tx.PutTargetObjects(ctx, tg.ID, []store.TargetObject{{Kind: "user", CloudID: "u1", Data: json.RawMessage(`{"a":1}`)},
			{Kind: "user", CloudID: "u2", Data: json.RawMessage(`{}`)}, {Kind: "group", CloudID: "g1", Data: json.RawMessage(`{}`)}}); err != nil {
			return err
		}
		if err := tx.PutTargetObjects(ctx, tg.ID, []store.TargetObject{{Kind: "user", CloudID: "u1", Data: json.RawMessage(`{"a":2}`)}}); err != nil {
			return err
		}
		if err := tx.DeleteTargetObjects(ctx, tg.ID, "user", []string{"u2"}); err != nil {
			return err
		}
		if err := tx.SetTargetLink(ctx, tg.ID, store.TargetLink{Kind: "user", Anchor: "AAA=", CloudID: "u1"}); err != nil {
			return err
		}
		if err := tx.SetTargetLink(ctx, tg.ID, store.TargetLink{Kind: "user", Anchor: "BBB=", CloudID: "u9"}); err != nil {
			return err
		}
		if err := tx.DeleteTargetLink(ctx, tg.ID, "user", "BBB="); err != nil {
			return err
		}
		return tx.ReplaceTargetErrors(ctx, tg.ID, []store.TargetError{{Kind: "user", Anchor: "CCC=", Object: "bob", Code: "x", FirstSeen: tm(1, 0), LastSeen: tm(2, 0)}})
	})
	if st := must[string](t)(s.TargetState(ctx, tg.ID)); st != "cursor" {
		t.Errorf("TargetState = %q", st)
	}
	if us := must[[]store.TargetObject](t)(s.TargetObjects(ctx, tg.ID, "user")); len(us) != 1 || us[0].CloudID != "u1" || string(us[0].Data) != `{"a":2}` {
		t.Errorf("TargetObjects = %+v", us)
	}
	if ls := must[[]store.TargetLink](t)(s.TargetLinks(ctx, tg.ID)); len(ls) != 1 || ls[0].Anchor != "AAA=" || ls[0].CloudID != "u1" || ls[0].CreatedAt.IsZero() {
		t.Errorf("TargetLinks = %+v", ls)
	}
	if es := must[[]store.TargetError](t)(s.TargetErrors(ctx, tg.ID)); len(es) != 1 || es[0].Object != "bob" || !es[0].FirstSeen.Equal(tm(1, 0)) {
		t.Errorf("TargetErrors = %+v", es)
	}
	update(t, s, func(tx store.Tx) error { return tx.ReplaceTargetErrors(ctx, tg.ID, nil) })
	if es := must[[]store.TargetError](t)(s.TargetErrors(ctx, tg.ID)); len(es) != 0 {
		t.Errorf("errors after replacing with none: %+v", es)
	}
}

// exportRuns: created, updated whole, in their account only.
func exportRuns(t *testing.T, s store.Store, tg directory.Target, otherAccountID string) {
	ctx, a, b := t.Context(), directory.Account{ID: tg.AccountID}, directory.Account{ID: otherAccountID}
	run := store.ExportRun{AccountID: a.ID, TargetID: tg.ID, Mode: "full", Staging: true, Outcome: "running", StartedAt: tm(3, 0)}
	update(t, s, func(tx store.Tx) error { return tx.CreateExportRun(ctx, &run) })
	run.Outcome, run.FinishedAt, run.Plan, run.Summary = "staged", tm(4, 0), json.RawMessage(`[1]`), json.RawMessage(`{"n":1}`)
	update(t, s, func(tx store.Tx) error { return tx.UpdateExportRun(ctx, run) })
	if r := must[store.ExportRun](t)(s.ExportRun(ctx, a.ID, run.ID)); r.Outcome != "staged" || !r.Staging || string(r.Plan) != "[1]" || !r.FinishedAt.Equal(tm(4, 0)) {
		t.Errorf("ExportRun = %+v", r)
	}
	_, err := s.ExportRun(ctx, b.ID, run.ID)
	wantErr(t, err, store.ErrNotFound, "another account's export run")
}

// targetDeletion: clearing the cache forgets the cursor; deleting the
// target takes its runs and links.
func targetDeletion(t *testing.T, s store.Store, tg directory.Target) {
	ctx, a := t.Context(), directory.Account{ID: tg.AccountID}
	update(t, s, func(tx store.Tx) error { return tx.ClearTargetObjects(ctx, tg.ID) })
	if st := must[string](t)(s.TargetState(ctx, tg.ID)); st != "" {
		t.Errorf("state after ClearTargetObjects = %q", st)
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteTarget(ctx, a.ID, tg.ID) })
	_, err := s.Target(ctx, a.ID, tg.ID)
	wantErr(t, err, store.ErrNotFound, "deleted target")
	if rs := must[[]store.ExportRun](t)(s.ExportRuns(ctx, tg.ID, 0)); len(rs) != 0 {
		t.Errorf("runs of a deleted target: %+v", rs)
	}
	if ls := must[[]store.TargetLink](t)(s.TargetLinks(ctx, tg.ID)); len(ls) != 0 {
		t.Errorf("links of a deleted target: %+v", ls)
	}
}
