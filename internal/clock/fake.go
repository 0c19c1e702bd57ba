package clock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Fake is a Clock that moves only when Advance or Set moves it. Timers and
// tickers fire, in deadline order, as the time passes them; each fires with
// Now set to its own deadline, so a week of schedules runs in moments and
// in the order real time would have run it.
//
// Tests that need a goroutine to be waiting on the clock before they move
// it call BlockUntil.
type Fake struct {
	mu      sync.Mutex
	cond    *sync.Cond
	now     time.Time
	waiters []*fakeTimer
	seq     int
}

var _ Clock = (*Fake)(nil)

// NewFake returns a fake clock standing at start.
func NewFake(start time.Time) *Fake {
	f := &Fake{now: start}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires once the fake time reaches now+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	return f.add(&fakeTimer{clock: f, ch: make(chan time.Time, 1)}, d)
}

// NewTicker returns a ticker that fires every d of fake time.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	t := &fakeTimer{clock: f, ch: make(chan time.Time, 1), period: d}
	f.add(t, d)
	return fakeTicker{t}
}

// AfterFunc calls fn in its own goroutine once the fake time reaches now+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	return f.add(&fakeTimer{clock: f, fn: fn}, d)
}

func (f *Fake) add(t *fakeTimer, d time.Duration) *fakeTimer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.schedule(t, f.now.Add(d))
	f.fireDue()
	return t
}

// schedule (re)arms t; f.mu is held.
func (f *Fake) schedule(t *fakeTimer, at time.Time) {
	f.seq++
	t.at, t.seq = at, f.seq
	if !t.active {
		t.active = true
		f.waiters = append(f.waiters, t)
	}
	f.cond.Broadcast()
}

// unschedule disarms t; f.mu is held.
func (f *Fake) unschedule(t *fakeTimer) bool {
	if !t.active {
		return false
	}
	t.active = false
	f.waiters = slices.DeleteFunc(f.waiters, func(w *fakeTimer) bool { return w == t })
	return true
}

// Advance moves the fake time forward by d, firing every timer it passes.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moveTo(f.now.Add(d))
}

// Set moves the fake time to t (never backwards), firing every timer it passes.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.After(f.now) {
		f.moveTo(t)
	}
}

// moveTo fires due timers one at a time, each at its own deadline; f.mu is held.
func (f *Fake) moveTo(target time.Time) {
	for {
		t := f.next()
		if t == nil || t.at.After(target) {
			break
		}
		f.now = t.at
		f.fire(t)
	}
	f.now = target
}

// fireDue fires timers whose deadline is not after now; f.mu is held.
func (f *Fake) fireDue() { f.moveTo(f.now) }

// next is the earliest armed timer (ties in the order they were armed).
func (f *Fake) next() *fakeTimer {
	var best *fakeTimer
	for _, t := range f.waiters {
		if best == nil || t.at.Before(best.at) || (t.at.Equal(best.at) && t.seq < best.seq) {
			best = t
		}
	}
	return best
}

func (f *Fake) fire(t *fakeTimer) {
	if t.period > 0 {
		f.schedule(t, t.at.Add(t.period))
	} else {
		f.unschedule(t)
	}
	if t.fn != nil {
		go t.fn()
		return
	}
	select {
	case t.ch <- f.now:
	default: // a slow reader misses a tick, as with time.Ticker
	}
}

// Waiters reports how many timers and tickers are armed.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// BlockUntil waits until at least n timers or tickers are armed (someone
// is sleeping on the clock), or ctx ends.
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.cond.Broadcast()
	})
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.waiters) < n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.cond.Wait()
	}
	return nil
}

// NextDeadline returns the earliest armed timer's deadline, and false when
// none is armed.
func (f *Fake) NextDeadline() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.next(); t != nil {
		return t.at, true
	}
	return time.Time{}, false
}

type fakeTimer struct {
	clock  *Fake
	ch     chan time.Time
	fn     func()
	period time.Duration
	at     time.Time
	seq    int
	active bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	return t.clock.unschedule(t)
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	was := t.active
	if t.ch != nil { // a stale tick must not be read as the new one
		select {
		case <-t.ch:
		default:
		}
	}
	if t.period > 0 {
		t.period = d
	}
	f.schedule(t, f.now.Add(d))
	f.fireDue()
	return was
}

type fakeTicker struct{ t *fakeTimer }

func (k fakeTicker) C() <-chan time.Time   { return k.t.ch }
func (k fakeTicker) Stop()                 { k.t.Stop() }
func (k fakeTicker) Reset(d time.Duration) { k.t.Reset(d) }
