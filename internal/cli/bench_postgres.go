package cli

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/factory"
)

// pgBench is "dirsync bench" on PostgreSQL: the scratch database the run
// syncs into, and the CPU time of the server's sessions on it.
type pgBench struct {
	scratch *factory.ScratchDatabase

	mu sync.Mutex
	// base and last are each session's CPU ticks when first and last seen.
	base, last map[int]int64
	done       chan struct{}
	stopped    chan struct{}
}

func newPGBench(ctx context.Context, db string) (*pgBench, error) {
	d, err := factory.ScratchPostgres(ctx, db, "dirsync_bench")
	if err != nil {
		return nil, err
	}
	return &pgBench{scratch: d}, nil
}

func (p *pgBench) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p.scratch.Drop(ctx)
}

// start samples the sessions' CPU time from now on, four times a second:
// the pool keeps its connections, so a session that ends before the last
// sample (and loses what it spent since the one before) is rare.
func (p *pgBench) start(ctx context.Context) {
	p.base, p.last = map[int]int64{}, map[int]int64{}
	p.done, p.stopped = make(chan struct{}), make(chan struct{})
	p.sample(ctx, true)
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				p.sample(ctx, false)
			}
		}
	}()
}

// sample reads the CPU ticks of the sessions on the scratch database. A
// session first seen at the start counts from there; one that appears
// later counts from its beginning.
func (p *pgBench) sample(ctx context.Context, first bool) {
	pids, err := p.scratch.Backends(ctx)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pid := range pids {
		ticks, ok := procCPUTicks(pid)
		if !ok {
			continue
		}
		if _, seen := p.base[pid]; !seen {
			p.base[pid] = 0
			if first {
				p.base[pid] = ticks
			}
		}
		p.last[pid] = ticks
	}
}

// stop takes a last sample and returns the CPU seconds the sessions spent
// since start, or nil when none could be read (a server on another machine).
func (p *pgBench) stop(ctx context.Context) *float64 {
	close(p.done)
	<-p.stopped
	p.sample(ctx, false)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.last) == 0 {
		return nil
	}
	var ticks int64
	for pid, t := range p.last {
		ticks += t - p.base[pid]
	}
	s := float64(ticks) / clockTicks
	return &s
}

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every architecture Go supports there.
const clockTicks = 100

// procCPUTicks reads a process's user and system time from /proc/PID/stat.
func procCPUTicks(pid int) (int64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis (state is field 3, utime 14).
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return ut + st, true
}
