package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/scope"
)

// hangingSource hands over some users, then hangs as a source that
// trickles its body or never answers would, until the run's context ends.
type hangingSource struct {
	*source
	reading chan struct{}
}

func (s *hangingSource) Snapshot(ctx context.Context, sink connector.Sink) error {
	for _, u := range s.users[:3] {
		if err := sink.User(u); err != nil {
			return err
		}
	}
	close(s.reading)
	<-ctx.Done()
	return ctx.Err()
}

// TestMaxRunTime is issue 10's point 6 (remainder): a run is bounded in
// total by its source's max run time, on the engine's clock. A hanging
// source's run fails when it passes (failed, not cancelled: nobody
// cancelled it), with the limit as its reason; nothing is applied and
// nothing staged is left.
func TestMaxRunTime(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		f.setSettings(scope.Settings{MaxRunTime: "5m"})
		src := &hangingSource{source: sample(), reading: make(chan struct{})}
		type result struct {
			run directory.Run
			err error
		}
		done := make(chan result, 1)
		go func() {
			run, err := f.eng.Sync(f.ctx, f.src, src, engine.Options{})
			done <- result{run, err}
		}()
		<-src.reading
		f.clk.Advance(4 * time.Minute)
		select {
		case r := <-done:
			t.Fatalf("the run ended before its max run time: %+v %v", r.run, r.err)
		case <-time.After(50 * time.Millisecond):
		}
		f.clk.Advance(time.Minute)
		var r result
		select {
		case r = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the run was still going 30 s after its max run time")
		}
		var limit *engine.RunTimeError
		if !errors.As(r.err, &limit) || limit.Limit != 5*time.Minute {
			t.Fatalf("err = %v, want the max run time", r.err)
		}
		rec := f.storedRun(r.run.ID)
		if rec.Outcome != directory.OutcomeFailed || !strings.Contains(rec.Reason, "max run time of 5m0s") || rec.FinishedAt.IsZero() {
			t.Fatalf("recorded run: %s %q", rec.Outcome, rec.Reason)
		}
		if n := f.staged(); n != 0 {
			t.Fatalf("%d staged rows left", n)
		}
		if d := f.dump(); d != "" {
			t.Fatalf("the run applied:\n%s", d)
		}
	})
}
