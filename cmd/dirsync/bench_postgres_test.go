package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// TestBenchSmallOnPostgres runs the benchmark with --db postgres://...: the
// full sync goes into a scratch database created beside the one the URL
// names and dropped at the end, and the figures add the server's CPU time.
func TestBenchSmallOnPostgres(t *testing.T) {
	dsn := os.Getenv("DIRSYNC_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("DIRSYNC_TEST_POSTGRES is not set; set it to a PostgreSQL URL (postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	scratch := func() []string {
		rows, err := admin.QueryContext(t.Context(), `SELECT datname FROM pg_database WHERE datname LIKE 'dirsync\_bench\_%' ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		return names
	}
	before := scratch()
	e := newEnv(t)
	cmd := exec.Command(binary, "bench", "--db", dsn, "--users", "300", "--groups", "15", "--churn", "1", "--json")
	cmd.Env = e.env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var res struct {
		Store     string   `json:"store"`
		ServerCPU *float64 `json:"server_cpu_seconds"`
		DBSizeMB  float64  `json:"db_size_mb"`
		Counts    struct {
			Created int `json:"created"`
		} `json:"counts"`
		Delta struct {
			Kind   string `json:"kind"`
			Counts struct {
				Updated int `json:"updated"`
			} `json:"counts"`
		} `json:"delta"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Store != "postgres" || res.Counts.Created != 315 || res.Delta.Kind != "delta" || res.Delta.Counts.Updated != 3 || res.DBSizeMB <= 0 {
		t.Fatalf("bench result %+v\n%s", res, out)
	}
	// The server runs on this machine in the tests: its sessions' CPU time is read.
	if res.ServerCPU == nil || *res.ServerCPU <= 0 {
		t.Fatalf("no CPU time of the server's sessions: %s", out)
	}
	// The scratch database is gone.
	if after := scratch(); len(after) != len(before) {
		t.Fatalf("scratch databases before %v, after %v", before, after)
	}
}
