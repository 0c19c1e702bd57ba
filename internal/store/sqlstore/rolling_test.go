package sqlstore

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
)

// The statements of the release before run slots and claims (migrations
// 00011 and 00014), as it wrote and read runs: a replica of that release
// keeps running beside a new one during a rolling upgrade.
const (
	prevRunCols = `id, account_id, source_id, source, kind, run_trigger, dry_run, started_at, finished_at,
	outcome, reason, counts, source_users, source_groups, skips, requests, throttled`
	prevInsertRun = `INSERT INTO runs (source, kind, run_trigger, dry_run, started_at, finished_at,
	outcome, reason, counts, source_users, source_groups, skips, requests, throttled, id, account_id, source_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	prevUpdateRun = `UPDATE runs SET (source, kind, run_trigger, dry_run, started_at, finished_at,
	outcome, reason, counts, source_users, source_groups, skips, requests, throttled) =
		(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = ? AND account_id = ?`
)

// TestRollingUpgradeRuns: the expand migrations of run slots and claims
// leave the previous release working on the new schema, and the new
// release working on what the previous one writes: a run queued by an old
// replica is claimed by a new one; a new replica's scheduled run, read and
// updated by an old one, keeps its slot.
func TestRollingUpgradeRuns(t *testing.T) {
	opens := map[string]func(t *testing.T) *Store{"sqlite": func(t *testing.T) *Store { return newSQLite(t) }}
	if os.Getenv(postgresEnv) != "" {
		opens["postgres"] = func(t *testing.T) *Store { return newPostgres(t) }
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) { testRollingUpgradeRuns(t, open(t)) })
	}
}

func testRollingUpgradeRuns(t *testing.T, s *Store) {
	ctx := t.Context()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	acc := directory.Account{Name: "acme"}
	src := directory.Source{Name: "entra", Kind: directory.KindEntra, Enabled: true}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		src.AccountID = acc.ID
		return tx.CreateSource(ctx, &src)
	})
	if err != nil {
		t.Fatal(err)
	}
	old := func(q string, args ...any) error {
		_, err := s.db.ExecContext(ctx, s.flavor.rebind(q), args...)
		return err
	}
	// The old replica queues a run.
	oldID := newID()
	if err := old(prevInsertRun, src.Name, "delta", "api", false, now, nil, "queued", "", "{}", 0, 0, "", 0, 0,
		oldID, acc.ID, src.ID); err != nil {
		t.Fatalf("the previous release cannot queue a run: %v", err)
	}
	// The new replica claims it, and the old one cannot see a difference.
	var claimed []directory.Run
	err = s.Update(ctx, func(tx store.Tx) error {
		var err error
		claimed, err = tx.ClaimQueuedRuns(ctx, "new-replica", now, now.Add(time.Minute), 10)
		return err
	})
	if err != nil || len(claimed) != 1 || claimed[0].ID != oldID {
		t.Fatalf("the new release claimed %+v (%v), want the old release's run", claimed, err)
	}
	// The new replica queues a scheduled slot's run; the old one reads and
	// updates it as it always did.
	slotted := directory.Run{AccountID: acc.ID, SourceID: src.ID, Kind: directory.RunDelta, Trigger: "schedule",
		StartedAt: now, Outcome: directory.OutcomeQueued, Slot: now.Truncate(time.Hour)}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateRun(ctx, &slotted) }); err != nil {
		t.Fatal(err)
	}
	rows, err := s.db.QueryContext(ctx, s.flavor.rebind(`SELECT `+prevRunCols+` FROM runs WHERE account_id = ? ORDER BY started_at DESC, id DESC`), acc.ID)
	if err != nil {
		t.Fatalf("the previous release cannot list runs: %v", err)
	}
	n := 0
	for rows.Next() {
		var r directory.Run
		var counts, skips string
		if err := rows.Scan(&r.ID, &r.AccountID, &r.SourceID, &r.Source, &r.Kind, &r.Trigger, &r.DryRun,
			nullTime{&r.StartedAt}, nullTime{&r.FinishedAt}, &r.Outcome, &r.Reason, &counts,
			&r.SourceUsers, &r.SourceGroups, &skips, &r.Requests, &r.Throttled); err != nil {
			t.Fatalf("the previous release cannot read a run: %v", err)
		}
		n++
	}
	rows.Close()
	if n != 2 {
		t.Fatalf("the previous release lists %d runs, want 2", n)
	}
	if err := old(prevUpdateRun, src.Name, "delta", "schedule", false, now, now.Add(time.Second), "succeeded", "", "{}", 3, 1, "", 4, 0,
		slotted.ID, acc.ID); err != nil {
		t.Fatalf("the previous release cannot record a run: %v", err)
	}
	got, err := s.Run(ctx, acc.ID, slotted.ID)
	if err != nil || got.Outcome != directory.OutcomeSucceeded || !got.Slot.Equal(slotted.Slot) {
		t.Fatalf("after the previous release recorded it: %+v %v (want succeeded, slot kept)", got, err)
	}
	// The slot still admits one run, whichever release asks.
	again := slotted
	again.ID = ""
	err = s.Update(ctx, func(tx store.Tx) error { return tx.CreateRun(ctx, &again) })
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("a second run of the slot: %v", err)
	}
}

// TestPostgresSessionLimits: a PostgreSQL store bounds its pool and its
// sessions' statements and idle transactions, unless the URL says
// otherwise.
func TestPostgresSessionLimits(t *testing.T) {
	if os.Getenv(postgresEnv) == "" {
		t.Skipf("%s is not set", postgresEnv)
	}
	show := func(s *Store, param string) string {
		var v string
		if err := s.db.QueryRowContext(t.Context(), "SHOW "+param).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	s := newPostgres(t, WithMaxConns(7))
	if got := show(s, "statement_timeout"); got != defaultStatementTimeout {
		t.Errorf("statement_timeout %q, want %q", got, defaultStatementTimeout)
	}
	if got := show(s, "idle_in_transaction_session_timeout"); got != defaultIdleInTxTimeout {
		t.Errorf("idle_in_transaction_session_timeout %q, want %q", got, defaultIdleInTxTimeout)
	}
	if got := s.db.Stats().MaxOpenConnections; got != 7 {
		t.Errorf("pool of %d connections, want 7", got)
	}
	own, err := OpenPostgres(t.Context(), sqltest.PostgresDSN(t)+"&statement_timeout=90s")
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if got := show(own, "statement_timeout"); got != "90s" {
		t.Errorf("statement_timeout %q with the URL's 90s", got)
	}
	if got := own.db.Stats().MaxOpenConnections; got != DefaultMaxConns {
		t.Errorf("default pool of %d connections, want %d", got, DefaultMaxConns)
	}
}

// TestPostgresReplicasMigrateOnce: replicas starting at once on an empty
// database all open it, and each migration ran once (the advisory lock).
func TestPostgresReplicasMigrateOnce(t *testing.T) {
	if os.Getenv(postgresEnv) == "" {
		t.Skipf("%s is not set", postgresEnv)
	}
	dsn := sqltest.PostgresDSN(t)
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var rows, versions int
	err := stores[0].db.QueryRowContext(t.Context(), `SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&rows, &versions)
	if err != nil {
		t.Fatal(err)
	}
	// Starting replicas apply the expand migrations; contracts wait (contract_test.go).
	all, _ := fs.Glob(migrations, "migrations/postgres/*.sql")
	var files []string
	for _, f := range all {
		if !strings.HasSuffix(f, contractSuffix) {
			files = append(files, f)
		}
	}
	if rows != len(files) || versions != len(files) {
		t.Fatalf("%d migrations recorded (%d distinct), want each of %d once", rows, versions, len(files))
	}
}
