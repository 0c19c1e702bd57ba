package e2e

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
	"github.com/dirsync/dirsync/internal/webhook"
)

// replica is one dirsync serve process of a fleet.
type replica struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
}

func (r *replica) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

type lockedWriter struct{ r *replica }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.r.stderr.Write(p)
}

// startReplica runs dirsync serve on the database with the environment.
func startReplica(t *testing.T, env []string) *replica {
	t.Helper()
	r := &replica{done: make(chan struct{})}
	r.cmd = exec.Command(binary, "serve", "--listen", "127.0.0.1:0")
	r.cmd.Env = env
	stdout, _ := r.cmd.StdoutPipe()
	r.cmd.Stderr = lockedWriter{r}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			r.cmd.Process.Kill()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v\n%s", err, r.log())
	}
	r.url = strings.TrimSpace(line[strings.Index(line, "http://"):])
	return r
}

// TestFleetOfServeProcesses runs three dirsync serve processes on one
// PostgreSQL database, 50 accounts with two sources each (every source
// its own emulated tenant), every source scheduled every minute, for five
// slots. One replica is killed (SIGKILL) while it runs syncs. Then: every
// slot of every source ran exactly once, none twice, none missed; the runs
// the killed replica had in progress are recorded as interrupted and were
// run again by the others, so every directory equals its tenant.
func TestFleetOfServeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("five minutes of schedules")
	}
	dsn := sqltest.PostgresDSN(t)
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	t.Setenv("DIRSYNC_MASTER_KEY", key)
	const accounts, perAccount, users, slots = 50, 2, 3, 5

	// The test's own handle on the database: to set the fleet up, and to
	// read what it did.
	parts, err := factory.Open(t.Context(), factory.Options{DB: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer parts.Close()
	m := parts.Manager
	every, err := manage.ParseSchedule("every 1m")
	if err != nil {
		t.Fatal(err)
	}
	type source struct {
		view  manage.SourceView
		owner manage.Actor
	}
	var srcs []source
	for a := range accounts {
		acc, err := m.CreateAccount(t.Context(), manage.DeploymentOperator(), fmt.Sprintf("customer-%02d", a))
		if err != nil {
			t.Fatal(err)
		}
		owner, err := m.Operator(t.Context(), acc.Name)
		if err != nil {
			t.Fatal(err)
		}
		for s := range perAccount {
			// Each request waits a little, so that syncs overlap the kill.
			tenant, err := entraemu.New(entraemu.Options{Users: users, Groups: 1, Seed: int64(1000 + a*perAccount + s), Latency: 40 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			emu, err := tenant.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { emu.Close() })
			c := emu.Credentials()
			name := fmt.Sprint("entra-", s)
			cfg := fmt.Sprintf(`{"tenant":%q,"client_id":%q,"cloud":"custom","auth_method":"secret","authority_url":%q,"graph_url":%q,"ca_pem":%q}`,
				c.TenantID, c.ClientID, c.AuthorityURL, c.GraphURL, string(emu.CAPEM()))
			v, err := m.AddSource(t.Context(), owner, manage.SourceInput{Name: &name, Kind: directory.KindEntra,
				Config: []byte(cfg), Secret: []byte(c.ClientSecret), Schedule: &every})
			if err != nil {
				t.Fatal(err)
			}
			srcs = append(srcs, source{v, owner})
		}
	}

	env := append(os.Environ(), "DIRSYNC_DB="+dsn, "DIRSYNC_MASTER_KEY="+key, "DIRSYNC_TICK=1s", "DIRSYNC_LEASE_TTL=5s",
		"DIRSYNC_WORKERS=4", "DIRSYNC_ACCOUNT=", "DIRSYNC_LOG_LEVEL=info")
	var fleet []*replica
	for range 3 {
		fleet = append(fleet, startReplica(t, env))
	}
	first := time.Now().Truncate(time.Minute).Add(time.Minute)
	last := first.Add((slots - 1) * time.Minute)
	t.Logf("%d sources; slots %s to %s", len(srcs), first.Format("15:04"), last.Format("15:04"))

	// Kill, during the second slot, a replica while it holds sources.
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	time.Sleep(time.Until(first.Add(time.Minute)))
	killed := -1
	for deadline := time.Now().Add(40 * time.Second); killed < 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		// A lease alone is not enough: a replica holds it a moment before
		// its run is recorded as running and after it ended, and a replica
		// killed then leaves nothing to interrupt.
		rows, err := admin.QueryContext(t.Context(), `SELECT l.holder FROM source_leases l
			JOIN runs r ON r.source_id = l.source_id AND r.outcome = 'running'
			WHERE l.expires_at > now()`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() && killed < 0 {
			var holder string
			rows.Scan(&holder)
			for i, r := range fleet {
				if strings.Contains(holder, "/pid-"+strconv.Itoa(r.cmd.Process.Pid)+"/") {
					r.cmd.Process.Kill()
					<-r.done
					killed = i
					t.Logf("killed replica %d (pid %d) while it held %s", i, r.cmd.Process.Pid, holder)
				}
			}
		}
		rows.Close()
	}
	if killed < 0 {
		t.Fatal("no replica was seen running a sync in the second slot")
	}

	// Wait for the last slot, then for every run to end.
	time.Sleep(time.Until(last.Add(5 * time.Second)))
	st := parts.Store
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		q, _ := st.RunsByOutcome(t.Context(), directory.OutcomeQueued)
		r, _ := st.RunsByOutcome(t.Context(), directory.OutcomeRunning)
		if len(q)+len(r) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs queued and %d running 90s after the last slot", len(q), len(r))
		}
	}

	var problems []string
	interrupted, retried := 0, 0
	for _, s := range srcs {
		runs, err := st.Runs(t.Context(), s.view.AccountID, s.view.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		bySlot := map[time.Time]int{}
		for _, r := range runs {
			if !r.Slot.IsZero() {
				bySlot[r.Slot]++
			}
			switch {
			case r.Outcome == directory.OutcomeInterrupted:
				interrupted++
				if !strings.Contains(r.Reason, "queued again as run") {
					problems = append(problems, fmt.Sprintf("%s: interrupted run %s not queued again: %q", s.view.ID, r.ID, r.Reason))
				}
			case r.Slot.IsZero() && r.Trigger == "schedule" && r.Outcome == directory.OutcomeSucceeded:
				retried++
			case r.Outcome != directory.OutcomeSucceeded:
				problems = append(problems, fmt.Sprintf("%s: run %s %s %q", s.view.ID, r.ID, r.Outcome, r.Reason))
			}
		}
		for k := range slots {
			slot := first.Add(time.Duration(k) * time.Minute).UTC()
			if n := bySlot[slot]; n != 1 {
				problems = append(problems, fmt.Sprintf("%s: slot %s ran %d times", s.view.ID, slot.Format("15:04"), n))
			}
		}
		page, err := m.Users(t.Context(), s.owner, manage.UserQuery{Source: s.view.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != users {
			problems = append(problems, fmt.Sprintf("%s: %d users, the tenant has %d", s.view.ID, len(page.Items), users))
		}
	}
	sort.Strings(problems)
	for i, p := range problems {
		if i == 20 {
			t.Errorf("... and %d more", len(problems)-20)
			break
		}
		t.Error(p)
	}
	if interrupted == 0 || retried < interrupted {
		t.Errorf("the killed replica left %d runs interrupted, %d run again", interrupted, retried)
	}
	t.Logf("%d slot runs checked; %d interrupted by the kill, %d run again by the others", len(srcs)*slots, interrupted, retried)
	if t.Failed() {
		for i, r := range fleet {
			if i != killed {
				t.Logf("replica %d log tail:\n%s", i, tail(r.log(), 40))
			}
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// orderedReceiver records every delivery it verifies, in arrival order.
type orderedReceiver struct {
	mu     sync.Mutex
	secret string
	got    []directory.Event // every verified delivery, duplicates too
	bad    int
}

func (rc *orderedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	time.Sleep(2 * time.Millisecond) // a receiver that takes its time
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var e directory.Event
	if webhook.Verify(rc.secret, r.Header, body, time.Now(), webhook.DefaultTolerance) != nil || json.Unmarshal(body, &e) != nil {
		rc.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, e)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *orderedReceiver) distinct() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range rc.got {
		seen[e.ID] = true
	}
	return len(seen)
}

// TestFleetDeliversWebhooksOnceInOrder: three dirsync serve processes,
// one receiver, 2,000 events; the replica delivering them is killed
// (SIGKILL) a quarter of the way: another takes the endpoint over once the
// dead one's claim runs out, and the receiver gets every event, in order,
// with no gap; the event in flight at the kill may come twice (the same
// webhook-id), nothing else does.
func TestFleetDeliversWebhooksOnceInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("a dead replica's claim to run out")
	}
	dsn := sqltest.PostgresDSN(t)
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	t.Setenv("DIRSYNC_MASTER_KEY", key)
	allow, _ := safehttp.ParseAllowList([]string{"127.0.0.1"})
	parts, err := factory.Open(t.Context(), factory.Options{DB: dsn, WebhookAllow: allow})
	if err != nil {
		t.Fatal(err)
	}
	defer parts.Close()
	owner, err := parts.Manager.Operator(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	rc := &orderedReceiver{}
	recv := httptest.NewServer(rc)
	defer recv.Close()
	url := recv.URL + "/hook"
	hook, err := parts.Manager.CreateWebhook(t.Context(), owner, manage.WebhookInput{URL: &url})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = hook.Secret
	const events = 2000
	var want []string
	err = parts.Store.Update(t.Context(), func(tx store.Tx) error {
		es := make([]directory.Event, events)
		for i := range es {
			es[i] = directory.Event{AccountID: owner.AccountID, Type: directory.EventUserCreated, Time: time.Now(),
				Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
		}
		if err := tx.AppendEvents(t.Context(), es); err != nil {
			return err
		}
		for _, e := range es {
			want = append(want, e.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	env := append(os.Environ(), "DIRSYNC_DB="+dsn, "DIRSYNC_MASTER_KEY="+key, "DIRSYNC_TICK=200ms", "DIRSYNC_ACCOUNT=", "DIRSYNC_LEASE_TTL=5s",
		"DIRSYNC_WEBHOOK_ALLOW=127.0.0.1", "DIRSYNC_WEBHOOK_BACKOFF=100ms", "DIRSYNC_WEBHOOK_MAX_BACKOFF=1s")
	var fleet []*replica
	for range 3 {
		fleet = append(fleet, startReplica(t, env))
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	killed := false
	for deadline := time.Now().Add(60 * time.Second); !killed; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("delivery never reached a quarter: %d events", rc.distinct())
		}
		if rc.distinct() < events/4 {
			continue
		}
		var holder string
		admin.QueryRowContext(t.Context(), `SELECT lease_holder FROM webhooks WHERE id = $1`, hook.ID).Scan(&holder)
		for i, r := range fleet {
			if strings.Contains(holder, "/"+strconv.Itoa(r.cmd.Process.Pid)+"/") {
				r.cmd.Process.Kill()
				<-r.done
				killed = true
				t.Logf("killed replica %d, which held the endpoint, after %d events", i, rc.distinct())
			}
		}
	}
	for deadline := time.Now().Add(150 * time.Second); rc.distinct() < events; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the kill, %d of %d events arrived", rc.distinct(), events)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var order []string
	seen := map[string]bool{}
	twice := 0
	for _, e := range rc.got {
		if seen[e.ID] {
			twice++
			continue
		}
		seen[e.ID] = true
		order = append(order, e.ID)
	}
	if rc.bad != 0 || twice > 1 || len(order) != len(want) {
		t.Fatalf("%d bad deliveries, %d events delivered twice, %d distinct of %d", rc.bad, twice, len(order), len(want))
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("event %d arrived as %s, want %s: out of order or a gap", i, order[i], want[i])
		}
	}
	t.Logf("%d events, in order, no gap; %d delivered twice (in flight at the kill)", events, twice)
}
