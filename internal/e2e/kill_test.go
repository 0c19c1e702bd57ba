package e2e

import (
	"bytes"
	"context"
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

// TestKillAtRandomPointsConverges kills "dirsync sync" with SIGKILL at random
// points of many syncs of a changing tenant; after each kill, a sync run to
// the end gives exactly the tenant's state. DIRSYNC_KILL_ROUNDS and
// DIRSYNC_KILL_USERS make it larger.
func TestKillAtRandomPointsConverges(t *testing.T) {
	rounds, users := envInt("DIRSYNC_KILL_ROUNDS", 8), envInt("DIRSYNC_KILL_USERS", 300)
	bin := dirsyncBinary(t)
	w := newWorld(t, entraemu.Options{Users: users, Groups: users / 20, Seed: 21, Latency: 3 * time.Millisecond,
		DeltaUserPageSize: 50, DeltaGroupPageSize: 5, DeltaMemberPageSize: 40})
	dir := t.TempDir()
	db := filepath.Join(dir, "dirsync.db")
	env := append(os.Environ(), "DIRSYNC_MASTER_KEY=", "DIRSYNC_LEASE_TTL=500ms")
	cli := func(ctx context.Context, stdin string, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, append([]string{"--db", db}, args...)...)
		cmd.Env = env
		cmd.Stdin = bytes.NewBufferString(stdin)
		return cmd
	}
	creds := w.srv.Credentials()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, w.srv.CAPEM(), 0o600)
	if out, err := cli(context.Background(), creds.ClientSecret, "source", "add", "entra", "--name", "entra", "--tenant", creds.TenantID,
		"--client-id", creds.ClientID, "--client-secret-file", "-", "--cloud", "custom", "--authority-url", creds.AuthorityURL,
		"--graph-url", creds.GraphURL, "--ca-file", ca).CombinedOutput(); err != nil {
		t.Fatalf("source add: %v\n%s", err, out)
	}

	rng := rand.New(rand.NewPCG(7, 7))
	serial, killed, completed := 0, 0, 0
	for round := range rounds {
		mutate(t, w.tenant, rng, 10, &serial)
		// A sync killed at a random point: reading, staging, applying, or done.
		cmd := cli(context.Background(), "", "sync", "entra")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rng.IntN(150)) * time.Millisecond
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
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
		st.Close()
		if got != want {
			t.Fatalf("round %d (killed after %v): directory differs from the tenant:\n%s", round, delay, diff(want, got))
		}
	}
	t.Logf("%d rounds: %d syncs killed, %d completed before the kill; all converged", rounds, killed, completed)
	if killed == 0 {
		t.Fatal("no sync was killed: the test did not test anything")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
