package sqlstore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// TestMembershipEventsReferToTheirChange checks that a membership's event
// is stored as a reference to the run's change (its row holds the source's
// name only), and that the feed serves it with the whole body.
func TestMembershipEventsReferToTheirChange(t *testing.T) {
	s := newSQLite(t)
	ctx := t.Context()
	acc := directory.Account{Name: "acme"}
	src := directory.Source{Name: "entra", Kind: directory.KindEntra, Enabled: true, Config: []byte(`{}`)}
	g := directory.Group{GroupAttributes: directory.GroupAttributes{Name: "Engineering"}}
	u := directory.User{Enabled: true, UserAttributes: directory.UserAttributes{Username: "alice@example.com"}}
	run := directory.Run{Kind: directory.RunFull, Trigger: "test", Outcome: directory.OutcomeRunning}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		src.AccountID, g.AccountID, u.AccountID, run.AccountID = acc.ID, acc.ID, acc.ID, acc.ID
		if err := tx.CreateSource(ctx, &src); err != nil {
			return err
		}
		run.SourceID = src.ID
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
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StageMemberships(ctx, run.ID, []directory.SourceMembership{{GroupExternalID: "g", MemberExternalID: "u", MemberKind: directory.MemberUser}}); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		_, added, err := tx.SyncMembershipsLogged(ctx, src.ID, run.ID, store.Reach{},
			store.MemberLog{RunID: run.ID, AccountID: acc.ID, SourceName: src.Name, Time: time.Now()})
		if err == nil && added != 1 {
			t.Errorf("added %d", added)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	var ref int
	if err := s.db.QueryRowContext(ctx, `SELECT data, change_seq FROM events WHERE run_id = ?`, run.ID).Scan(&stored, &ref); err != nil {
		t.Fatal(err)
	}
	if stored != `{"source":"entra"}` || ref != 1 {
		t.Fatalf("stored event data %s, change %d", stored, ref)
	}
	evs, err := s.Events(ctx, acc.ID, 0, 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("events %+v (%v)", evs, err)
	}
	var body struct {
		directory.Change
		Source string `json:"source"`
	}
	if err := json.Unmarshal(evs[0].Data, &body); err != nil || body.Source != "entra" || body.ObjectID != g.ID || body.Name != "Engineering" ||
		body.Member == nil || body.Member.ID != u.ID || body.Member.Name != "alice@example.com" || evs[0].Type != directory.EventGroupUserAdded {
		t.Fatalf("served event %s %s (%v)", evs[0].Type, evs[0].Data, err)
	}
}
