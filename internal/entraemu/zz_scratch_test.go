package entraemu

import (
	"runtime"
	"testing"
	"time"
)

func TestScratchGen(t *testing.T) {
	start := time.Now()
	tn, err := New(Options{Users: 100000, Groups: 5000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	edges := 0
	big := 0
	for _, g := range tn.groups {
		edges += len(g.members)
		if len(g.members) > big {
			big = len(g.members)
		}
	}
	t.Logf("gen %v heap %d MB edges %d biggest %d users %d groups %d objects %d", el, ms.HeapAlloc>>20, edges, big, len(tn.users), len(tn.groups), len(tn.objects))
	runtime.KeepAlive(tn)
}
