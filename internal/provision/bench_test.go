package provision_test

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/provision"
	"github.com/dirsync/dirsync/internal/store"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkExport measures an initial export into the emulated tenant
// with Graph's latency and write budget, and a delta cycle after 1% of the
// directory changed (after the delta that brings back the export's own
// writes, reported apart). Sizes come from DIRSYNC_BENCH_USERS and
// DIRSYNC_BENCH_GROUPS (300 and 15 by default; the figure is
// 10,000 and 500), each user in two groups; latency 50 ms.
//
// The floor is what batching and the write budget allow at best: W writes
// (a user or group created, or 20 members added by one PATCH) need W/20
// $batch requests, one after the other at the latency, and past the
// budget's burst of 3,000 no more than 20 writes a second.
func BenchmarkExport(b *testing.B) {
	users, groups := envInt("DIRSYNC_BENCH_USERS", 300), envInt("DIRSYNC_BENCH_GROUPS", 15)
	const latency = 50 * time.Millisecond
	for b.Loop() {
		b.StopTimer()
		w := newWorld(b, 1, provision.Settings{})
		dom := w.tenant.Domain()
		var us []directory.User
		var gs []directory.Group
		w.update(func(tx store.Tx) error {
			for i := range groups {
				g := directory.Group{AccountID: w.acc.ID, State: directory.StateActive, GroupAttributes: directory.GroupAttributes{Name: fmt.Sprintf("G%04d", i), SecurityEnabled: true}}
				if err := tx.CreateGroup(w.ctx, &g); err != nil {
					return err
				}
				if err := tx.Link(w.ctx, directory.MemberGroup, g.ID, directory.SourceLink{SourceID: w.src.ID, ExternalID: "g" + g.Name}); err != nil {
					return err
				}
				gs = append(gs, g)
			}
			for i := range users {
				name := fmt.Sprintf("User %05d", i)
				u := directory.User{AccountID: w.acc.ID, Enabled: true, State: directory.StateActive, Tags: []string{},
					UserAttributes: directory.UserAttributes{Username: fmt.Sprintf("u%05d@%s", i, dom), DisplayName: name, GivenName: "User",
						Surname: fmt.Sprint(i), JobTitle: "Engineer", Department: "R&D", AccountName: fmt.Sprintf("u%05d", i), ImmutableID: anchorOf(name)}}
				if err := tx.CreateUser(w.ctx, &u); err != nil {
					return err
				}
				if err := tx.Link(w.ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: w.src.ID, ExternalID: name}); err != nil {
					return err
				}
				for _, g := range []directory.Group{gs[i%groups], gs[(i+1)%groups]} {
					if _, err := tx.AddMembership(w.ctx, w.src.ID, store.Membership{GroupID: g.ID, MemberKind: directory.MemberUser, MemberID: u.ID}); err != nil {
						return err
					}
				}
				us = append(us, u)
			}
			return nil
		})
		w.tenant.SetLatency(latency)
		w.tenant.SetThrottle(true)
		b.StartTimer()
		start := time.Now()
		res := w.cycle(provision.CycleOptions{Full: true})
		wall := time.Since(start)
		b.StopTimer()
		if res.Summary.Failed != 0 || res.Run.Outcome != provision.RunSucceeded {
			b.Fatalf("initial export: %s %+v", res.Run.Outcome, res.Summary)
		}
		perGroup := 2 * users / groups
		writes := users + groups + groups*int(math.Ceil(float64(perGroup)/20))
		reqFloor := int(math.Ceil(float64(writes) / 20))
		timeFloor := max(time.Duration(reqFloor)*latency, time.Duration(float64(max(0, writes-provision.WriteBudget))/20*float64(time.Second)))
		b.ReportMetric(wall.Seconds(), "initial_s")
		b.ReportMetric(float64(res.Summary.Requests), "initial_requests")
		b.ReportMetric(float64(writes), "writes")
		b.ReportMetric(float64(reqFloor), "floor_requests")
		b.ReportMetric(timeFloor.Seconds(), "floor_s")
		b.ReportMetric(wall.Seconds()/timeFloor.Seconds(), "wall/floor")
		b.ReportMetric(float64(res.Summary.Requests)/float64(reqFloor), "requests/floor")

		// The first delta round brings back the export's own writes; a
		// cycle with nothing to do absorbs them, as the next scheduled one
		// would.
		start = time.Now()
		idle := w.cycle(provision.CycleOptions{})
		b.ReportMetric(time.Since(start).Seconds(), "after_export_delta_s")
		b.ReportMetric(float64(idle.Summary.Requests), "after_export_delta_requests")
		if len(idle.Steps) != 0 {
			b.Fatalf("the cycle after the export plans %v", idle.Summary.Planned)
		}

		// 1% of the users change (a new job title); a delta cycle.
		w.update(func(tx store.Tx) error {
			for i := 0; i < len(us); i += 100 {
				us[i].JobTitle = "Lead"
				if err := tx.UpdateUser(w.ctx, us[i]); err != nil {
					return err
				}
			}
			return nil
		})
		start = time.Now()
		delta := w.cycle(provision.CycleOptions{})
		dwall := time.Since(start)
		if delta.Summary.Planned[provision.OpUpdateUser] != (users+99)/100 || delta.Summary.ReadFull {
			b.Fatalf("delta cycle: %+v", delta.Summary)
		}
		b.ReportMetric(dwall.Seconds(), "delta_s")
		b.ReportMetric(float64(delta.Summary.Requests), "delta_requests")
		b.ReportMetric(dwall.Seconds()/wall.Seconds(), "delta/initial")
		b.StartTimer()
	}
}
