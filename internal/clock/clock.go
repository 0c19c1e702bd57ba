// Package clock is dirsync's one source of time. Production code asks a
// Clock for the time and for timers; tests hand it a Fake that moves only
// when told, so schedules, retries, leases and backoff are tested without
// sleeping (tailscale's tstest/clock does the same).
//
// A zero Clock field means the real clock: use Or(c) to read one.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once,
	// after d.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a ticker that sends the time every d, dropping
	// ticks a slow reader misses, as time.Ticker does.
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f in its own goroutine after d.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a time.Timer behind an interface.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
	// Reset changes when the timer fires; it reports whether it was active.
	Reset(d time.Duration) bool
}

// Ticker is a time.Ticker behind an interface.
type Ticker interface {
	C() <-chan time.Time
	Stop()
	Reset(d time.Duration)
}

// System is the real clock.
var System Clock = systemClock{}

// Or returns c, or the real clock when c is nil, so that a struct's
// zero-value Clock field means real time.
func Or(c Clock) Clock {
	if c == nil {
		return System
	}
	return c
}

// Sleep waits d on c, or until ctx ends (it then returns ctx's error).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	// A cancelled context wins over a timer that fires at once (a test
	// clock's may), as it would in real time.
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := Or(c).NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// Since is c.Now().Sub(t).
func Since(c Clock, t time.Time) time.Duration { return Or(c).Now().Sub(t) }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

func (systemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer {
	return systemTimer{time.AfterFunc(d, f)}
}

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time        { return t.t.C }
func (t systemTimer) Stop() bool                 { return t.t.Stop() }
func (t systemTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

type systemTicker struct{ t *time.Ticker }

func (t systemTicker) C() <-chan time.Time   { return t.t.C }
func (t systemTicker) Stop()                 { t.t.Stop() }
func (t systemTicker) Reset(d time.Duration) { t.t.Reset(d) }
