package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// dirsyncBinary builds the command once for the tests that run it as a process.
func dirsyncBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dirsync-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "dirsync")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/dirsync").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cliProcess runs dirsync commands as processes on one database with one
// Entra source, "entra", pointing at the world's emulated tenant.
type cliProcess struct {
	t   *testing.T
	db  string
	env []string
	bin string
}

// newCLI builds the command, and adds the source through it.
func newCLI(t *testing.T, w *world, env ...string) *cliProcess {
	t.Helper()
	dir := t.TempDir()
	c := &cliProcess{t: t, db: filepath.Join(dir, "dirsync.db"), bin: dirsyncBinary(t),
		env: append(append(os.Environ(), "DIRSYNC_MASTER_KEY="), env...)}
	creds := w.srv.Credentials()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, w.srv.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	c.must(creds.ClientSecret, "source", "add", "entra", "--name", "entra", "--tenant", creds.TenantID,
		"--client-id", creds.ClientID, "--client-secret-file", "-", "--cloud", "custom", "--authority-url", creds.AuthorityURL,
		"--graph-url", creds.GraphURL, "--ca-file", ca)
	return c
}

// command is one dirsync command on the database, not started.
func (c *cliProcess) command(ctx context.Context, stdin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--db", c.db}, args...)...)
	cmd.Env = c.env
	cmd.Stdin = bytes.NewBufferString(stdin)
	return cmd
}

// must runs a command to its end and returns its output; it fails the test
// when the command fails.
func (c *cliProcess) must(stdin string, args ...string) []byte {
	c.t.Helper()
	out, err := c.command(context.Background(), stdin, args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("dirsync %v: %v\n%s", args, err, out)
	}
	return out
}

// store opens the database, for reading what the commands stored.
func (c *cliProcess) store() *sqlstore.Store {
	c.t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), c.db)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { st.Close() })
	return st
}

// TestKillAtRandomPointsConverges kills "dirsync sync" with SIGKILL at random
// points of many syncs of a changing tenant; after each kill, a sync run to
// the end gives exactly the tenant's state. DIRSYNC_KILL_ROUNDS and
// DIRSYNC_KILL_USERS make it larger.
func TestKillAtRandomPointsConverges(t *testing.T) {
	rounds, users := envInt("DIRSYNC_KILL_ROUNDS", 8), envInt("DIRSYNC_KILL_USERS", 300)
	w := newWorld(t, entraemu.Options{Users: users, Groups: users / 20, Seed: 21, Latency: 3 * time.Millisecond,
		DeltaUserPageSize: 50, DeltaGroupPageSize: 5, DeltaMemberPageSize: 40})
	c := newCLI(t, w, "DIRSYNC_LEASE_TTL=500ms")
	cli, db := c.command, c.db
	rng := rand.New(rand.NewPCG(7, 7))
	watch := c.store()
	serial, killed, completed := 0, 0, 0
	for round := range rounds {
		mutate(t, w.tenant, rng, 10, &serial)
		// A sync killed at a random point: reading, staging, applying, or done.
		cmd := cli(context.Background(), "", "sync", "entra")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// Every other round counts its delay from the moment the run is
		// recorded, so that some kills surely hit a run in progress
		// whatever the machine's speed; the others may hit the start.
		if round%2 == 1 {
			waitRunning(t, watch, exited)
		}
		delay := time.Duration(rng.IntN(150)) * time.Millisecond
		select {
		case <-exited:
			completed++
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			killed++
		}
		// Then a sync that runs to its end. The killed run's lease runs out
		// after DIRSYNC_LEASE_TTL; until then the source is busy (exit 5).
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := cli(context.Background(), "", "sync", "entra").CombinedOutput()
			if err == nil {
				break
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 || time.Now().After(deadline) {
				t.Fatalf("round %d: sync after kill: %v\n%s", round, err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
		st, err := sqlstore.OpenSQLite(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		d := &dirsync{t: t, ctx: context.Background(), st: st, w: w}
		accs, _ := st.Accounts(d.ctx)
		srcs, _ := st.Sources(d.ctx, accs[0].ID)
		d.src = srcs[0]
		got, want := d.snapshot(), w.tenantTruth()
		running, _ := st.UnfinishedRuns(d.ctx, d.src.AccountID, d.src.ID)
		staged, err := st.StagedCount(d.ctx, "")
		st.Close()
		if got != want {
			t.Fatalf("round %d (killed after %v): directory differs from the tenant:\n%s", round, delay, diff(want, got))
		}
		// The killed run was marked interrupted by the next one, which
		// dropped what it had staged.
		if len(running) != 0 || staged != 0 || err != nil {
			t.Fatalf("round %d: %d runs still running, %d staged rows left (%v)", round, len(running), staged, err)
		}
	}
	t.Logf("%d rounds: %d syncs killed, %d completed before the kill; all converged", rounds, killed, completed)
	var runs []directory.Run
	if err := json.Unmarshal(c.must("", "runs", "list", "--json"), &runs); err != nil {
		t.Fatal(err)
	}
	interrupted := 0
	for _, r := range runs {
		if r.Outcome == directory.OutcomeInterrupted {
			interrupted++
		}
	}
	if interrupted == 0 {
		t.Fatalf("%d syncs killed, none recorded as interrupted: %+v", killed, runs)
	}
	if killed == 0 {
		t.Fatal("no sync was killed: the test did not test anything")
	}
}

// waitRunning waits until a run is recorded as running, or the command
// exits (exited then still holds its result).
func waitRunning(t *testing.T, st *sqlstore.Store, exited chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		accs, _ := st.Accounts(context.Background())
		for _, acc := range accs {
			if runs, _ := st.Runs(context.Background(), acc.ID, "", 1); len(runs) == 1 && runs[0].Outcome == directory.OutcomeRunning {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("no run recorded as running within 30s")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
