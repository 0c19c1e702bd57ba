package manage_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestStatusFollowsTheRuns: never run, connected, and a source at a port
// that refuses connections fails fast (not after minutes of retries) with
// a status that says so (issue 9, point 12).
func TestStatusFollowsTheRuns(t *testing.T) {
	w := newWorld(t, 5, 1)
	src := w.addSource(w.owner, "s")
	if src.Status.State != manage.StateNeverRun {
		t.Fatalf("new source: %+v", src.Status)
	}
	ctx := t.Context()
	if _, err := w.m.SyncNow(ctx, w.owner, "s", manage.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := w.m.Source(ctx, w.owner, "s"); v.Status.State != manage.StateConnected || v.LastRun == nil {
		t.Fatalf("after a run: %+v", v.Status)
	}
	var cfg map[string]any
	json.Unmarshal(w.config(), &cfg)
	dead := "https://" + closedPort(t)
	cfg["authority_url"], cfg["graph_url"] = dead, dead
	moved, _ := json.Marshal(cfg)
	if _, err := w.m.UpdateSource(ctx, w.owner, "s", manage.SourceInput{Config: moved, Secret: []byte(w.srv.Credentials().ClientSecret)}); err != nil {
		t.Fatal(err)
	}
	// Bounded, so that a retrying client fails the test instead of
	// hanging it: the run must end long before.
	bounded, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	run, err := w.m.SyncNow(bounded, w.owner, "s", manage.SyncRequest{})
	if bounded.Err() != nil {
		t.Fatal("a run against a refused port was still retrying after 60 seconds")
	}
	e := wantKind(t, err, manage.SourceFailed, "a refused port")
	if !strings.Contains(e.Message, "refused") || run.Outcome != directory.OutcomeFailed {
		t.Fatalf("%s; run %s %s", e.Message, run.Outcome, run.Reason)
	}
	v, _ := w.m.Source(ctx, w.owner, "s")
	if v.Status.State != manage.StateLastRunFailed || !strings.Contains(v.Status.Message, "refused") {
		t.Fatalf("status after a refused port: %+v", v.Status)
	}
}
