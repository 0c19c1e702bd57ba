package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
)

// benchResult is what "dirsync bench" measures.
type benchResult struct {
	Users       int     `json:"users"`
	Groups      int     `json:"groups"`
	LatencyMS   int64   `json:"latency_ms"`
	WallSeconds float64 `json:"wall_seconds"`
	Requests    int     `json:"graph_requests"`
	Throttled   int     `json:"throttled"`
	// PeakRSSMB is this process's peak resident memory: the sync alone, since
	// the emulated tenant runs in another process.
	PeakRSSMB  float64          `json:"peak_rss_mb"`
	DBSizeMB   float64          `json:"db_size_mb"`
	Counts     directory.Counts `json:"counts"`
	SourceSeen [2]int           `json:"source_users_groups"`
	// Delta is the incremental run after the churn, when asked for.
	Delta *deltaBench `json:"delta,omitempty"`
}

type deltaBench struct {
	Churn       json.RawMessage  `json:"churn"`
	WallSeconds float64          `json:"wall_seconds"`
	Requests    int              `json:"graph_requests"`
	Kind        string           `json:"kind"`
	Counts      directory.Counts `json:"counts"`
}

func (a *app) benchCommand() *cobra.Command {
	var (
		users, groups int
		latency       time.Duration
		asJSON        bool
		churn         float64
		cpuProfile    string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a full sync of a large emulated tenant (wall time, Graph requests, peak memory)",
		Long: `Start an emulated Entra ID tenant of the given size in a child process, sync
it into a fresh database in a temporary directory, and report the wall time,
the Graph requests made, and this process's peak resident memory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir, err := os.MkdirTemp("", "dirsync-bench")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			creds, stop, err := startEmulatorProcess(ctx, dir, users, groups, latency)
			if err != nil {
				return err
			}
			defer stop()
			if err := a.loadSettings(cmd); err != nil {
				return err
			}
			a.settings.Override(config.DB, filepath.Join(dir, "bench.db"))
			a.settings.Override(config.KeyFile, filepath.Join(dir, "bench.key"))
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
			if err != nil {
				return err
			}
			name, sched := "bench", schedule.Schedule{Kind: schedule.None}
			if _, err := m.AddSource(ctx, actor, manage.SourceInput{Name: &name, Kind: directory.KindEntra,
				Config: emulatorSettings(creds, ca), Secret: []byte(creds.ClientSecret), Schedule: &sched}); err != nil {
				return err
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			start := time.Now()
			req := manage.SyncRequest{Trigger: "bench", Progress: a.progress(name, !asJSON)}
			run, err := m.SyncNow(ctx, actor, name, req)
			if err != nil {
				return err
			}
			res := benchResult{Users: users, Groups: groups, LatencyMS: latency.Milliseconds(), WallSeconds: time.Since(start).Seconds(),
				Requests: run.Requests, Throttled: run.Throttled, PeakRSSMB: peakRSSMB(), Counts: run.Counts,
				SourceSeen: [2]int{run.SourceUsers, run.SourceGroups}}
			if fi, err := os.Stat(a.parts.DB); err == nil {
				res.DBSizeMB = float64(fi.Size()) / (1 << 20)
			}
			if churn > 0 {
				changed, err := churnEmulator(ctx, creds, ca, churn)
				if err != nil {
					return err
				}
				start := time.Now()
				drun, err := m.SyncNow(ctx, actor, name, req)
				if err != nil {
					return err
				}
				res.Delta = &deltaBench{Churn: changed, WallSeconds: time.Since(start).Seconds(), Requests: drun.Requests, Kind: string(drun.Kind), Counts: drun.Counts}
				res.PeakRSSMB = peakRSSMB()
			}
			if asJSON {
				return a.printJSON(res)
			}
			a.printf("Full sync of %d users / %d groups (latency %s): %.1f s, %d Graph requests (%d throttled), peak RSS %.0f MB, database %.0f MB\n",
				users, groups, latency, res.WallSeconds, res.Requests, res.Throttled, res.PeakRSSMB, res.DBSizeMB)
			if d := res.Delta; d != nil {
				a.printf("%s sync after churn %s: %.2f s, %d Graph requests, %d updated, %d members added, %d removed\n",
					d.Kind, d.Churn, d.WallSeconds, d.Requests, d.Counts.Updated, d.Counts.MembersAdded, d.Counts.MembersRemoved)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&users, "users", 100000, "users in the emulated tenant")
	f.IntVar(&groups, "groups", 5000, "groups in the emulated tenant")
	f.DurationVar(&latency, "latency", 0, "latency the emulator adds to every request")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the syncs to this file")
	f.Float64Var(&churn, "churn", 1, "then change this percentage of users and of memberships, and measure the incremental sync (0: skip)")
	return cmd
}

// churnEmulator asks the emulator in the child process to change a share of
// its tenant.
func churnEmulator(ctx context.Context, creds entraemu.Credentials, caPEM []byte, percent float64) (json.RawMessage, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body := fmt.Sprintf(`{"seed":1,"user_percent":%g,"member_percent":%g}`, percent, percent)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, creds.GraphURL+"/_emulator/churn", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+creds.ClientSecret)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("churn the emulated tenant: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("churn the emulated tenant: %s: %s", resp.Status, data)
	}
	return json.RawMessage(bytes.TrimSpace(data)), nil
}

// startEmulatorProcess runs "dirsync emulate entra" as a child process and
// waits for its credentials.
func startEmulatorProcess(ctx context.Context, dir string, users, groups int, latency time.Duration) (entraemu.Credentials, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return entraemu.Credentials{}, nil, err
	}
	credFile := filepath.Join(dir, "creds.json")
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, self, "emulate", "entra", "--listen", "127.0.0.1:0", "--users", fmt.Sprint(users),
		"--groups", fmt.Sprint(groups), "--latency", latency.String(), "--ca-out", filepath.Join(dir, "ca.pem"), "--credentials-out", credFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		return entraemu.Credentials{}, nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() { cancel(); <-exited }
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); {
		var c entraemu.Credentials
		if data, err := os.ReadFile(credFile); err == nil && json.Unmarshal(data, &c) == nil && c.ClientSecret != "" {
			return c, stop, nil
		}
		select {
		case <-exited:
			return entraemu.Credentials{}, nil, fmt.Errorf("emulator exited:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	stop()
	return entraemu.Credentials{}, nil, fmt.Errorf("emulator did not start:\n%s", out.String())
}

func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports kilobytes
}
