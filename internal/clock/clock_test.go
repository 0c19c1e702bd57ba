package clock

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

var epoch = time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)

func received(ch <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-ch:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestFakeTimerFiresAtItsDeadline(t *testing.T) {
	f := NewFake(epoch)
	tm := f.NewTimer(time.Hour)
	f.Advance(59 * time.Minute)
	if _, ok := received(tm.C()); ok {
		t.Fatal("fired before its deadline")
	}
	f.Advance(2 * time.Minute)
	got, ok := received(tm.C())
	if !ok || !got.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("fired %v %v, want at %v", got, ok, epoch.Add(time.Hour))
	}
	if !f.Now().Equal(epoch.Add(61 * time.Minute)) {
		t.Fatalf("now = %v", f.Now())
	}
	if f.Waiters() != 0 {
		t.Fatalf("a fired timer is still armed")
	}
}

func TestFakeStopAndReset(t *testing.T) {
	f := NewFake(epoch)
	tm := f.NewTimer(time.Minute)
	if !tm.Stop() {
		t.Fatal("Stop of an armed timer reported false")
	}
	f.Advance(time.Hour)
	if _, ok := received(tm.C()); ok {
		t.Fatal("a stopped timer fired")
	}
	if tm.Reset(time.Minute) {
		t.Fatal("Reset of a stopped timer reported it active")
	}
	f.Advance(time.Minute)
	if _, ok := received(tm.C()); !ok {
		t.Fatal("a reset timer did not fire")
	}
}

func TestFakeTickerFiresEveryPeriod(t *testing.T) {
	f := NewFake(epoch)
	tk := f.NewTicker(10 * time.Minute)
	tm := f.NewTimer(25 * time.Minute)
	var ticks []time.Duration
	var timer time.Duration
	for range 3 {
		f.Advance(10 * time.Minute)
		if at, ok := received(tk.C()); ok {
			ticks = append(ticks, at.Sub(epoch))
		}
		if at, ok := received(tm.C()); ok {
			timer = at.Sub(epoch)
		}
	}
	if len(ticks) != 3 || ticks[0] != 10*time.Minute || ticks[1] != 20*time.Minute || ticks[2] != 30*time.Minute {
		t.Fatalf("ticks at %v, want 10m, 20m, 30m", ticks)
	}
	if timer != 25*time.Minute {
		t.Fatalf("timer fired at %v, want 25m (its own deadline, not the end of the advance)", timer)
	}
	tk.Stop()
	if f.Waiters() != 0 {
		t.Fatal("stopped ticker still armed")
	}
}

func TestFakeTickerDropsMissedTicks(t *testing.T) {
	f := NewFake(epoch)
	tk := f.NewTicker(time.Minute)
	f.Advance(time.Hour)
	got, ok := received(tk.C())
	if !ok || !got.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("first tick %v %v", got, ok)
	}
	if _, ok := received(tk.C()); ok {
		t.Fatal("ticks piled up in the channel")
	}
}

func TestFakeAfterFunc(t *testing.T) {
	f := NewFake(epoch)
	var calls atomic.Int32
	done := make(chan struct{})
	f.AfterFunc(time.Second, func() { calls.Add(1); close(done) })
	f.Advance(time.Second)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("AfterFunc never ran")
	}
	f.Advance(time.Hour)
	if calls.Load() != 1 {
		t.Fatalf("calls = %d", calls.Load())
	}
}

func TestSleepOnFakeClockWithBlockUntil(t *testing.T) {
	f := NewFake(epoch)
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- Sleep(ctx, f, 24*time.Hour) }()
	if err := f.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatal("Sleep returned before the clock moved")
	default:
	}
	f.Advance(24 * time.Hour)
	if err := <-done; err != nil {
		t.Fatalf("Sleep: %v", err)
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	f := NewFake(epoch)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Sleep(ctx, f, time.Hour); err != context.Canceled {
		t.Fatalf("Sleep = %v", err)
	}
}

// instant is a clock whose timers have fired by the time they are made,
// as a test's recording clock does.
type instant struct{ *Fake }

func (c instant) NewTimer(d time.Duration) Timer {
	t := c.Fake.NewTimer(d)
	c.Advance(d)
	return t
}

// A cancelled context wins over a timer that is already due: a retry loop
// on a test clock must stop when its run is cancelled, every time.
func TestSleepOnAFiredTimerStillEndsWithContext(t *testing.T) {
	c := instant{NewFake(epoch)}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for range 100 {
		if err := Sleep(ctx, c, time.Second); err != context.Canceled {
			t.Fatalf("Sleep = %v", err)
		}
	}
}

func TestBlockUntilGivesUpWithContext(t *testing.T) {
	f := NewFake(epoch)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := f.BlockUntil(ctx, 1); err == nil {
		t.Fatal("BlockUntil returned nil with nobody waiting")
	}
}

func TestOrIsTheSystemClockForNil(t *testing.T) {
	if Or(nil) != System {
		t.Fatal("Or(nil) is not System")
	}
	f := NewFake(epoch)
	if Or(f) != Clock(f) {
		t.Fatal("Or(f) is not f")
	}
}
