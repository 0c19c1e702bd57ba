// Package loadtest checks that the API keeps answering while a large sync
// runs: a bounded number of clients call it on loopback for a bounded
// time, and the test reports throughput and latency percentiles.
package loadtest

import (
	"context"
	"crypto/rand"
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

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"

	"encoding/json"
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
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "load.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := make([]byte, 32)
	rand.Read(key)
	box, _ := secret.New(key)
	svc := service.New(st, box, service.Config{Workers: 1}, slog.New(slog.DiscardHandler))
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
	sealed, _ := box.Seal([]byte(c.ClientSecret))
	acc := directory.Account{Name: "load"}
	src := directory.Source{Name: "big", Kind: directory.KindEntra, Config: cfg, Secret: sealed, Enabled: true}
	text, hash, prefix, _ := api.NewToken()
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		src.AccountID = acc.ID
		if err := tx.CreateSource(ctx, &src); err != nil {
			return err
		}
		stx := tx
		return stx.CreateToken(ctx, &store.APIToken{AccountID: acc.ID, Role: string(api.RoleReadOnly), Hash: hash, Prefix: prefix})
	})
	if err != nil {
		t.Fatal(err)
	}
	if status, err := svc.Runner.Request(src, api.ModeFull, "api"); err != nil || status != "started" {
		t.Fatalf("start sync: %s %v", status, err)
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
				if svc.Runner.Running(src.ID) {
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
	for svc.Runner.Running(src.ID) && time.Now().Before(deadline) {
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
