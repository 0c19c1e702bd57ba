package service

import (
	"context"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

// weekSource is one source of the week: its tenant, its schedule and the
// slots that schedule has in the week.
type weekSource struct {
	name  string
	spec  string
	emu   *entraemu.Server
	view  manage.SourceView
	sched schedule.Schedule
	slots []time.Time
}

// TestServeRunsAWeekOnAFakeClock runs dirsync serve (Service.Run: its
// scheduler, runner, housekeeping, mail and webhook loops) through a week
// of fake time in seconds of real time, with no sleep: three emulated
// tenants synced hourly, daily and weekly (the weekly one in
// Europe/Berlin), enrollment mail through a real SMTP server, and a user
// deleted at a source purged from the trash when its two days of retention
// end. The stored runs show every slot of every schedule run exactly once,
// at its time, in order, by the schedule; the trash kept the user until
// its purge time and no later than the housekeeping after it; the mail log
// shows each enrollment mail sent once and its reminder two days later.
func TestServeRunsAWeekOnAFakeClock(t *testing.T) {
	ew := newEnrollWorld(t, 10, nil)
	w := ew.world
	ctx := t.Context()
	setTemplate(t, w)
	ew.setScope(func(s *scope.Settings) { s.SendEnrollment = true })
	start := w.clock.Now() // Friday 2026-05-01 09:00 UTC
	end := start.Add(7 * 24 * time.Hour)

	sources := []*weekSource{
		{name: "contoso", spec: "every 1h from 00:00", emu: w.emu, view: ew.src},
		{name: "daily", spec: "daily 03:15"},
		{name: "weekly", spec: "weekly mon 08:00 in Europe/Berlin"},
	}
	for i, s := range sources {
		if s.emu == nil {
			tn, err := entraemu.New(entraemu.Options{Users: 4, Groups: 1, Seed: int64(20 + i)})
			if err != nil {
				t.Fatal(err)
			}
			if s.emu, err = tn.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.emu.Close() })
		}
		var err error
		if s.sched, err = schedule.Parse(s.spec); err != nil {
			t.Fatal(err)
		}
		for at := start; ; {
			next, ok := s.sched.Next(at)
			if !ok || next.After(end) {
				break
			}
			s.slots = append(s.slots, next)
			at = next
		}
		if s.view.ID == "" {
			s.view = w.addScheduledSource(s)
		} else if s.view, err = w.parts.Manager.SetSchedule(ctx, w.owner, s.view.ID, s.sched); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(sources[0].slots); n != 7*24 {
		t.Fatalf("the hourly schedule has %d slots in a week", n)
	}
	settings, err := w.parts.Manager.AccountSettings(ctx, w.owner)
	if err != nil {
		t.Fatal(err)
	}
	settings.TrashRetentionDays = 2
	if _, err := w.parts.Manager.SetAccountSettings(ctx, w.owner, settings); err != nil {
		t.Fatal(err)
	}

	// Every slot of the week, each with the sources due then.
	due := map[time.Time][]string{}
	for _, s := range sources {
		for _, at := range s.slots {
			due[at] = append(due[at], s.view.ID)
		}
	}
	slots := slices.SortedFunc(maps.Keys(due), time.Time.Compare)

	finished := make(chan directory.Run, 16)
	onFinish := w.svc.Runner.OnFinish
	w.svc.Runner.OnFinish = func(r directory.Run) {
		onFinish(r)
		finished <- r
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- w.svc.Run(runCtx, ln) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	hourly := sources[0].emu.Tenant()
	var leaver directory.User // deleted at the source after the first run
	var purgeAfter, goneAt time.Time
	reminded := false
	for i, at := range slots {
		// The clock moves to the slot; the service's own ticker wakes its
		// scheduler, which starts the runs due. The clock moves on only
		// once they have ended, so that each run starts at its slot.
		w.clock.Set(at)
		for range due[at] {
			select {
			case r := <-finished:
				if r.Outcome != directory.OutcomeSucceeded {
					t.Fatalf("%s: run of %s %s: %s", at, r.Source, r.Outcome, r.Reason)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: the runs of %v did not end", at, due[at])
			}
		}
		// The mail loop sends what the runs queued, and the reminders
		// when their day comes, before the clock moves on.
		switch {
		case i == 0:
			ew.srv.Wait(len(ew.users))
		case !reminded && !at.Before(slots[0].Add(2*day)):
			ew.srv.Wait(2*len(ew.users) - 1) // not the leaver
			reminded = true
		}
		switch {
		case i == 0:
			leaver = w.user(sources[0].view)
			if err := hourly.DeleteUser(leaver.Sources[0].ExternalID); err != nil {
				t.Fatal(err)
			}
		case purgeAfter.IsZero():
			trash, err := w.parts.Manager.ListTrash(ctx, w.owner, manage.TrashQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if i := slices.IndexFunc(trash.Users, func(u directory.User) bool { return u.ID == leaver.ID }); i >= 0 {
				purgeAfter = trash.PurgeAfter(trash.Users[i].TrashedAt)
			}
		case goneAt.IsZero():
			if _, err := w.parts.Manager.User(ctx, w.owner, leaver.ID); manage.KindOf(err) == manage.NotFound {
				goneAt = at
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, s := range sources {
		page, err := w.parts.Manager.Runs(ctx, w.owner, manage.RunQuery{Source: s.view.ID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		runs := page.Items
		slices.SortFunc(runs, func(a, b directory.Run) int { return a.StartedAt.Compare(b.StartedAt) })
		var started []time.Time
		for _, r := range runs {
			if r.Trigger != "schedule" || r.Outcome != directory.OutcomeSucceeded {
				t.Errorf("%s: run at %s: trigger %q, %s %s", s.name, r.StartedAt, r.Trigger, r.Outcome, r.Reason)
			}
			started = append(started, r.StartedAt.UTC())
		}
		if !slices.EqualFunc(started, s.slots, time.Time.Equal) {
			t.Errorf("%s (%s): %d runs at\n%v\nwant one at each slot:\n%v", s.name, s.spec, len(started), started, s.slots)
		}
	}
	if len(sources[2].slots) != 1 || !sources[2].slots[0].Equal(time.Date(2026, 5, 4, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("weekly slots %v: want Monday 08:00 in Berlin, 06:00 UTC", sources[2].slots)
	}

	// The leaver went to the trash at the second slot, and was purged by
	// the hourly housekeeping at its purge time or the hour after (the
	// test reads the trash once the slot's runs end, which may be before
	// that slot's housekeeping); never before.
	wantTrashed := slots[1].Add(2 * 24 * time.Hour)
	if !purgeAfter.Equal(wantTrashed) {
		t.Errorf("the leaver's purge time is %v, want %v (trashed at the second slot)", purgeAfter, wantTrashed)
	}
	if goneAt.IsZero() || goneAt.Before(purgeAfter) || goneAt.After(purgeAfter.Add(time.Hour)) {
		t.Errorf("the leaver left the trash at %v; its purge time was %v", goneAt, purgeAfter)
	}
	ew.checkWeekOfMail(leaver)
}

// checkWeekOfMail checks the mail log and the SMTP server after the week:
// each user the first hourly run imported got the enrollment mail, sent by
// the service's mail loop, and one reminder two days later (the second is
// due after the week); the leaver, gone to the trash, no reminder.
func (w *enrollWorld) checkWeekOfMail(leaver directory.User) {
	w.t.Helper()
	page, err := w.parts.Manager.Mails(w.t.Context(), w.owner, manage.MailQuery{Limit: 100})
	if err != nil {
		w.t.Fatal(err)
	}
	first := map[string]store.Mail{}
	reminders := map[string][]store.Mail{}
	sent := 0
	for _, m := range page.Items {
		if m.State == store.MailSent {
			sent++
		}
		switch m.Kind {
		case manage.MailEnrollment:
			if _, dup := first[m.Ref]; dup {
				w.t.Errorf("two enrollment mails about %s", m.Ref)
			}
			first[m.Ref] = m
		case manage.MailEnrollmentReminder:
			reminders[m.Ref] = append(reminders[m.Ref], m)
		default:
			w.t.Errorf("unexpected mail %s to %s: %s", m.Kind, m.To, m.Subject)
		}
	}
	if len(first) != len(w.users) {
		w.t.Errorf("%d enrollment mails for %d users", len(first), len(w.users))
	}
	for ref, m := range first {
		rs := reminders[ref]
		if ref == leaver.ID {
			if len(rs) != 0 {
				w.t.Errorf("the leaver, in the trash, was reminded: %+v", rs)
			}
			continue
		}
		if m.State != store.MailSent || len(rs) != 1 || rs[0].State != store.MailSent {
			w.t.Errorf("user %s: first mail %s, reminders %+v; want it sent and one reminder sent", ref, m.State, rs)
			continue
		}
		if gap := rs[0].CreatedAt.Sub(m.CreatedAt); gap != 2*day {
			w.t.Errorf("user %s: reminded %v after the first mail, want 2 days", ref, gap)
		}
	}
	if got := len(w.srv.Messages()); got != sent {
		w.t.Errorf("the SMTP server received %d mails; the log says %d were sent", got, sent)
	}
}

// addScheduledSource adds s's tenant as a source on s's schedule, which
// counts from now.
func (w *world) addScheduledSource(s *weekSource) manage.SourceView {
	w.t.Helper()
	v, err := w.parts.Manager.AddSource(w.t.Context(), w.owner, manage.SourceInput{Name: &s.name, Kind: directory.KindEntra,
		Config: emulatorConfig(s.emu, nil), Secret: []byte(s.emu.Credentials().ClientSecret), Schedule: &s.sched})
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

// user returns one active user of the source.
func (w *world) user(src manage.SourceView) directory.User {
	w.t.Helper()
	page, err := w.parts.Manager.Users(w.t.Context(), w.owner, manage.UserQuery{Source: src.ID, Limit: 1})
	if err != nil || len(page.Items) == 0 {
		w.t.Fatalf("users of %s: %v %v", src.Name, page.Items, err)
	}
	return page.Items[0]
}
