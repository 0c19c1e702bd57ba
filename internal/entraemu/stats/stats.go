// Package stats counts what an emulated tenant serves, for benchmarks and
// tests: requests by kind, logins, throttled requests, injected faults and
// resource units.
package stats

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Stats are a snapshot of the counters.
type Stats struct {
	Requests         int64            `json:"requests"`          // HTTP requests of any kind
	Login            int64            `json:"login"`             // requests to the login endpoints
	LoginFailures    int64            `json:"login_failures"`    // token requests refused
	Graph            int64            `json:"graph"`             // Graph HTTP requests (a $batch counts once)
	BatchSubrequests int64            `json:"batch_subrequests"` // requests inside $batch
	Throttled        int64            `json:"throttled"`         // 429s from the resource-unit budget
	Faults           int64            `json:"faults"`            // injected faults that fired
	ResourceUnits    int64            `json:"resource_units"`    // resource units charged
	ByKind           map[string]int64 `json:"by_kind"`           // Graph requests per kind: users, users.delta, groups, members, ...
	LoginByKind      map[string]int64 `json:"login_by_kind"`     // login requests per kind: token, openidConfiguration, ...
}

// Counters are the live counters, safe for concurrent use.
type Counters struct {
	Requests, Login, LoginFailures, Graph, BatchSubrequests, Throttled, Faults, ResourceUnits atomic.Int64

	mu          sync.Mutex
	byKind      map[string]int64
	loginByKind map[string]int64
}

// Kind counts one Graph request of a kind.
func (c *Counters) Kind(k string) { c.count(&c.byKind, k) }

// LoginKind counts one request of a kind to the login endpoints.
func (c *Counters) LoginKind(k string) { c.count(&c.loginByKind, k) }

func (c *Counters) count(m *map[string]int64, k string) {
	c.mu.Lock()
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[k]++
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
		Faults: c.Faults.Load(), ResourceUnits: c.ResourceUnits.Load(),
	}
	c.mu.Lock()
	s.ByKind, s.LoginByKind = maps.Clone(c.byKind), maps.Clone(c.loginByKind)
	c.mu.Unlock()
	if s.ByKind == nil {
		s.ByKind = map[string]int64{}
	}
	if s.LoginByKind == nil {
		s.LoginByKind = map[string]int64{}
	}
	return s
}

// Reset zeroes the counters.
func (c *Counters) Reset() {
	for _, a := range c.all() {
		a.Store(0)
	}
	c.mu.Lock()
	c.byKind, c.loginByKind = nil, nil
	c.mu.Unlock()
}
