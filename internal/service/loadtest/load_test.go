// Package loadtest checks that the API keeps answering while a large sync
// runs: a bounded number of clients call it on loopback for a bounded
// time, and the test reports throughput and latency percentiles.
package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/service"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestAPIUnderLoadDuringSync(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	users := envInt("DIRSYNC_LOAD_USERS", 20000)
	seconds := envInt("DIRSYNC_LOAD_SECONDS", 10)
	clients := envInt("DIRSYNC_LOAD_CLIENTS", 8)

	ctx := t.Context()
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	p, err := factory.Open(ctx, factory.Options{DB: filepath.Join(t.TempDir(), "load.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	st := p.Store
	svc := service.New(p, service.Config{Workers: 1}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()

	tenant, err := entraemu.New(entraemu.Options{Users: users, Groups: users / 100, Seed: 11})
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
	m := p.Manager
	if _, err := m.CreateAccount(ctx, manage.DeploymentOperator(), "load"); err != nil {
		t.Fatal(err)
	}
	owner, err := m.Operator(ctx, "load")
	if err != nil {
		t.Fatal(err)
	}
	name := "big"
	src, err := m.AddSource(ctx, owner, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: cfg, Secret: []byte(c.ClientSecret)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.CreateToken(ctx, owner, "load", "read_only")
	if err != nil {
		t.Fatal(err)
	}
	text := tok.Token
	acc := directory.Account{ID: owner.AccountID}
	if _, err := m.RequestSync(ctx, owner, src.ID, manage.SyncRequest{Full: true}); err != nil {
		t.Fatalf("start sync: %v", err)
	}
	syncStart := time.Now()

	paths := []string{"/api/v1/users?limit=50", "/api/v1/sources", "/api/v1/events?limit=100", "/api/v1/runs", "/api/v1/groups?limit=50"}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      atomic.Int64
		during    atomic.Int64
	)
	loadCtx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for n := i; loadCtx.Err() == nil; n++ {
				req, _ := http.NewRequestWithContext(loadCtx, "GET", srv.URL+paths[n%len(paths)], nil)
				req.Header.Set("Authorization", "Bearer "+text)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if loadCtx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				if resp.StatusCode != 200 {
					errs.Add(1)
				}
				mine = append(mine, d)
				if svc.Runner.Busy(src.ID) {
					during.Add(1)
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Duration(seconds) * time.Second

	// Let the sync finish (bounded), to report how long it took.
	deadline := time.Now().Add(120 * time.Second)
	for svc.Runner.Busy(src.ID) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	runs, _ := st.Runs(ctx, acc.ID, src.ID, 1)
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(float64(len(latencies))*p))]
	}
	report := fmt.Sprintf("%d clients, %s: %d requests (%.0f/s), %d during the sync, %d errors; latency p50 %s p95 %s p99 %s max %s",
		clients, elapsed, len(latencies), float64(len(latencies))/elapsed.Seconds(), during.Load(), errs.Load(),
		pct(0.50), pct(0.95), pct(0.99), pct(1))
	if len(runs) > 0 {
		report += fmt.Sprintf("; sync of %d users, %d groups: %s in %s", runs[0].SourceUsers, runs[0].SourceGroups, runs[0].Outcome,
			runs[0].FinishedAt.Sub(runs[0].StartedAt).Round(time.Millisecond))
	}
	t.Log(report)
	if errs.Load() > 0 {
		t.Errorf("%d requests failed", errs.Load())
	}
	if during.Load() < 100 {
		t.Errorf("only %d requests answered while the sync ran (sync started %s before the load ended)", during.Load(), time.Since(syncStart))
	}
	if p99 := pct(0.99); p99 > 2*time.Second {
		t.Errorf("p99 latency %s: the API stalls during the sync", p99)
	}
	if len(runs) == 0 || runs[0].Outcome != directory.OutcomeSucceeded {
		t.Errorf("sync did not succeed: %+v", runs)
	}
}
