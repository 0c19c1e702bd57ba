package service

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
)

// TestShutdownCancelsARunCleanly stops the service while a slow sync is
// reading: after the grace period the run is cancelled and the directory
// holds nothing of it.
func TestShutdownCancelsARunCleanly(t *testing.T) {
	st := newStore(t)
	key := make([]byte, 32)
	rand.Read(key)
	box, _ := secret.New(key)
	tenant, err := entraemu.New(entraemu.Options{Users: 500, Groups: 5, Seed: 5, Latency: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	emu, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	c := emu.Credentials()
	cfg, _ := json.Marshal(entra.Config{Tenant: c.TenantID, ClientID: c.ClientID, Cloud: "custom", AuthMethod: "secret",
		AuthorityURL: c.AuthorityURL, GraphURL: c.GraphURL, CAPEM: string(emu.CAPEM())})
	acc := directory.Account{Name: "a"}
	src := addSource(t, st, &acc, "slow", true, schedule.Schedule{Kind: schedule.None}, time.Time{})
	src.Config = cfg
	src.Secret, _ = box.Seal([]byte(c.ClientSecret))
	if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.UpdateSource(t.Context(), src) }); err != nil {
		t.Fatal(err)
	}

	svc := New(st, box, Config{ShutdownGrace: 300 * time.Millisecond, Tick: time.Hour}, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, ln) }()
	if status, err := svc.Runner.Request(src, "full", "api"); err != nil || status != "started" {
		t.Fatalf("request: %s %v", status, err)
	}
	time.Sleep(300 * time.Millisecond) // reading, slowly
	stopped := time.Now()
	stop()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if took := time.Since(stopped); took > 10*time.Second {
		t.Fatalf("shutdown took %s", took)
	}
	page, err := st.Users(t.Context(), acc.ID, store.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Fatalf("a cancelled run left %d users", len(page.Items))
	}
	if svc.Runner.Running(src.ID) {
		t.Fatal("run still registered")
	}
}
