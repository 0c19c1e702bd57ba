package entraemu

import (
	"math"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Throttling follows "Identity and access service limits": a token bucket
// per application and tenant, in resource units (RU) per 10 seconds sized
// by the tenant (S under 50 users: 3,500; M up to 500: 5,000; L: 8,000),
// and a write quota of 3,000 requests per 2 minutes 30 seconds. A request
// that does not fit is answered 429 with Retry-After, x-ms-throttle-scope
// and x-ms-throttle-information, and consumes nothing.

const (
	ruWindow    = 10 * time.Second
	writeQuota  = 3000
	writeWindow = 150 * time.Second
)

type bucket struct {
	ru, writes     float64
	ruAt, writesAt time.Time
}

type throttler struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

func (th *throttler) init() { th.buckets = map[string]*bucket{} }

// budget is the RU limit per 10 seconds for this tenant.
func (t *Tenant) budget() float64 {
	if t.opts.ThrottleBudget > 0 {
		return float64(t.opts.ThrottleBudget)
	}
	t.mu.RLock()
	n := len(t.users)
	t.mu.RUnlock()
	switch {
	case n < 50:
		return 3500
	case n <= 500:
		return 5000
	}
	return 8000
}

type throttleResult struct {
	ok         bool
	retryAfter int     // seconds, when !ok
	usage      float64 // share of the RU budget in use after this request
	writeLimit bool    // the write quota, not the RU budget, refused it
}

// take charges a request's cost to an app's buckets.
func (th *throttler) take(app string, cost int, write bool, budget float64, now time.Time) throttleResult {
	th.mu.Lock()
	defer th.mu.Unlock()
	b := th.buckets[app]
	if b == nil {
		b = &bucket{ru: budget, writes: writeQuota, ruAt: now, writesAt: now}
		th.buckets[app] = b
	}
	ruRate := budget / ruWindow.Seconds()
	if dt := now.Sub(b.ruAt).Seconds(); dt > 0 {
		b.ru = math.Min(budget, b.ru+dt*ruRate)
	}
	b.ruAt = now
	wRate := writeQuota / writeWindow.Seconds()
	if dt := now.Sub(b.writesAt).Seconds(); dt > 0 {
		b.writes = math.Min(writeQuota, b.writes+dt*wRate)
	}
	b.writesAt = now
	// A request dearer than the whole budget must still fit a full bucket,
	// or it would be refused forever.
	c := math.Min(float64(cost), budget)
	if b.ru < c {
		return throttleResult{retryAfter: int(math.Ceil((c - b.ru) / ruRate)), usage: (budget - b.ru + c) / budget}
	}
	if write && b.writes < 1 {
		return throttleResult{retryAfter: int(math.Ceil((1 - b.writes) / wRate)), usage: (budget - b.ru) / budget, writeLimit: true}
	}
	b.ru -= c
	if write {
		b.writes--
	}
	return throttleResult{ok: true, usage: (budget - b.ru) / budget}
}

// requestCost is the request's cost in resource units per Microsoft's
// table: base cost by path, -1 with $select, +1 with $expand, -1 with $top
// under 20, never below 1.
func requestCost(method string, segs []string, q url.Values) int {
	cost := 1
	if method == "GET" && len(segs) > 0 {
		switch {
		case segs[0] == "users":
			cost = 2
		case segs[0] == "subscribedSkus":
			cost = 3
		case segs[0] == "groups" && len(segs) >= 3 && segs[2] == "members":
			cost = 3
		case segs[0] == "groups" && len(segs) >= 3 && segs[2] == "transitiveMembers":
			cost = 5
		}
		if q.Get("$select") != "" {
			cost--
		}
		if q.Get("$expand") != "" {
			cost++
		}
		if top, err := strconv.Atoi(q.Get("$top")); err == nil && top < 20 {
			cost--
		}
	}
	return max(cost, 1)
}
