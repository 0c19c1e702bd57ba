// Package stats counts what an emulated tenant serves, for benchmarks and
// tests: requests by kind, logins, throttled requests, injected faults and
// resource units.
package stats

import (
	"sync"
	"sync/atomic"
)

// Stats are a snapshot of the counters.
type Stats struct {
	Requests         int64            // HTTP requests of any kind
	Login            int64            // requests to the login endpoints
	LoginFailures    int64            // token requests refused
	Graph            int64            // Graph HTTP requests (a $batch counts once)
	BatchSubrequests int64            // requests inside $batch
	Throttled        int64            // 429s from the resource-unit budget
	Faults           int64            // injected faults that fired
	ResourceUnits    int64            // resource units charged
	ByKind           map[string]int64 // per kind: users, users.delta, groups, members, ...
}

// Counters are the live counters, safe for concurrent use.
type Counters struct {
	Requests, Login, LoginFailures, Graph, BatchSubrequests, Throttled, Faults, ResourceUnits atomic.Int64

	mu     sync.Mutex
	byKind map[string]int64
}

// Kind counts one request of a kind.
func (c *Counters) Kind(k string) {
	c.mu.Lock()
	if c.byKind == nil {
		c.byKind = map[string]int64{}
	}
	c.byKind[k]++
	c.mu.Unlock()
}

func (c *Counters) all() []*atomic.Int64 {
	return []*atomic.Int64{&c.Requests, &c.Login, &c.LoginFailures, &c.Graph, &c.BatchSubrequests, &c.Throttled, &c.Faults, &c.ResourceUnits}
}

// Snapshot returns the counters' values.
func (c *Counters) Snapshot() Stats {
	s := Stats{
		Requests: c.Requests.Load(), Login: c.Login.Load(), LoginFailures: c.LoginFailures.Load(),
		Graph: c.Graph.Load(), BatchSubrequests: c.BatchSubrequests.Load(), Throttled: c.Throttled.Load(),
		Faults: c.Faults.Load(), ResourceUnits: c.ResourceUnits.Load(), ByKind: map[string]int64{},
	}
	c.mu.Lock()
	for k, v := range c.byKind {
		s.ByKind[k] = v
	}
	c.mu.Unlock()
	return s
}

// Reset zeroes the counters.
func (c *Counters) Reset() {
	for _, a := range c.all() {
		a.Store(0)
	}
	c.mu.Lock()
	c.byKind = nil
	c.mu.Unlock()
}
