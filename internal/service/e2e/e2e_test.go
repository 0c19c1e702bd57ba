// Package e2e runs dirsync serve as a process against an emulated Entra
// tenant: a source created through the API syncs on its schedule, and its
// change events reach a webhook receiver, signed, in order, through failures.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/webhook"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dirsync-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "dirsync")
	if out, err := exec.Command("go", "build", "-o", binary, "github.com/dirsync/dirsync/cmd/dirsync").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build dirsync: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running dirsync serve.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	token  string
	stderr *bytes.Buffer
}

func (s *server) call(method, path string, body, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}

// receiver checks every delivery's signature and fails the first few.
type receiver struct {
	mu       sync.Mutex
	secret   string
	failLeft int
	failed   int
	bad      int
	got      []webhook.Payload
	seenIDs  map[string]bool
	attempts map[string]int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.secret == "" || webhook.Verify(rc.secret, r.Header, body, time.Now(), webhook.DefaultTolerance) != nil {
		rc.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := r.Header.Get(webhook.HeaderID)
	rc.attempts[id]++
	if rc.failLeft > 0 {
		rc.failLeft--
		rc.failed++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.ID != id {
		rc.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if !rc.seenIDs[id] {
		rc.seenIDs[id] = true
		rc.got = append(rc.got, p)
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestServeScheduleWebhooks(t *testing.T) {
	dir := t.TempDir()
	env := append(os.Environ(), "DIRSYNC_MASTER_KEY=", "HOME="+dir, "XDG_DATA_HOME="+dir,
		"DIRSYNC_DB="+filepath.Join(dir, "dirsync.db"), "DIRSYNC_ACCOUNT=")

	out, err := exec.Command(binary, "--db", filepath.Join(dir, "dirsync.db"), "token", "create", "--role", "owner", "--json").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(out, &tok); err != nil || !strings.HasPrefix(tok.Token, "dsk_") {
		t.Fatalf("token create printed %s", out)
	}

	tenant, err := entraemu.New(entraemu.Options{Users: 60, Groups: 6, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	emu, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()

	rc := &receiver{failLeft: 3, seenIDs: map[string]bool{}, attempts: map[string]int{}}
	recv := httptest.NewServer(rc)
	defer recv.Close()

	// No clock runs ahead in a production binary: the every-minute
	// schedule fires at the next whole minute of real time.
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(env, "DIRSYNC_WEBHOOK_ALLOW=127.0.0.1", "DIRSYNC_TICK=200ms", "DIRSYNC_WEBHOOK_BACKOFF=100ms", "DIRSYNC_WEBHOOK_MAX_BACKOFF=400ms")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Wait()
		t.Fatalf("serve printed nothing: %v\n%s", err, stderr.String())
	}
	url := strings.TrimSpace(line[strings.Index(line, "http://"):])
	s := &server{t: t, cmd: cmd, url: url, token: tok.Token, stderr: &stderr}

	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(url + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}

	var hook struct{ ID, Secret string }
	if code := s.call("POST", "/api/v1/webhooks", map[string]any{"url": recv.URL + "/dirsync"}, &hook); code != 201 {
		t.Fatalf("create webhook: %d", code)
	}
	rc.mu.Lock()
	rc.secret = hook.Secret
	rc.mu.Unlock()

	c := emu.Credentials()
	var src struct {
		ID           string
		ScheduleText string     `json:"schedule_text"`
		NextRun      *time.Time `json:"next_run"`
	}
	code := s.call("POST", "/api/v1/sources", map[string]any{"name": "contoso", "kind": "entra", "secret": c.ClientSecret, "schedule": "every 1m",
		"settings": map[string]any{"tenant": c.TenantID, "client_id": c.ClientID, "cloud": "custom", "auth_method": "secret",
			"authority_url": c.AuthorityURL, "graph_url": c.GraphURL, "ca_pem": string(emu.CAPEM())}}, &src)
	if code != 201 || src.NextRun == nil {
		t.Fatalf("create source: %d %+v", code, src)
	}

	// The schedule fires; the run lands; every event reaches the receiver.
	var run directory.Run
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		var runs struct{ Runs []directory.Run }
		s.call("GET", "/api/v1/runs", nil, &runs)
		if last := len(runs.Runs) - 1; last >= 0 && runs.Runs[last].Outcome != directory.OutcomeRunning && runs.Runs[last].Outcome != directory.OutcomeQueued {
			run = runs.Runs[len(runs.Runs)-1]
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if run.ID == "" {
		t.Fatalf("the schedule never fired\n%s", stderr.String())
	}
	if run.Trigger != "schedule" || run.Outcome != directory.OutcomeSucceeded || run.Counts.Created < 60 {
		t.Fatalf("scheduled run: %+v", run)
	}
	var events []directory.Event
	for next := "/api/v1/events?limit=1000"; next != ""; {
		var page struct {
			Events []directory.Event
			Next   string
		}
		s.call("GET", next, nil, &page)
		events = append(events, page.Events...)
		next = page.Next // absent once caught up
	}
	for time.Now().Before(deadline) {
		rc.mu.Lock()
		n := len(rc.got)
		rc.mu.Unlock()
		if n >= len(events) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rc.mu.Lock()
	got := append([]webhook.Payload(nil), rc.got...)
	bad, failed := rc.bad, rc.failed
	rc.mu.Unlock()
	if bad != 0 || failed != 3 {
		t.Fatalf("bad signatures %d, failed deliveries %d (want 0, 3)", bad, failed)
	}
	if len(got) != len(events) {
		t.Fatalf("received %d events, the feed has %d", len(got), len(events))
	}
	types := map[string]int{}
	for i, e := range events {
		if got[i].ID != e.ID || got[i].Type != e.Type || got[i].Seq != e.Seq {
			t.Fatalf("delivery %d: %s %s, feed %s %s", i, got[i].ID, got[i].Type, e.ID, e.Type)
		}
		types[e.Type]++
	}
	if types[directory.EventUserCreated] < 60 || types[directory.EventSyncCompleted] != 1 || types[directory.EventGroupUserAdded] == 0 {
		t.Fatalf("event types %v", types)
	}
	var dl struct {
		Deliveries []struct{ Outcome string }
	}
	s.call("GET", "/api/v1/webhooks/"+hook.ID+"/deliveries?limit=1000", nil, &dl)
	outcomes := map[string]int{}
	for _, d := range dl.Deliveries {
		outcomes[d.Outcome]++
	}
	if outcomes["failed"] != 3 || outcomes["succeeded"] != len(events) {
		t.Fatalf("delivery log %v", outcomes)
	}

	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`dirsync_runs_total{kind="full",outcome="succeeded",trigger="schedule"} 1`,
		`dirsync_webhook_deliveries_total{outcome="failed"} 3`, "# TYPE dirsync_run_duration_seconds histogram",
		`dirsync_source_last_success_timestamp_seconds{account="`, `source_name="contoso"} `, "dirsync_queue_depth 0",
		`webhook="` + hook.ID + `"} 0`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}

	// SIGTERM: a clean exit.
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	// The token commands, on the database the server left.
	db := filepath.Join(dir, "dirsync.db")
	out, err = exec.Command(binary, "--db", db, "token", "list", "--json").Output()
	var toks []struct {
		ID, Role, Prefix string
		RevokedAt        string `json:"revoked_at"`
	}
	if err != nil || json.Unmarshal(out, &toks) != nil || len(toks) != 1 || toks[0].Role != "owner" || !strings.HasPrefix(tok.Token, toks[0].Prefix) {
		t.Fatalf("token list: %v %s", err, out)
	}
	if bytes.Contains(out, []byte(tok.Token)) {
		t.Fatal("token list prints the token")
	}
	if out, err := exec.Command(binary, "--db", db, "token", "revoke", toks[0].ID).CombinedOutput(); err != nil {
		t.Fatalf("token revoke: %v %s", err, out)
	}
	out, _ = exec.Command(binary, "--db", db, "token", "list", "--json").Output()
	json.Unmarshal(out, &toks)
	if toks[0].RevokedAt == "" {
		t.Fatalf("revoked token listed as valid: %s", out)
	}
	if out, err := exec.Command(binary, "--db", db, "token", "create", "--role", "superuser").CombinedOutput(); err == nil || !strings.Contains(string(out), "unknown role") {
		t.Fatalf("bad role accepted: %s", out)
	}

	logs := stderr.String()
	if strings.Contains(logs, c.ClientSecret) || strings.Contains(logs, hook.Secret) || strings.Contains(logs, tok.Token) {
		t.Fatal("a secret appears in the server's log")
	}
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(l)) {
			t.Fatalf("log line is not JSON: %s", l)
		}
	}
}
