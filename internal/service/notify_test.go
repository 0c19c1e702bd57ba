package service

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/mail/smtptest"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/scope"
)

// TestFailingAndStoppedNotifications: a source failing three runs in a
// row is notified once per streak; a run stopped by the deletion limit is
// notified once, linking the run's page.
func TestFailingAndStoppedNotifications(t *testing.T) {
	w := newEnrollWorld(t, 10, nil)
	seen := 0
	w.sync()
	fail := func() {
		t.Helper()
		remove := w.emu.Tenant().InjectFault(entraemu.Fault{PathPrefix: "/v1.0/", Status: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."})
		defer remove()
		run, err := w.parts.Manager.SyncNow(t.Context(), w.owner, w.src.ID, manage.SyncRequest{})
		if err == nil || run.Outcome != directory.OutcomeFailed {
			t.Fatalf("a run against a failing tenant: %s %v", run.Outcome, err)
		}
	}
	fail()
	fail()
	if got := w.cycle(&seen); len(got) != 0 {
		t.Fatalf("after two failures: %+v", got)
	}
	fail()
	got := w.cycle(&seen)
	if len(got) != 1 || got[0].Subject != "dirsync: source contoso failed 3 runs in a row" ||
		!strings.Contains(got[0].Text, "https://dirsync.example.com/sources/"+w.src.ID) || got[0].Header.Get("To") != "<admin@example.com>" {
		t.Fatalf("failing notice: %+v", got)
	}
	fail()
	fail()
	if got := w.cycle(&seen); len(got) != 0 {
		t.Fatalf("the same streak notified again: %+v", got)
	}
	w.sync()
	for range 3 {
		fail()
	}
	if got := w.cycle(&seen); len(got) != 1 {
		t.Fatalf("a new streak: %d mails", len(got))
	}

	// Eight of ten users leave; the limit is 2.
	w.setScope(func(s *scope.Settings) { s.DeletionLimit.MaxObjects = 2 })
	w.sync()
	for _, u := range w.users[:8] {
		if err := w.emu.Tenant().DeleteUser(u.ID); err != nil {
			t.Fatal(err)
		}
	}
	run, err := w.parts.Manager.SyncNow(t.Context(), w.owner, w.src.ID, manage.SyncRequest{})
	if manage.KindOf(err) != manage.Stopped {
		t.Fatalf("the run past the limit: %s %v", run.Outcome, err)
	}
	got = w.cycle(&seen)
	if len(got) != 1 || !strings.Contains(got[0].Subject, "stopped") ||
		!strings.Contains(got[0].Text, "https://dirsync.example.com/runs/"+run.ID) || !strings.Contains(got[0].HTML, `/runs/`+run.ID+`"`) {
		t.Fatalf("stopped notice: %+v", got)
	}
	if got := w.cycle(&seen); len(got) != 0 {
		t.Fatalf("notified twice: %+v", got)
	}
}

// TestServeSendsMail: dirsync serve, on its injected clock, sends the
// mail a run queues as soon as the run ends, and a reminder when its day
// comes, by its own loop.
func TestServeSendsMail(t *testing.T) {
	w := newEnrollWorld(t, 1, nil)
	setTemplate(t, w.world)
	w.setScope(func(s *scope.Settings) { s.SendEnrollment = true })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.svc.Run(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	run, err := w.parts.Manager.RequestSync(t.Context(), w.owner, w.src.ID, manage.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if run := w.waitRun(run.ID); run.Outcome != directory.OutcomeSucceeded {
		t.Fatalf("run %s: %s", run.Outcome, run.Reason)
	}
	if got := w.srv.Wait(1); got[0].To[0] != "user0@example.com" {
		t.Fatalf("first mail to %v", got[0].To)
	}
	// The loops wait on the clock; two days later the reminder goes.
	if err := w.clock.BlockUntil(t.Context(), 3); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(2*day + time.Minute)
	got := w.srv.Wait(2)
	m, err := smtptestParse(got[1].Data)
	if err != nil || !strings.HasPrefix(m, "Reminder: ") {
		t.Fatalf("second mail %q %v", m, err)
	}
}

func smtptestParse(data []byte) (string, error) {
	m, err := smtptest.Parse(data)
	return m.Subject, err
}
