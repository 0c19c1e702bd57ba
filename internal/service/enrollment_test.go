package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/mail/smtptest"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

const day = 24 * time.Hour

// enrollWorld is a service world whose tenant's users the test shapes,
// with a real SMTP server, a source and the API over HTTP.
type enrollWorld struct {
	*world
	srv   *smtptest.Server
	src   manage.SourceView
	users []model.User // the tenant's users, in order
	api   *httptest.Server
	token string
}

func newEnrollWorld(t *testing.T, users int, shape func(i int, u *model.User)) *enrollWorld {
	w := &enrollWorld{world: newWorld(t, func(o *entraemu.Options, _ *Config) { o.Users, o.Groups = users, 1 })}
	tn := w.emu.Tenant()
	for i, u := range tn.Users() {
		updated, err := tn.UpdateUser(u.ID, func(u *model.User) {
			u.AccountEnabled, u.MobilePhone, u.BusinessPhones, u.OtherMails = true, "", nil, nil
			u.Mail = fmt.Sprintf("user%d@example.com", i)
			if shape != nil {
				shape(i, u)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		w.users = append(w.users, updated)
	}
	w.srv = w.mailTo("admin@example.com")
	w.src = w.addSource("contoso", nil)
	w.api = httptest.NewServer(w.svc.Handler())
	t.Cleanup(w.api.Close)
	tok, err := w.parts.Manager.CreateToken(t.Context(), w.owner, "app", string(manage.RoleUserManager))
	if err != nil {
		t.Fatal(err)
	}
	w.token = tok.Token
	return w
}

func (w *enrollWorld) sync() directory.Run {
	w.t.Helper()
	run, err := w.parts.Manager.SyncNow(w.t.Context(), w.owner, w.src.ID, manage.SyncRequest{})
	if err != nil {
		w.t.Fatalf("sync: %v", err)
	}
	return run
}

func (w *enrollWorld) setScope(fn func(s *scope.Settings)) {
	w.t.Helper()
	v, err := w.parts.Manager.Source(w.t.Context(), w.owner, w.src.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	s := v.Scope
	fn(&s)
	if _, err := w.parts.Manager.SetScope(w.t.Context(), w.owner, w.src.ID, s); err != nil {
		w.t.Fatal(err)
	}
}

// cycle runs the service's mail cycle and returns the mails received since
// the last call.
func (w *enrollWorld) cycle(seen *int) []smtptest.Mail {
	w.t.Helper()
	all := w.deliver(w.srv)
	out := all[*seen:]
	*seen = len(all)
	return out
}

func (w *enrollWorld) call(method, path string, body any) (int, []byte) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, w.api.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func (w *enrollWorld) pending() []manage.EnrollmentView {
	w.t.Helper()
	page, err := w.parts.Manager.Enrollments(w.t.Context(), w.owner, manage.EnrollmentQuery{})
	if err != nil {
		w.t.Fatal(err)
	}
	return page.Items
}

var linkRE = regexp.MustCompile(`https://app\.example\.com/enroll\?\S+`)

// link finds the enrollment link in a mail's text, and checks the HTML
// part carries the same one.
func link(t *testing.T, m smtptest.Mail) *url.URL {
	t.Helper()
	l := linkRE.FindString(m.Text)
	if l == "" {
		t.Fatalf("no link in %q", m.Text)
	}
	if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(l, "&", "&amp;")+`"`) {
		t.Fatalf("the HTML part does not link %s: %q", l, m.HTML)
	}
	u, err := url.Parse(l)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func setTemplate(t *testing.T, w *world) {
	t.Helper()
	subject := "Enroll, <name>"
	text := "Hello <name> (<username>, <email>),\nenroll here: <enrollment-link>\nvalid until <expiry>."
	html := `<p>Hello <name> (<username>)</p><p><a href="<enrollment-link>">Enroll</a> before <expiry></p>`
	lnk := "https://app.example.com/enroll?user={user_id}&token={token}"
	if _, err := w.parts.Manager.SetEnrollmentSettings(t.Context(), w.owner, manage.EnrollmentInput{Subject: &subject, Text: &text,
		HTML: &html, Link: &lnk}); err != nil {
		t.Fatal(err)
	}
}

// TestEnrollmentCycle runs Duo's whole cycle against a real SMTP server on
// a fake clock: who gets the first mail (active, with an address, not
// enrolled, no phone when phones are imported, not disabled or in the
// trash), the mail as a client reads it, both reminders, a resend that
// keeps the expiry, the expiry, the new link at the next sync, and the
// application's confirmation through the API ending the cycle.
func TestEnrollmentCycle(t *testing.T) {
	w := newEnrollWorld(t, 6, func(i int, u *model.User) {
		switch i {
		case 0:
			u.DisplayName, u.GivenName, u.Surname = "Ada <Lovelace> & Co", "Ada", "Lovelace"
		case 1:
			u.AccountEnabled = false
		case 2:
			u.Mail = ""
		case 3:
			u.MobilePhone = "+14255550101"
		}
	})
	ctx := t.Context()
	w.sync()
	// Enrollment cannot be turned on before the application's link is set.
	v, _ := w.parts.Manager.Source(ctx, w.owner, w.src.ID)
	s := v.Scope
	s.SendEnrollment = true
	if _, err := w.parts.Manager.SetScope(ctx, w.owner, w.src.ID, s); manage.KindOf(err) != manage.Invalid || !strings.Contains(err.Error(), "link") {
		t.Fatalf("send enrollment without a link: %v", err)
	}
	setTemplate(t, w.world)
	// User 4 enrolled before (through the application, by id).
	if _, err := w.parts.Manager.ConfirmEnrollment(ctx, w.owner, w.users[4].UserPrincipalName, ""); err != nil {
		t.Fatal(err)
	}
	w.setScope(func(s *scope.Settings) { s.SendEnrollment, s.ImportPhones = true, true })
	// User 5 leaves: in the trash after the next run.
	if err := w.emu.Tenant().DeleteUser(w.users[5].ID); err != nil {
		t.Fatal(err)
	}
	start := w.clock.Now()
	w.sync()
	seen := 0
	got := w.cycle(&seen)
	if len(got) != 1 || got[0].Header.Get("To") != "<user0@example.com>" {
		t.Fatalf("first mails: %d %+v; want one, to user 0", len(got), got)
	}
	first := got[0]
	u0, err := w.parts.Manager.User(ctx, w.owner, w.users[0].UserPrincipalName)
	if err != nil {
		t.Fatal(err)
	}
	expiry := start.Add(30 * day)
	wantText := fmt.Sprintf("Hello Ada <Lovelace> & Co (%s, user0@example.com),\nenroll here: ", u0.Username)
	if first.Subject != "Enroll, Ada <Lovelace> & Co" || !strings.HasPrefix(first.Text, wantText) ||
		!strings.HasSuffix(first.Text, "valid until "+expiry.Format("2 January 2006 15:04 MST")+".") ||
		!strings.Contains(first.HTML, "<p>Hello Ada &lt;Lovelace&gt; &amp; Co ("+u0.Username+")</p>") ||
		first.ContentType != "multipart/alternative" || first.Header.Get("Auto-Submitted") != "auto-generated" ||
		!strings.HasSuffix(first.Header.Get("Message-Id"), "@example.com>") || first.Header.Get("From") != "<dirsync@example.com>" {
		t.Fatalf("first mail:\nsubject %q\ntext %q\nhtml %q\nheaders %v", first.Subject, first.Text, first.HTML, first.Header)
	}
	firstLink := link(t, first)
	if firstLink.Query().Get("user") != u0.ID || len(firstLink.Query().Get("token")) < 40 {
		t.Fatalf("link %s", firstLink)
	}
	p := w.pending()
	if len(p) != 1 || p[0].UserID != u0.ID || !p[0].ExpiresAt.Equal(expiry) || p[0].Email != "user0@example.com" || p[0].MailState != store.MailSent {
		t.Fatalf("pending %+v", p)
	}

	// Day 1: nothing; day 2: the first reminder, with a token of its own.
	w.clock.Set(start.Add(day))
	if got := w.cycle(&seen); len(got) != 0 {
		t.Fatalf("day 1: %d mails", len(got))
	}
	w.clock.Set(start.Add(2 * day))
	got = w.cycle(&seen)
	if len(got) != 1 || got[0].Subject != "Reminder: Enroll, Ada <Lovelace> & Co" {
		t.Fatalf("day 2: %+v", got)
	}
	reminderLink := link(t, got[0])
	if reminderLink.Query().Get("token") == firstLink.Query().Get("token") {
		t.Fatal("the reminder reuses the first token")
	}
	// Both links work (checked without using them).
	for _, l := range []*url.URL{firstLink, reminderLink} {
		if code, body := w.call("POST", "/api/v1/enrollments/verify", map[string]string{"token": l.Query().Get("token")}); code != 200 {
			t.Fatalf("verify: %d %s", code, body)
		}
	}

	// Day 5: resend; the expiry stays.
	w.clock.Set(start.Add(5 * day))
	if code, body := w.call("POST", "/api/v1/users/"+u0.ID+"/enrollment/resend", nil); code != 202 {
		t.Fatalf("resend: %d %s", code, body)
	}
	if got := w.cycle(&seen); len(got) != 1 || got[0].Subject != "Enroll, Ada <Lovelace> & Co" {
		t.Fatalf("resend: %+v", got)
	}
	if p := w.pending(); len(p) != 1 || !p[0].ExpiresAt.Equal(expiry) || p[0].RemindersSent != 1 {
		t.Fatalf("after the resend: %+v", p)
	}

	// Day 10 (8 days after the first reminder): the second; then none.
	w.clock.Set(start.Add(10*day - time.Minute))
	if got := w.cycle(&seen); len(got) != 0 {
		t.Fatalf("before day 10: %d mails", len(got))
	}
	w.clock.Set(start.Add(10 * day))
	if got := w.cycle(&seen); len(got) != 1 || !strings.HasPrefix(got[0].Subject, "Reminder: ") {
		t.Fatalf("day 10: %+v", got)
	}
	for d := 11; d < 30; d += 3 {
		w.clock.Set(start.Add(time.Duration(d) * day))
		if got := w.cycle(&seen); len(got) != 0 {
			t.Fatalf("day %d: %d mails", d, len(got))
		}
	}

	// Day 30: the links expire; nothing is mailed until the next sync.
	w.clock.Set(start.Add(30 * day))
	if got := w.cycle(&seen); len(got) != 0 {
		t.Fatalf("day 30: %d mails", len(got))
	}
	if p := w.pending(); len(p) != 1 || p[0].Status != store.EnrollmentExpired {
		t.Fatalf("after expiry: %+v", p)
	}
	code, body := w.call("POST", "/api/v1/users/"+u0.ID+"/enrollment", map[string]string{"token": firstLink.Query().Get("token")})
	if code != 409 || !strings.Contains(string(body), "link_expired") {
		t.Fatalf("an expired link: %d %s", code, body)
	}
	w.clock.Set(start.Add(31 * day))
	w.sync()
	got = w.cycle(&seen)
	if len(got) != 1 || got[0].Header.Get("To") != "<user0@example.com>" {
		t.Fatalf("regeneration: %+v", got)
	}
	newLink := link(t, got[0])
	if p := w.pending(); len(p) != 1 || p[0].Status != store.EnrollmentPending || !p[0].ExpiresAt.Equal(start.Add(61*day)) {
		t.Fatalf("the new cycle: %+v", p)
	}

	// The application confirms with the new link's token, as its link
	// page would: the cycle ends, once; the feed says user.enrolled.
	after, _ := w.parts.Manager.LastEventSeq(ctx, w.owner)
	path := "/api/v1/users/" + newLink.Query().Get("user") + "/enrollment"
	if code, body := w.call("POST", path, map[string]string{"token": newLink.Query().Get("token")}); code != 200 || !strings.Contains(string(body), `"status":"enrolled"`) {
		t.Fatalf("confirm: %d %s", code, body)
	}
	if code, body := w.call("POST", path, map[string]string{"token": newLink.Query().Get("token")}); code != 409 {
		t.Fatalf("the token used twice: %d %s", code, body)
	}
	evs, _ := w.parts.Manager.Events(ctx, w.owner, after, 0)
	if len(evs) != 1 || evs[0].Type != directory.EventUserEnrolled || !strings.Contains(string(evs[0].Data), u0.ID) {
		t.Fatalf("events %+v", evs)
	}
	if p := w.pending(); len(p) != 0 {
		t.Fatalf("pending after enrollment: %+v", p)
	}
	// No mail ever again: reminders, syncs, expiry.
	for d := 32; d < 100; d += 4 {
		w.clock.Set(start.Add(time.Duration(d) * day))
		if d%20 == 0 {
			w.sync()
		}
		if got := w.cycle(&seen); len(got) != 0 {
			t.Fatalf("day %d after enrollment: %+v", d, got)
		}
	}
	// The log holds every mail: 1 first, 2 reminders, 1 resend, 1 new link.
	page, err := w.parts.Manager.Mails(ctx, w.owner, manage.MailQuery{User: u0.ID})
	if err != nil || len(page.Items) != 5 {
		t.Fatalf("mail log: %d %v", len(page.Items), err)
	}
	kinds := map[string]int{}
	for _, m := range page.Items {
		kinds[m.Kind]++
		if m.State != store.MailSent || m.To != "user0@example.com" || m.FinishedAt.IsZero() {
			t.Errorf("log entry %+v", m)
		}
	}
	if kinds[manage.MailEnrollment] != 2 || kinds[manage.MailEnrollmentReminder] != 2 || kinds[manage.MailEnrollmentResend] != 1 {
		t.Fatalf("kinds %v", kinds)
	}
}

// TestEnrollmentRefusedAndSingleUser: a refused address is recorded,
// shown, never retried, and gets no new cycle until it changes; a
// single-user sync that creates a user mails it.
func TestEnrollmentRefusedAndSingleUser(t *testing.T) {
	w := newEnrollWorld(t, 2, nil)
	ctx := t.Context()
	setTemplate(t, w.world)
	w.setScope(func(s *scope.Settings) { s.SendEnrollment = true })
	w.srv.Refuse("user1@example.com")
	w.sync()
	seen := 0
	if got := w.cycle(&seen); len(got) != 1 || got[0].Header.Get("To") != "<user0@example.com>" {
		t.Fatalf("mails %+v", got)
	}
	page, _ := w.parts.Manager.Mails(ctx, w.owner, manage.MailQuery{State: store.MailRefused})
	if len(page.Items) != 1 || page.Items[0].To != "user1@example.com" || !strings.Contains(page.Items[0].LastError, "550") {
		t.Fatalf("refused in the log: %+v", page.Items)
	}
	var refused *manage.EnrollmentView
	for _, p := range w.pending() {
		if p.Email == "user1@example.com" {
			refused = &p
		}
	}
	if refused == nil || refused.Status != store.EnrollmentRefused || refused.MailState != store.MailRefused || refused.MailError == "" {
		t.Fatalf("the refused address in the pending list: %+v", refused)
	}
	// Not retried, no reminder, no new cycle at the next sync.
	w.clock.Advance(3 * day)
	w.sync()
	if got := w.cycle(&seen); len(got) != 1 || got[0].Header.Get("To") != "<user0@example.com>" {
		t.Fatalf("after the refusal: %d mails %+v", len(got), got)
	}
	if m, _ := w.parts.Store.Mail(ctx, page.Items[0].AccountID, page.Items[0].ID); m.Attempts != 1 {
		t.Fatalf("refused mail attempts %d", m.Attempts)
	}
	// The address is corrected at the source: the next sync mails it.
	if _, err := w.emu.Tenant().UpdateUser(w.users[1].ID, func(u *model.User) { u.Mail = "user1.fixed@example.com" }); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if got := w.cycle(&seen); len(got) != 1 || got[0].Header.Get("To") != "<user1.fixed@example.com>" {
		t.Fatalf("after the fix: %+v", got)
	}

	// A new user at the source, synced alone: mailed at once.
	nu, err := w.emu.Tenant().CreateUser(model.User{UserPrincipalName: "grace@" + w.users[0].UserPrincipalName[strings.Index(w.users[0].UserPrincipalName, "@")+1:],
		DisplayName: "Grace Hopper", MailNickname: "grace", Mail: "grace@example.com", AccountEnabled: true, UserType: "Member"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := w.parts.Manager.SyncUser(ctx, w.owner, w.src.ID, nu.UserPrincipalName, false)
	if err != nil || run.Kind != directory.RunSingle || run.Counts.Created != 1 {
		t.Fatalf("single-user sync: %+v %v", run, err)
	}
	got := w.cycle(&seen)
	if len(got) != 1 || got[0].Header.Get("To") != "<grace@example.com>" || !strings.HasPrefix(got[0].Text, "Hello Grace Hopper") {
		t.Fatalf("single-user mails: %+v", got)
	}
}
