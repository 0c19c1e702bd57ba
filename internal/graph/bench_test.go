package graph_test

import (
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/graph"
)

// BenchmarkLargePage reads one page of about 60 MB (6,000 users of 10 KB,
// under the 64 MiB page limit) and reports the heap's peak while reading
// it: the page is decoded an object at a time as it streams in, never held
// whole as bytes and as objects at once.
//
//	go test ./internal/graph -run '^$' -bench LargePage -benchtime 3x
func BenchmarkLargePage(b *testing.B) {
	user := `{"id":"00000000-0000-0000-0000-000000000000","userPrincipalName":"u@contoso.com","displayName":"` + strings.Repeat("x", 10_000) + `"},`
	page := []byte(`{"value":[` + strings.Repeat(user, 6000) + `{"id":"last"}]}`)
	x := newHostile(b, time.Minute, func(w http.ResponseWriter, r *http.Request) { w.Write(page) })
	b.SetBytes(int64(len(page)))
	var peak atomic.Uint64
	for b.Loop() {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				if d := m.HeapAlloc - min(m.HeapAlloc, base.HeapAlloc); d > peak.Load() {
					peak.Store(d)
				}
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		}()
		n := 0
		if err := x.c.ListUsers(b.Context(), graph.Query{}, func(us []graph.User) error { n += len(us); return nil }); err != nil || n != 6001 {
			b.Fatalf("%d users: %v", n, err)
		}
		close(stop)
		<-sampled
	}
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(len(page))/(1<<20), "page-MB")
}
