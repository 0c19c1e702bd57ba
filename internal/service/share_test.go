package service

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/registry"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
)

// hanging is a source that never finishes a read, as one that trickles
// its body or never sends headers: it ends only when its run's context
// does.
type hanging struct{}

func (hanging) Check(context.Context) ([]connector.CheckResult, error) { return nil, nil }
func (hanging) Snapshot(ctx context.Context, _ connector.Sink) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestHangingAccountsDoNotStarveOthers is issue 10's point 6: with two
// workers, hanging sources in two accounts took both and a third
// account's healthy sync did not run. Now an account holds at most its
// share of the workers (one of two: account A's second hanging source
// waits for A's first), and a run past the overtime gives its worker back
// to the pool, so account C's sync runs while A's and B's still hang;
// their max run time then fails them, recorded with its reason.
func TestHangingAccountsDoNotStarveOthers(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	tenant, err := entraemu.New(entraemu.Options{Users: 5, Groups: 1, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	emu, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	connect := func(src directory.Source, secret []byte) (connector.Connector, error) {
		if strings.HasPrefix(src.Name, "hang") {
			return hanging{}, nil
		}
		return registry.Open(src, secret, registry.Options{})
	}
	parts, err := factory.Open(t.Context(), factory.Options{DB: filepath.Join(t.TempDir(), "s.db"), Clock: clk, Connect: connect})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parts.Close() })
	m := parts.Manager
	runner := &Runner{Manager: m, Clock: clk, Workers: 2, Logger: slog.New(slog.NewTextHandler(&testLog{t}, nil))}
	m.SetExecutor(runner)
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no grace: cancel the hanging runs at once
		runner.Shutdown(ctx)
	})
	ctx := t.Context()
	c := emu.Credentials()
	none := schedule.Schedule{Kind: schedule.None}
	add := func(account, name, tenant string) (manage.Actor, manage.SourceView) {
		t.Helper()
		if _, err := m.CreateAccount(ctx, manage.DeploymentOperator(), account); err != nil && manage.KindOf(err) != manage.Conflict {
			t.Fatal(err)
		}
		actor, err := m.Operator(ctx, account)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(map[string]any{"tenant": tenant, "client_id": c.ClientID, "cloud": "custom", "auth_method": "secret",
			"authority_url": c.AuthorityURL, "graph_url": c.GraphURL, "ca_pem": string(emu.CAPEM())})
		v, err := m.AddSource(ctx, actor, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: raw,
			Secret: []byte(c.ClientSecret), Schedule: &none})
		if err != nil {
			t.Fatal(err)
		}
		return actor, v
	}
	request := func(actor manage.Actor, src manage.SourceView) directory.Run {
		t.Helper()
		run, err := m.RequestSync(ctx, actor, src.ID, manage.SyncRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	outcome := func(actor manage.Actor, id string) directory.Run {
		t.Helper()
		run, err := m.Run(ctx, actor, id)
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s", what)
	}

	a, a1 := add("a", "hang-a1", "hang-a1.example")
	_, a2 := add("a", "hang-a2", "hang-a2.example")
	b, b1 := add("b", "hang-b1", "hang-b1.example")
	cAcc, healthy := add("c", "healthy", c.TenantID)
	runA1, runA2, runB1 := request(a, a1), request(a, a2), request(b, b1)
	waitFor("A's and B's first runs to start", func() bool {
		return outcome(a, runA1.ID).Outcome == directory.OutcomeRunning && outcome(b, runB1.ID).Outcome == directory.OutcomeRunning
	})
	time.Sleep(100 * time.Millisecond)
	if got := outcome(a, runA2.ID).Outcome; got != directory.OutcomeQueued {
		t.Fatalf("account A's second hanging source: %s, want queued behind its account's share", got)
	}
	runC := request(cAcc, healthy)
	time.Sleep(100 * time.Millisecond)
	if got := outcome(cAcc, runC.ID).Outcome; got != directory.OutcomeQueued {
		t.Fatalf("account C's run before the overtime: %s, want queued (both workers held)", got)
	}

	clk.Advance(DefaultOvertime)
	waitFor("account C's run to succeed while A's and B's hang", func() bool {
		return outcome(cAcc, runC.ID).Outcome == directory.OutcomeSucceeded
	})
	if outcome(a, runA1.ID).Outcome != directory.OutcomeRunning || outcome(b, runB1.ID).Outcome != directory.OutcomeRunning {
		t.Fatal("the hanging runs ended before their max run time")
	}
	if got := outcome(a, runA2.ID).Outcome; got != directory.OutcomeQueued {
		t.Fatalf("account A's second source after the overtime: %s, want still queued (A's share is its first run's)", got)
	}

	// The max run time ends the hanging runs, as failed, saying why.
	clk.Advance(3 * time.Hour)
	waitFor("the hanging runs to fail", func() bool {
		return outcome(a, runA1.ID).Outcome == directory.OutcomeFailed && outcome(b, runB1.ID).Outcome == directory.OutcomeFailed
	})
	if r := outcome(b, runB1.ID); !strings.Contains(r.Reason, "max run time of 3h0m0s") {
		t.Fatalf("reason %q", r.Reason)
	}
	waitFor("account A's second source to run once its first ended", func() bool {
		return outcome(a, runA2.ID).Outcome == directory.OutcomeRunning
	})
}
