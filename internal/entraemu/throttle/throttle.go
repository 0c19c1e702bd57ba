// Package throttle limits requests as "Microsoft Graph service-specific
// throttling limits" (identity and access) describes, as HTTP middleware: a
// token bucket per application and tenant in resource units (RU) per 10
// seconds, sized by the tenant (S under 50 users: 3,500; M up to 500:
// 5,000; L: 8,000), and a write quota of 3,000 requests per 2 minutes 30
// seconds. A request that does not fit is answered 429 with Retry-After,
// x-ms-throttle-scope and x-ms-throttle-information, and consumes nothing.
// Every answer carries x-ms-resource-unit, and above 80% of the budget
// x-ms-throttle-limit-percentage.
package throttle

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/entraemu/stats"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

const (
	ruWindow    = 10 * time.Second
	writeQuota  = 3000
	writeWindow = 150 * time.Second
)

// Budget is the RU budget per 10 seconds of a tenant of n users.
func Budget(n int) float64 {
	switch {
	case n < 50:
		return 3500
	case n <= 500:
		return 5000
	}
	return 8000
}

type bucket struct {
	ru, writes     float64
	ruAt, writesAt time.Time
}

// Limiter holds the buckets of one tenant's apps.
type Limiter struct {
	// TenantID names the tenant in x-ms-throttle-scope.
	TenantID string
	// Budget returns the RU budget per 10 seconds.
	Budget func() float64
	Clock  clock.Clock
	Stats  *stats.Counters

	on      atomic.Bool
	mu      sync.Mutex
	buckets map[string]*bucket
}

// SetEnabled turns throttling on or off; costs are counted either way.
func (l *Limiter) SetEnabled(on bool) { l.on.Store(on) }

type result struct {
	ok         bool
	retryAfter int     // seconds, when !ok
	usage      float64 // share of the RU budget in use after this request
	writeLimit bool    // the write quota, not the RU budget, refused it
}

// take charges a request's cost to an app's buckets.
func (l *Limiter) take(app string, cost int, write bool, budget float64, now time.Time) result {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b := l.buckets[app]
	if b == nil {
		b = &bucket{ru: budget, writes: writeQuota, ruAt: now, writesAt: now}
		l.buckets[app] = b
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
		return result{retryAfter: int(math.Ceil((c - b.ru) / ruRate)), usage: (budget - b.ru + c) / budget}
	}
	if write && b.writes < 1 {
		return result{retryAfter: int(math.Ceil((1 - b.writes) / wRate)), usage: (budget - b.ru) / budget, writeLimit: true}
	}
	b.ru -= c
	if write {
		b.writes--
	}
	return result{ok: true, usage: (budget - b.ru) / budget}
}

// Middleware charges each request to the app app(r) names; write marks a
// route that counts against the write quota.
func (l *Limiter) Middleware(write bool, app func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cost := Cost(r.Method, r.URL.Path, r.URL.Query())
		h := w.Header()
		h.Set("x-ms-resource-unit", strconv.Itoa(cost))
		if !l.on.Load() {
			l.Stats.ResourceUnits.Add(int64(cost))
			next.ServeHTTP(w, r)
			return
		}
		appID := app(r)
		res := l.take(appID, cost, write, l.Budget(), clock.Or(l.Clock).Now())
		if !res.ok {
			l.refuse(w, res, appID)
			return
		}
		l.Stats.ResourceUnits.Add(int64(cost))
		if res.usage > 0.8 {
			h.Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(min(res.usage, 1.8), 'f', 1, 64))
		}
		next.ServeHTTP(w, r)
	})
}

func (l *Limiter) refuse(w http.ResponseWriter, res result, appID string) {
	l.Stats.Throttled.Add(1)
	resp := wire.GraphError(429, "TooManyRequests", fmt.Sprintf("Too many requests. Retry after %d seconds.", res.retryAfter), wire.IDsOf(w.Header()), clock.Or(l.Clock).Now())
	resp.Header.Set("Retry-After", strconv.Itoa(max(res.retryAfter, 1)))
	limit, info := "ReadWrite", "ResourceUnitLimitExceeded"
	if res.writeLimit {
		limit, info = "Write", "WriteLimitExceeded"
	}
	resp.Header.Set("x-ms-throttle-scope", "Tenant_Application/"+limit+"/"+appID+"/"+l.TenantID)
	resp.Header.Set("x-ms-throttle-information", info)
	resp.Write(w)
}

// Cost is a request's cost in resource units per Microsoft's table: base
// cost by path (GET users 2, subscribedSkus 3, members 3,
// transitiveMembers 5, others 1), -1 with $select, +1 with $expand, -1 with
// $top under 20, never below 1.
func Cost(method, path string, q url.Values) int {
	if method != http.MethodGet {
		return 1
	}
	segs := strings.Split(strings.Trim(strings.TrimPrefix(path, "/v1.0"), "/"), "/")
	cost := 1
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
	if value(q, "select") != "" {
		cost--
	}
	if value(q, "expand") != "" {
		cost++
	}
	if top, err := strconv.Atoi(value(q, "top")); err == nil && top < 20 {
		cost--
	}
	return max(cost, 1)
}

// value reads an OData query option whatever its case and "$".
func value(q url.Values, name string) string {
	for k, v := range q {
		if strings.EqualFold(strings.TrimPrefix(k, "$"), name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
