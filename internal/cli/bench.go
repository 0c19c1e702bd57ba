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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
)

// benchResult is what "dirsync bench" measures.
type benchResult struct {
	Users       int     `json:"users"`
	Groups      int     `json:"groups"`
	LatencyMS   int64   `json:"latency_ms"`
	WallSeconds float64 `json:"wall_seconds"`
	// ReadSeconds is when the last page was read, from the run's start:
	// what follows it is the apply that did not overlap the reads.
	ReadSeconds float64 `json:"read_seconds"`
	Requests    int     `json:"graph_requests"`
	Throttled   int     `json:"throttled"`
	benchFloor
	// PeakRSSMB is this process's peak resident memory: the sync alone, since
	// the emulated tenant runs in another process.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// CPUSeconds is the CPU time (user and system) this process spent on
	// the full sync: a figure a busy machine disturbs less than wall time.
	CPUSeconds float64 `json:"cpu_seconds"`
	// Store is "sqlite" or "postgres"; ServerCPUSeconds is the CPU time
	// PostgreSQL's sessions on the scratch database spent on the full
	// sync, where the server runs on this machine.
	Store            string           `json:"store"`
	ServerCPUSeconds *float64         `json:"server_cpu_seconds,omitempty"`
	DBSizeMB         float64          `json:"db_size_mb"`
	Counts           directory.Counts `json:"counts"`
	SourceSeen       [2]int           `json:"source_users_groups"`
	// Load is the machine's load average (1, 5, 15 minutes) at the end:
	// figures taken on a busy machine say so.
	Load []float64 `json:"load_average,omitempty"`
	// Delta is the incremental run after the churn, when asked for.
	Delta *deltaBench `json:"delta,omitempty"`
}

// benchFloor is the least wall time the run's reads allow: (1 + the
// longest chain of dependent pages) × latency, the 1 being the sign-in,
// counted when the run signed in (a run that finds its token still valid,
// as an incremental run after the full one does, has none). The
// connector reads each listing (users, the groups' delta with members)
// one page after the other, and the listings side by side, so the
// longest listing is the chain.
type benchFloor struct {
	// Pages are the Graph requests the run made, by kind.
	Pages map[string]int64 `json:"pages"`
	// Logins are the requests the run made to the login endpoints, by
	// kind: a sign-in is one round trip of the floor, however many.
	Logins       map[string]int64 `json:"logins,omitempty"`
	FloorSeconds float64          `json:"floor_seconds"`
	// FloorRatio is the wall time over the floor (0 without latency).
	FloorRatio float64 `json:"floor_ratio"`
}

func newBenchFloor(before, after entraemu.Stats, latency time.Duration, wall float64) benchFloor {
	f := benchFloor{Pages: map[string]int64{}}
	var chain int64
	for k, n := range after.ByKind {
		if d := n - before.ByKind[k]; d > 0 {
			f.Pages[k] = d
			chain = max(chain, d)
		}
	}
	for k, n := range after.LoginByKind {
		if d := n - before.LoginByKind[k]; d > 0 {
			if f.Logins == nil {
				f.Logins = map[string]int64{}
			}
			f.Logins[k] = d
		}
	}
	if f.Logins["token"] > 0 {
		chain++
	}
	f.FloorSeconds = float64(chain) * latency.Seconds()
	if f.FloorSeconds > 0 {
		f.FloorRatio = wall / f.FloorSeconds
	}
	return f
}

type deltaBench struct {
	Churn       json.RawMessage `json:"churn"`
	WallSeconds float64         `json:"wall_seconds"`
	// ReadSeconds is when the read ended, from the run's start: what
	// follows it is the apply, which did not overlap the reads.
	ReadSeconds float64 `json:"read_seconds"`
	// CPUSeconds is the CPU time (user and system) of the incremental run.
	CPUSeconds float64 `json:"cpu_seconds"`
	Requests   int     `json:"graph_requests"`
	benchFloor
	Kind   string           `json:"kind"`
	Counts directory.Counts `json:"counts"`
}

// benchOptions are the flags of "dirsync bench".
type benchOptions struct {
	users, groups int
	latency       time.Duration
	asJSON        bool
	churn         float64
	cpuProfile    string
	// deltaProfile is where the incremental run's CPU profile goes.
	deltaProfile string
}

func (a *app) benchCommand() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a full sync of a large emulated tenant (wall time, Graph requests, the floor, peak memory)",
		Long: `Start an emulated Entra ID tenant of the given size in a child process, sync
it into a fresh database, and report the wall time,
the Graph requests made, the floor the reads allow ((the sign-in, when
the run signs in, + the longest chain of dependent pages) × latency) and
the wall time's ratio to it, this
process's peak resident memory and the database's size. With --churn, then
change that share of the tenant and measure the incremental run. Progress
goes to standard error; --json prints the figures for programs.

The fresh database is a SQLite file in a temporary directory, or, when
--db (or DIRSYNC_DB) names a postgres:// URL, a new database
dirsync_bench_RANDOM created on that server (the role needs CREATEDB) and
dropped at the end: the database the URL names is never touched. On
PostgreSQL the figures add the CPU time of the server's sessions, read
from /proc when the server runs on this machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.bench(cmd, o) },
	}
	f := cmd.Flags()
	f.IntVar(&o.users, "users", 100000, "users in the emulated tenant")
	f.IntVar(&o.groups, "groups", 5000, "groups in the emulated tenant")
	f.DurationVar(&o.latency, "latency", 0, "latency the emulator adds to every request")
	f.BoolVar(&o.asJSON, "json", false, "print JSON")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the syncs to this file")
	f.StringVar(&o.deltaProfile, "delta-cpuprofile", "", "write a CPU profile of the incremental run alone to this file")
	f.Float64Var(&o.churn, "churn", 1, "then change this percentage of users and of memberships, and measure the incremental sync (0: skip)")
	return cmd
}

// benchEnv is a running benchmark: the emulator in its child process and
// the manager over the fresh database.
type benchEnv struct {
	m     *manage.Manager
	actor manage.Actor
	creds entraemu.Credentials
	ca    []byte
	db    string
	// pg is the scratch PostgreSQL database, when the run is on one.
	pg *pgBench
}

func (a *app) bench(cmd *cobra.Command, o benchOptions) error {
	ctx := cmd.Context()
	if o.users < 0 || o.groups < 0 || o.latency < 0 || o.churn < 0 || o.churn > 100 {
		return usageErr("--users, --groups and --latency must not be negative; --churn is a percentage (0 to 100)")
	}
	if o.deltaProfile != "" && (o.cpuProfile != "" || o.churn == 0) {
		return usageErr("--delta-cpuprofile profiles the incremental run alone: it needs --churn, and not --cpuprofile")
	}
	dir, err := os.MkdirTemp("", "dirsync-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	creds, stop, err := startEmulatorProcess(ctx, dir, o.users, o.groups, o.latency)
	if err != nil {
		return err
	}
	defer stop()
	env, err := a.benchSetup(cmd, dir, creds)
	if env != nil && env.pg != nil {
		defer env.pg.drop()
	}
	if err != nil {
		return err
	}
	stopProfile, err := startProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	res := benchResult{Users: o.users, Groups: o.groups, LatencyMS: o.latency.Milliseconds()}
	if err := a.benchFull(ctx, env, o, &res); err != nil {
		return err
	}
	if o.churn > 0 {
		if res.Delta, err = a.benchDelta(ctx, env, o); err != nil {
			return err
		}
		res.PeakRSSMB = peakRSSMB()
	}
	res.Load = loadAverage()
	if o.asJSON {
		return a.printJSON(res)
	}
	a.printBench(o, res)
	return nil
}

// benchSetup opens the fresh database and adds the emulated tenant as a source.
func (a *app) benchSetup(cmd *cobra.Command, dir string, creds entraemu.Credentials) (*benchEnv, error) {
	if err := a.loadSettings(cmd); err != nil {
		return nil, err
	}
	env := &benchEnv{}
	if db := a.settings.String(config.DB); factory.IsPostgres(db) {
		var err error
		if env.pg, err = newPGBench(cmd.Context(), db); err != nil {
			return nil, err
		}
		a.settings.Override(config.DB, env.pg.scratch.URL)
	} else {
		a.settings.Override(config.DB, filepath.Join(dir, "bench.db"))
	}
	a.settings.Override(config.KeyFile, filepath.Join(dir, "bench.key"))
	m, actor, err := a.open(cmd)
	if err != nil {
		return env, err
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return env, err
	}
	name, sched := benchSource, schedule.Schedule{Kind: schedule.None}
	if _, err := m.AddSource(cmd.Context(), actor, manage.SourceInput{Name: &name, Kind: directory.KindEntra,
		Config: emulatorSettings(creds, ca), Secret: []byte(creds.ClientSecret), Schedule: &sched}); err != nil {
		return env, err
	}
	env.m, env.actor, env.creds, env.ca, env.db = m, actor, creds, ca, a.parts.DB
	return env, nil
}

const benchSource = "bench"

// benchFull measures the first, full sync.
func (a *app) benchFull(ctx context.Context, env *benchEnv, o benchOptions, res *benchResult) error {
	before, err := emulatorStats(ctx, env.creds, env.ca)
	if err != nil {
		return err
	}
	if env.pg != nil {
		env.pg.start(ctx)
	}
	start, cpu0 := time.Now(), cpuSeconds()
	var readDone atomic.Int64
	show := a.progress(benchSource, true)
	req := manage.SyncRequest{Trigger: "bench", Progress: func(p directory.RunProgress) {
		if p.Phase == "apply" {
			readDone.CompareAndSwap(0, int64(time.Since(start)))
		}
		show(p)
	}}
	run, err := env.m.SyncNow(ctx, env.actor, benchSource, req)
	if err != nil {
		return err
	}
	res.WallSeconds, res.CPUSeconds = time.Since(start).Seconds(), cpuSeconds()-cpu0
	res.Store = "sqlite"
	if env.pg != nil {
		res.Store, res.ServerCPUSeconds = "postgres", env.pg.stop(ctx)
	}
	res.ReadSeconds = time.Duration(readDone.Load()).Seconds()
	after, err := emulatorStats(ctx, env.creds, env.ca)
	if err != nil {
		return err
	}
	res.benchFloor = newBenchFloor(before, after, o.latency, res.WallSeconds)
	res.Requests, res.Throttled, res.PeakRSSMB = run.Requests, run.Throttled, peakRSSMB()
	res.Counts, res.SourceSeen = run.Counts, [2]int{run.SourceUsers, run.SourceGroups}
	if env.pg != nil {
		if n, err := env.pg.scratch.Size(ctx); err == nil {
			res.DBSizeMB = float64(n) / (1 << 20)
		}
	} else if fi, err := os.Stat(env.db); err == nil {
		res.DBSizeMB = float64(fi.Size()) / (1 << 20)
	}
	return nil
}

// benchDelta churns the tenant and measures the incremental sync.
func (a *app) benchDelta(ctx context.Context, env *benchEnv, o benchOptions) (*deltaBench, error) {
	changed, err := churnEmulator(ctx, env.creds, env.ca, o.churn)
	if err != nil {
		return nil, err
	}
	before, err := emulatorStats(ctx, env.creds, env.ca)
	if err != nil {
		return nil, err
	}
	stopProfile, err := startProfile(o.deltaProfile)
	if err != nil {
		return nil, err
	}
	start, cpu0 := time.Now(), cpuSeconds()
	var readDone atomic.Int64
	show := a.progress(benchSource, true)
	run, err := env.m.SyncNow(ctx, env.actor, benchSource, manage.SyncRequest{Trigger: "bench", Progress: func(p directory.RunProgress) {
		if p.Phase == "apply" {
			readDone.CompareAndSwap(0, int64(time.Since(start)))
		}
		show(p)
	}})
	wall, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
	stopProfile()
	if err != nil {
		return nil, err
	}
	after, err := emulatorStats(ctx, env.creds, env.ca)
	if err != nil {
		return nil, err
	}
	return &deltaBench{Churn: changed, WallSeconds: wall, ReadSeconds: time.Duration(readDone.Load()).Seconds(), CPUSeconds: cpu, Requests: run.Requests, benchFloor: newBenchFloor(before, after, o.latency, wall),
		Kind: string(run.Kind), Counts: run.Counts}, nil
}

func (a *app) printBench(o benchOptions, res benchResult) {
	a.printf("Full sync of %d users / %d groups (latency %s): %.2f s (reads done at %.2f s), %d Graph requests (%d throttled)\n",
		o.users, o.groups, o.latency, res.WallSeconds, res.ReadSeconds, res.Requests, res.Throttled)
	if res.FloorSeconds > 0 {
		a.printf("  floor %.2f s, ratio %.2f\n", res.FloorSeconds, res.FloorRatio)
	}
	a.printf("  CPU %.2f s, peak RSS %.0f MiB, database (%s) %.0f MiB\n", res.CPUSeconds, res.PeakRSSMB, res.Store, res.DBSizeMB)
	if res.ServerCPUSeconds != nil {
		a.printf("  PostgreSQL's sessions: CPU %.2f s\n", *res.ServerCPUSeconds)
	}
	if d := res.Delta; d != nil {
		a.printf("%s sync after churn %s: %.2f s (reads done at %.2f s, CPU %.2f s), %d Graph requests, %d updated, %d members added, %d removed\n",
			d.Kind, d.Churn, d.WallSeconds, d.ReadSeconds, d.CPUSeconds, d.Requests, d.Counts.Updated, d.Counts.MembersAdded, d.Counts.MembersRemoved)
		if d.FloorSeconds > 0 {
			a.printf("  floor %.2f s, ratio %.2f\n", d.FloorSeconds, d.FloorRatio)
		}
	}
	if len(res.Load) > 0 {
		a.printf("load average %.2f %.2f %.2f\n", res.Load[0], res.Load[1], res.Load[2])
	}
}

// loadAverage reads the machine's load average (Linux), or nil.
func loadAverage() []float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	var l [3]float64
	if _, err := fmt.Sscan(string(data), &l[0], &l[1], &l[2]); err != nil {
		return nil
	}
	return l[:]
}

// emulatorClient calls the emulator's own endpoints, trusting its CA.
func emulatorClient(caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// emulatorStats reads the request counters of the emulator in the child process.
func emulatorStats(ctx context.Context, creds entraemu.Credentials, caPEM []byte) (entraemu.Stats, error) {
	var st entraemu.Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, creds.GraphURL+"/_emulator/stats", nil)
	if err != nil {
		return st, err
	}
	req.Header.Set("Authorization", "Bearer "+creds.ClientSecret)
	resp, err := emulatorClient(caPEM).Do(req)
	if err != nil {
		return st, fmt.Errorf("read the emulated tenant's counters: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		return st, fmt.Errorf("read the emulated tenant's counters: %s: %s", resp.Status, data)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("read the emulated tenant's counters: %w", err)
	}
	return st, nil
}

// churnEmulator asks the emulator in the child process to change a share of
// its tenant.
func churnEmulator(ctx context.Context, creds entraemu.Credentials, caPEM []byte, percent float64) (json.RawMessage, error) {
	hc := emulatorClient(caPEM)
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

// startProfile starts a CPU profile into the file at path ("": none) and
// returns what stops it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// cpuSeconds is the CPU time this process has used, user and system.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports kilobytes
}
