package service

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
)

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}

// world is a service on a fresh database, its clock fake, and an emulated
// tenant (whose latency the test chooses).
type world struct {
	t     *testing.T
	clock *clock.Fake
	parts *factory.Parts
	svc   *Service
	emu   *entraemu.Server
	owner manage.Actor
}

func newWorld(t *testing.T, opts ...func(*entraemu.Options, *Config)) *world {
	t.Helper()
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	eo := entraemu.Options{Users: 5, Groups: 1, Seed: 9}
	cfg := Config{Workers: 1}
	for _, o := range opts {
		o(&eo, &cfg)
	}
	w := &world{t: t, clock: clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))}
	tenant, err := entraemu.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	if w.emu, err = tenant.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.emu.Close() })
	w.parts, err = factory.Open(t.Context(), factory.Options{DB: filepath.Join(t.TempDir(), "s.db"), Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.parts.Close() })
	cfg.Clock = w.clock
	w.svc = New(w.parts, cfg, slog.New(slog.NewTextHandler(&testLog{t}, &slog.HandlerOptions{Level: slog.LevelInfo})))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		w.svc.Runner.Shutdown(ctx)
	})
	if w.owner, err = w.parts.Manager.Operator(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) admin() manage.Actor { return w.owner }

// testLog writes the service's log to the test's, shown when it fails.
type testLog struct{ t *testing.T }

func (l *testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// config is the emulator's source settings with extra fields.
func (w *world) config(extra map[string]any) json.RawMessage { return emulatorConfig(w.emu, extra) }

// emulatorConfig is the settings of a source reading emu, with extra fields.
func emulatorConfig(emu *entraemu.Server, extra map[string]any) json.RawMessage {
	c := emu.Credentials()
	raw, _ := json.Marshal(entra.Config{Tenant: c.TenantID, ClientID: c.ClientID, Cloud: "custom", AuthMethod: "secret",
		AuthorityURL: c.AuthorityURL, GraphURL: c.GraphURL, CAPEM: string(emu.CAPEM())})
	var m map[string]any
	json.Unmarshal(raw, &m)
	maps.Copy(m, extra)
	raw, _ = json.Marshal(m)
	return raw
}

func (w *world) addSource(name string, extra map[string]any) manage.SourceView {
	w.t.Helper()
	none := schedule.Schedule{Kind: schedule.None}
	v, err := w.parts.Manager.AddSource(w.t.Context(), w.owner, manage.SourceInput{Name: &name, Kind: directory.KindEntra,
		Config: w.config(extra), Secret: []byte(w.emu.Credentials().ClientSecret), Schedule: &none})
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

func (w *world) setConfig(src manage.SourceView, extra map[string]any, secret string) {
	w.t.Helper()
	if _, err := w.parts.Manager.UpdateSource(w.t.Context(), w.owner, src.ID, manage.SourceInput{Config: w.config(extra), Secret: []byte(secret)}); err != nil {
		w.t.Fatal(err)
	}
}

// waitRun waits until the run has ended, and the runner is done with it
// (what follows a run, its source's health, is recorded), and returns it.
func (w *world) waitRun(id string) directory.Run {
	w.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		run, err := w.parts.Manager.Run(w.t.Context(), w.owner, id)
		if err != nil {
			w.t.Fatal(err)
		}
		if run.Outcome != directory.OutcomeQueued && run.Outcome != directory.OutcomeRunning && !w.svc.Runner.Busy(run.SourceID) {
			return run
		}
	}
	w.t.Fatalf("run %s did not end", id)
	return directory.Run{}
}
