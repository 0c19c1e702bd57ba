package e2e

import (
	"bytes"
	"encoding/json"
	"math"
	"os/exec"
	"testing"
)

// TestBenchReportsTheFloorAndItsRatio runs "dirsync bench --json" as a user
// would, on a small tenant with latency, and checks its figures against
// each other: the pages it counted make the floor, the wall time is at
// least the floor, and the directory holds what the tenant has.
func TestBenchReportsTheFloorAndItsRatio(t *testing.T) {
	cmd := exec.Command(dirsyncBinary(t), "bench", "--users", "2500", "--groups", "20", "--latency", "20ms", "--churn", "1", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	var res struct {
		Wall     float64          `json:"wall_seconds"`
		Read     float64          `json:"read_seconds"`
		Requests int              `json:"graph_requests"`
		Pages    map[string]int64 `json:"pages"`
		Floor    float64          `json:"floor_seconds"`
		Ratio    float64          `json:"floor_ratio"`
		RSS      float64          `json:"peak_rss_mb"`
		DB       float64          `json:"db_size_mb"`
		Load     []float64        `json:"load_average"`
		Counts   struct {
			Created int `json:"created"`
		} `json:"counts"`
		Delta struct {
			Kind  string  `json:"kind"`
			Floor float64 `json:"floor_seconds"`
			Ratio float64 `json:"floor_ratio"`
		} `json:"delta"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, stdout.String())
	}
	// 2,500 users are 3 pages of 999: the users listing is a chain of 3.
	if res.Pages["users"] != 3 {
		t.Fatalf("pages %v, want 3 of users", res.Pages)
	}
	var chain, total int64
	for _, n := range res.Pages {
		chain, total = max(chain, n), total+n
	}
	if want := float64(1+chain) * 0.020; math.Abs(res.Floor-want) > 1e-9 {
		t.Fatalf("floor %.3f s, want (1 + %d) × 20 ms", res.Floor, chain)
	}
	if int(total) != res.Requests {
		t.Fatalf("pages %v add up to %d, the run made %d requests", res.Pages, total, res.Requests)
	}
	if res.Wall < res.Floor || math.Abs(res.Ratio-res.Wall/res.Floor) > 1e-9 || res.Read <= 0 || res.Read > res.Wall {
		t.Fatalf("wall %.3f s, reads done %.3f s, floor %.3f s, ratio %.3f", res.Wall, res.Read, res.Floor, res.Ratio)
	}
	if res.Counts.Created != 2520 || res.RSS <= 0 || res.DB <= 0 || len(res.Load) != 3 {
		t.Fatalf("figures %+v", res)
	}
	if res.Delta.Kind != "delta" || res.Delta.Floor <= 0 || res.Delta.Ratio <= 0 {
		t.Fatalf("delta %+v", res.Delta)
	}
}
