package service

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
)

// TestRotatedKeyMakesServeNotReady is issue 10's point 9 for a running
// serve: once another process rotated the master key (dirsync key
// rotate), the key this serve holds opens nothing. It is then not ready
// (/readyz 503 naming the key), and a sync request is refused at once,
// recorded with its reason, instead of 202 and a failure later.
func TestRotatedKeyMakesServeNotReady(t *testing.T) {
	w := newWorld(t)
	src := w.addSource("s", nil)
	srv := httptest.NewServer(w.svc.Handler())
	defer srv.Close()
	w.svc.ready.Store(true)
	readyz := func() (int, string) {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := readyz(); code != http.StatusOK {
		t.Fatalf("before the rotation: %d %s", code, body)
	}

	// Another process rotates the key.
	db := strings.TrimSuffix(w.parts.KeyFile, filepath.Ext(w.parts.KeyFile)) + ".db"
	other, err := factory.Open(t.Context(), factory.Options{DB: db, KeyFile: w.parts.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := factory.RotateKey(t.Context(), other, ""); err != nil {
		t.Fatal(err)
	}

	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "master key") || !strings.Contains(body, "rotated") {
		t.Fatalf("after the rotation: %d %s", code, body)
	}
	run, err := w.parts.Manager.RequestSync(t.Context(), w.owner, src.ID, manage.SyncRequest{})
	e := manage.AsError(err)
	if manage.KindOf(err) != manage.Unavailable || e.RunID == "" || e.RunID != run.ID {
		t.Fatalf("sync request after the rotation: %+v, %v", run, err)
	}
	stored, err := w.parts.Manager.Run(t.Context(), w.owner, run.ID)
	if err != nil || stored.Outcome != directory.OutcomeCancelled || !strings.Contains(stored.Reason, "rotated") {
		t.Fatalf("the refused request as recorded: %+v, %v", stored, err)
	}
}

// TestReadyzSaysTheDatabaseIsUnreachable: a serve whose database went away
// is not ready, and says it is the database, not the key.
func TestReadyzSaysTheDatabaseIsUnreachable(t *testing.T) {
	w := newWorld(t)
	w.addSource("s", nil)
	srv := httptest.NewServer(w.svc.Handler())
	defer srv.Close()
	w.svc.ready.Store(true)
	w.parts.Store.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "database unreachable") {
		t.Fatalf("readyz with the database closed: %d %s", resp.StatusCode, body)
	}
}
