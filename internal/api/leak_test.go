package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/webhook"
)

type hookReceiver struct {
	mu     sync.Mutex
	secret string
	fail   int // answer 500 to this many deliveries first
	got    []webhook.Payload
	bad    int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := webhook.Verify(h.secret, r.Header, body, time.Now(), webhook.DefaultTolerance); err != nil {
		h.bad++
		w.WriteHeader(401)
		return
	}
	if h.fail > 0 {
		h.fail--
		w.WriteHeader(500)
		return
	}
	var p webhook.Payload
	json.Unmarshal(body, &p)
	h.got = append(h.got, p)
}

// TestWebhooksAndSecretLeak creates sources and a webhook with known
// secrets, exercises the API (including failing syncs and tests, whose
// errors are logged), then looks for the secrets in every response body,
// in the logs and in the database files: none may appear, but for the
// webhook secret in the one answer that creates it.
func TestWebhooksAndSecretLeak(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 30, 4)
	clientSecret := emu.Credentials().ClientSecret
	wrongSecret := "Wr0ng~Secret~" + strings.Repeat("q", 20)
	ldapPassword := "Bind-P4ssw0rd-never-shown"

	rc := &hookReceiver{fail: 2}
	recv := httptest.NewServer(rc)
	defer recv.Close()
	var hook api.WebhookView
	createBody := e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": recv.URL + "/hook?token=abc", "event_types": []string{"user.created", "sync.completed", "sync.failed"}}, &hook)
	if createBody != 201 || !strings.HasPrefix(hook.Secret, "whsec_") {
		t.Fatalf("create webhook: %d %+v", createBody, hook)
	}
	rc.secret = hook.Secret
	e.mu.Lock()
	e.bodies = e.bodies[:len(e.bodies)-1] // the one answer allowed to hold it
	e.mu.Unlock()
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": "ftp://x"}, nil); code != 400 {
		t.Fatalf("bad webhook url: %d", code)
	}
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": "https://x.example", "event_types": []string{"user.exploded"}}, nil); code != 400 {
		t.Fatalf("bad event type: %d", code)
	}

	var good, bad, ldap api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "good", "kind": "entra", "settings": settings, "secret": clientSecret, "schedule": "none"}, &good)
	// Another tenant: a domain has one source, which good claims once synced.
	_, otherSettings := emulatorSeed(t, 5, 1, 8)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "bad", "kind": "entra", "settings": otherSettings, "secret": wrongSecret}, &bad)
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "ad", "kind": "ldap", "secret": ldapPassword,
		"settings": map[string]any{"urls": []string{"ldaps://127.0.0.1:1"}, "base_dn": "dc=example,dc=com", "bind_dn": "cn=sync,dc=example,dc=com"}}, &ldap); code != 201 {
		t.Fatalf("ldap source: %d", code)
	}
	for _, s := range []api.SourceView{good, bad, ldap} {
		e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+s.ID+"/test", nil, nil)
		e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+s.ID+"/sync", nil, nil)
	}
	for _, s := range []api.SourceView{good, bad, ldap} {
		e.waitRun(s.ID, 1)
		e.do(manage.RoleReadOnly, "GET", "/api/v1/sources/"+s.ID, nil, nil)
	}
	// Change the secret through PATCH, and fail a PATCH.
	e.do(manage.RoleAdministrator, "PATCH", "/api/v1/sources/"+bad.ID, map[string]any{"secret": wrongSecret + "2"}, nil)
	e.do(manage.RoleAdministrator, "PATCH", "/api/v1/sources/"+bad.ID, map[string]any{"secret": wrongSecret + "3", "settings": map[string]any{"tenant": "common"}}, nil)
	var badView api.SourceView
	e.do(manage.RoleReadOnly, "GET", "/api/v1/sources/"+bad.ID, nil, &badView)
	if badView.Status.State != "reauthorization_required" {
		t.Errorf("source with a refused secret: status %+v", badView.Status)
	}
	if evs, _ := e.st.Events(t.Context(), e.account.ID, 0, 0); len(filterTypes(evs, directory.EventSourceReauthorize)) != 1 {
		t.Errorf("want one %s event", directory.EventSourceReauthorize)
	}

	// Deliver: two failures, then everything in order.
	ctx := t.Context()
	for i := 0; i < 50; i++ {
		if _, err := e.svc.Dispatcher.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		rc.mu.Lock()
		n := len(rc.got)
		rc.mu.Unlock()
		var h api.WebhookView
		e.do(manage.RoleReadOnly, "GET", "/api/v1/webhooks/"+hook.ID, nil, &h)
		if n > 0 && h.Attempts == 0 {
			if evs, _ := e.st.Events(ctx, e.account.ID, mustAtoi(t, h.Cursor), 0); len(filterTypes(evs, "user.created", "sync.completed", "sync.failed")) == 0 {
				break
			}
		}
		// Skip the backoff rather than wait for it.
		err := e.st.Update(ctx, func(tx store.Tx) error {
			stx := tx
			cur, err := stx.Webhook(ctx, e.account.ID, hook.ID)
			if err != nil {
				return err
			}
			cur.NextAttemptAt = time.Time{}
			_, err = stx.SaveWebhookState(ctx, cur, "")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	rc.mu.Lock()
	got := append([]webhook.Payload(nil), rc.got...)
	rc.mu.Unlock()
	all, _ := e.st.Events(ctx, e.account.ID, 0, 0)
	want := filterTypes(all, "user.created", "sync.completed", "sync.failed")
	if len(got) != len(want) || rc.bad != 0 {
		t.Fatalf("delivered %d events (bad signatures %d), want %d", len(got), rc.bad, len(want))
	}
	types := map[string]int{}
	for i := range got {
		if got[i].ID != want[i].ID {
			t.Fatalf("delivery %d is %s, want %s: out of order", i, got[i].ID, want[i].ID)
		}
		types[got[i].Type]++
	}
	if types["sync.failed"] < 2 || types["sync.completed"] < 1 || types["user.created"] < 10 {
		t.Fatalf("delivered types %v", types)
	}
	var dl struct{ Deliveries []store.Delivery }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/webhooks/"+hook.ID+"/deliveries?limit=1000", nil, &dl)
	failed := 0
	for _, d := range dl.Deliveries {
		if d.Outcome == store.DeliveryFailed {
			failed++
		}
	}
	if failed != 2 || len(dl.Deliveries) != len(want)+2 {
		t.Fatalf("delivery log: %d entries, %d failed", len(dl.Deliveries), failed)
	}
	var listed struct{ Webhooks []map[string]any }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/webhooks", nil, &listed)
	if len(listed.Webhooks) != 1 || listed.Webhooks[0]["secret"] != nil {
		t.Fatalf("webhook listing: %v", listed.Webhooks)
	}

	secrets := map[string]string{"client secret": clientSecret, "wrong secret": wrongSecret, "ldap password": ldapPassword,
		"webhook secret": hook.Secret, "webhook secret key": strings.TrimPrefix(hook.Secret, "whsec_")}
	for role, tok := range e.tokens {
		secrets["token "+string(role)] = tok
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "sync failed") {
		t.Fatalf("the logs do not show the failing syncs; the leak test would prove little:\n%.2000s", logs)
	}
	e.mu.Lock()
	bodies := strings.Join(e.bodies, "\n")
	e.mu.Unlock()
	files := ""
	dir := filepath.Dir(dbPath(t, e))
	entries, _ := os.ReadDir(dir)
	for _, ent := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, ent.Name()))
		files += string(data)
	}
	if len(files) == 0 {
		t.Fatal("no database files read")
	}
	for name, s := range secrets {
		if strings.Contains(bodies, s) {
			t.Errorf("%s appears in a response body", name)
		}
		if strings.Contains(logs, s) {
			t.Errorf("%s appears in the logs", name)
		}
		if strings.HasPrefix(name, "token") {
			continue // tokens are stored hashed; their text never reached the database
		}
		if bytes.Contains([]byte(files), []byte(s)) {
			t.Errorf("%s appears in the database files", name)
		}
	}
}

func filterTypes(es []directory.Event, types ...string) []directory.Event {
	var out []directory.Event
	for _, e := range es {
		for _, t := range types {
			if e.Type == t {
				out = append(out, e)
			}
		}
	}
	return out
}

func mustAtoi(t *testing.T, s string) int64 {
	var n int64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n
}
