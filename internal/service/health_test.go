package service

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/mail"
	"github.com/dirsync/dirsync/internal/mail/smtptest"
	"github.com/dirsync/dirsync/internal/manage"
)

// mailTo points the world's manager at a real SMTP server on 127.0.0.1,
// with addr as the account's notification address.
func (w *world) mailTo(addr string) *smtptest.Server {
	w.t.Helper()
	srv := smtptest.Start(w.t, smtptest.Options{Security: smtptest.StartTLS})
	sender, err := mail.NewSMTP(mail.Config{Addr: srv.Addr(), From: "dirsync@example.com", RootCAs: srv.CertPool()})
	if err != nil {
		w.t.Fatal(err)
	}
	w.parts.Manager.SetMail(manage.MailOptions{Sender: sender, ConsoleURL: "https://dirsync.example.com"})
	settings, err := w.parts.Manager.AccountSettings(w.t.Context(), w.owner)
	if err != nil {
		w.t.Fatal(err)
	}
	settings.NotifyEmails = []string{addr}
	if _, err := w.parts.Manager.SetAccountSettings(w.t.Context(), w.owner, settings); err != nil {
		w.t.Fatal(err)
	}
	return srv
}

// deliver runs the mail cycle and returns every mail the server has.
func (w *world) deliver(srv *smtptest.Server) []smtptest.Mail {
	w.t.Helper()
	if _, err := w.parts.Manager.MailCycle(w.t.Context()); err != nil {
		w.t.Fatal(err)
	}
	var out []smtptest.Mail
	for _, r := range srv.Messages() {
		m, err := smtptest.Parse(r.Data)
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// TestSecretExpiryWarnedOncePerThreshold: the owners get one mail at 30, 7
// and 1 days before a client secret expires, and again for a new secret.
func TestSecretExpiryWarnedOncePerThreshold(t *testing.T) {
	w := newWorld(t)
	srv := w.mailTo("owner@example.com")
	w.clock.Set(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	src := w.addSource("contoso", map[string]any{"secret_expires": "2026-06-15"})
	warnings := func() []directory.Event {
		evs, err := w.parts.Store.Events(t.Context(), src.AccountID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []directory.Event
		for _, e := range evs {
			if e.Type == directory.EventSourceSecretExpiry {
				out = append(out, e)
			}
		}
		return out
	}
	// Check every 6 hours for 50 days: 45 days left to 5 past expiry.
	var msgs []smtptest.Mail
	for end := w.clock.Now().Add(50 * 24 * time.Hour); w.clock.Now().Before(end); w.clock.Advance(6 * time.Hour) {
		if err := w.parts.Manager.CheckSecrets(t.Context()); err != nil {
			t.Fatal(err)
		}
		msgs = w.deliver(srv)
	}
	ws := warnings()
	if len(ws) != 4 {
		t.Fatalf("%d warnings, want 4 (30, 7 and 1 days, expired)", len(ws))
	}
	for i, want := range []string{`"days_left":30`, `"days_left":7`, `"days_left":1`, `"expired":true`} {
		if !strings.Contains(string(ws[i].Data), want) {
			t.Errorf("warning %d: %s, want %s", i, ws[i].Data, want)
		}
	}
	if len(msgs) != 4 || msgs[0].Subject != "dirsync: the client secret of source contoso expires in 30 days" ||
		msgs[0].Header.Get("To") != "<owner@example.com>" || msgs[3].Subject != "dirsync: the client secret of source contoso has expired" ||
		!strings.Contains(msgs[0].Text, "https://dirsync.example.com/sources/"+src.ID) ||
		!strings.Contains(msgs[0].HTML, `href="https://dirsync.example.com/sources/`+src.ID+`"`) {
		t.Fatalf("mails: %d %+v", len(msgs), msgs)
	}
	// A new secret, a year out: warnings start over.
	w.setConfig(src, map[string]any{"secret_expires": "2027-06-15"}, w.emu.Credentials().ClientSecret)
	w.parts.Manager.CheckSecrets(t.Context())
	w.clock.Set(time.Date(2027, 5, 20, 0, 0, 0, 0, time.UTC))
	w.parts.Manager.CheckSecrets(t.Context())
	if ws := warnings(); len(ws) != 5 {
		t.Fatalf("after a new secret: %d warnings, want 5", len(ws))
	}
	if msgs := w.deliver(srv); len(msgs) != 5 {
		t.Fatalf("after a new secret: %d mails, want 5", len(msgs))
	}
}

// TestReauthorizationNoticeOnce: refused credentials make one event and
// one mail, however many runs fail, until a run succeeds again.
func TestReauthorizationNoticeOnce(t *testing.T) {
	w := newWorld(t)
	srv := w.mailTo("o@example.com")
	c := w.emu.Credentials()
	src := w.addSource("contoso", nil)
	runAndWait := func() directory.Run {
		run, err := w.parts.Manager.RequestSync(t.Context(), w.admin(), src.ID, manage.SyncRequest{Trigger: "schedule"})
		if err != nil {
			t.Fatal(err)
		}
		return w.waitRun(run.ID)
	}
	count := func() int {
		evs, _ := w.parts.Store.Events(t.Context(), src.AccountID, 0, 0)
		n := 0
		for _, e := range evs {
			if e.Type == directory.EventSourceReauthorize {
				n++
			}
		}
		return n
	}
	w.setConfig(src, nil, "wrong-"+c.ClientSecret)
	runAndWait()
	runAndWait()
	st := w.parts.Store
	msgs := w.deliver(srv)
	if h, _ := st.SourceHealth(t.Context(), src.ID); !h.AuthFailing || count() != 1 || len(msgs) != 1 {
		t.Fatalf("after two refused runs: health %+v, %d events, %d mails", h, count(), len(msgs))
	}
	if m := msgs[0]; m.Subject != "dirsync: source contoso needs reauthorization" || strings.Contains(m.Text, "wrong-") ||
		!strings.Contains(m.Text, "https://dirsync.example.com/sources/"+src.ID) {
		t.Fatalf("mail: %+v", m)
	}
	if v, _ := w.parts.Manager.Source(t.Context(), w.admin(), src.ID); v.Status.State != manage.StateReauthorize {
		t.Fatalf("status %+v", v.Status)
	}
	w.setConfig(src, nil, c.ClientSecret)
	if run := runAndWait(); run.Outcome != directory.OutcomeSucceeded {
		t.Fatalf("the run with the right secret: %s %s", run.Outcome, run.Reason)
	}
	if h, _ := st.SourceHealth(t.Context(), src.ID); h.AuthFailing {
		t.Fatal("still failing after a good run")
	}
	w.setConfig(src, nil, "wrong-again")
	runAndWait()
	if count() != 2 || len(w.deliver(srv)) != 2 {
		t.Fatalf("a new refusal after recovery: %d events, want 2 (and 2 mails)", count())
	}
}

var _ = json.Marshal

// TestReauthorizationReachesEveryOwner: whoever the account's settings
// name for notifications, a reauthorization goes to every owner too (as
// Duo mails every Owner), and to nobody of the other roles.
func TestReauthorizationReachesEveryOwner(t *testing.T) {
	w := newWorld(t)
	srv := w.mailTo("team@example.com")
	ctx := t.Context()
	for _, u := range []manage.ConsoleUserInput{
		{Email: "first-owner@example.com", Role: "owner"},
		{Email: "second-owner@example.com", Role: "owner"},
		{Email: "admin@example.com", Role: "administrator"},
		{Email: "reader@example.com", Role: "read_only"},
	} {
		if _, err := w.parts.Manager.CreateConsoleUser(ctx, w.owner, u); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.parts.Manager.AccountSettings(ctx, w.owner)
	if err != nil {
		t.Fatal(err)
	}
	s.NotifyRoles, s.NotifyEmails = []manage.Role{manage.RoleAdministrator}, nil
	if _, err := w.parts.Manager.SetAccountSettings(ctx, w.owner, s); err != nil {
		t.Fatal(err)
	}
	src := w.addSource("contoso", nil)
	w.setConfig(src, nil, "wrong-"+w.emu.Credentials().ClientSecret)
	run, err := w.parts.Manager.RequestSync(ctx, w.owner, src.ID, manage.SyncRequest{Trigger: "schedule"})
	if err != nil {
		t.Fatal(err)
	}
	w.waitRun(run.ID)
	var to []string
	for _, m := range w.deliver(srv) {
		if m.Subject != "dirsync: source contoso needs reauthorization" {
			t.Fatalf("unexpected mail %q", m.Subject)
		}
		to = append(to, strings.Trim(m.Header.Get("To"), "<>"))
	}
	slices.Sort(to)
	if want := []string{"admin@example.com", "first-owner@example.com", "second-owner@example.com"}; !slices.Equal(to, want) {
		t.Fatalf("reauthorization mailed to %v, want %v", to, want)
	}
}
