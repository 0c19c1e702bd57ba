package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// TestOneEventSchema: a webhook's body is, byte for byte in meaning, the
// same object the events feed answers for that event: one schema, with
// its version and time.
func TestOneEventSchema(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	bodies := map[string]map[string]any{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		mu.Lock()
		bodies[r.Header.Get("webhook-id")] = m
		mu.Unlock()
	}))
	defer recv.Close()
	e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": recv.URL, "event_types": []string{"user.created", "sync.completed"}}, nil)
	emu, settings := emulator(t, 5, 1)
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	e.waitRun(src.ID, 1)
	var feed struct{ Events []map[string]any }
	e.do(manage.RoleReadOnly, "GET", "/api/v1/events?limit=1000", nil, &feed)
	want := 0
	for _, ev := range feed.Events {
		if ev["type"] == directory.EventUserCreated || ev["type"] == directory.EventSyncCompleted {
			want++
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := e.svc.Dispatcher.Tick(t.Context()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if want < 6 || len(bodies) != want {
		t.Fatalf("%d webhook bodies for %d events", len(bodies), want)
	}
	for _, ev := range feed.Events {
		body, ok := bodies[ev["id"].(string)]
		if !ok {
			continue
		}
		if !reflect.DeepEqual(body, ev) {
			t.Errorf("event %v: the webhook body differs from the feed's item:\n%v\n%v", ev["id"], body, ev)
		}
		if body["version"] != float64(directory.EventVersion) || body["time"] == nil || body["timestamp"] != nil {
			t.Errorf("event %v: version %v, time %v, timestamp %v", ev["id"], body["version"], body["time"], body["timestamp"])
		}
	}
}
