package mail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/mail"
	"github.com/dirsync/dirsync/internal/mail/smtptest"
)

func sender(t *testing.T, srv *smtptest.Server, sec mail.Security, user, pass string) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(mail.Config{Addr: srv.Addr(), Security: sec, Username: user, Password: pass,
		From: "dirsync <dirsync@example.com>", RootCAs: srv.CertPool(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSendEachSecurity sends through STARTTLS, implicit TLS and a plain
// local relay, with and without authentication, and reads each mail as a
// mail client would.
func TestSendEachSecurity(t *testing.T) {
	for _, tc := range []struct {
		sec        mail.Security
		user, pass string
	}{
		{mail.StartTLS, "", ""},
		{mail.StartTLS, "dirsync", "s3cret"},
		{mail.ImplicitTLS, "dirsync", "s3cret"},
		{mail.NoTLS, "", ""},
	} {
		t.Run(string(tc.sec)+"/"+tc.user, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{Security: smtptest.Security(tc.sec), Username: tc.user, Password: tc.pass})
			s := sender(t, srv, tc.sec, tc.user, tc.pass)
			date := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
			err := s.Send(t.Context(), mail.Message{ID: "mail_1", To: "ada@example.com", Subject: "Enroll, Ada: é",
				Text: "Hello Ada,\nhttps://app.example.com/enroll?token=abc", HTML: "<p>Hello <b>Ada</b></p>", Date: date,
				Headers: map[string]string{"Auto-Submitted": "auto-generated"}})
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Wait(1)[0]
			if got.From != "dirsync@example.com" || len(got.To) != 1 || got.To[0] != "ada@example.com" {
				t.Fatalf("envelope %q -> %q", got.From, got.To)
			}
			m, err := smtptest.Parse(got.Data)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != "Enroll, Ada: é" || m.Header.Get("Message-Id") != "<mail_1@example.com>" ||
				m.Header.Get("Auto-Submitted") != "auto-generated" || !strings.Contains(m.Header.Get("From"), "dirsync@example.com") {
				t.Fatalf("headers %v (subject %q)", m.Header, m.Subject)
			}
			if d, err := m.Header.Date(); err != nil || !d.Equal(date) {
				t.Fatalf("date %v %v", d, err)
			}
			if m.ContentType != "multipart/alternative" || m.Text != "Hello Ada,\nhttps://app.example.com/enroll?token=abc" ||
				m.HTML != "<p>Hello <b>Ada</b></p>" {
				t.Fatalf("body %s text %q html %q", m.ContentType, m.Text, m.HTML)
			}
		})
	}
}

func TestSendRefusals(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Security: smtptest.StartTLS, Username: "u", Password: "p"})
	srv.Refuse("nobody@example.com")
	srv.TempFail("busy@example.com", 1)
	s := sender(t, srv, mail.StartTLS, "u", "p")
	err := s.Send(t.Context(), mail.Message{ID: "m1", To: "nobody@example.com", Subject: "x", Text: "x"})
	if !mail.IsRefused(err) || !mail.IsPermanent(err) || !strings.Contains(err.Error(), "550") {
		t.Fatalf("a refused address: %v (refused %v)", err, mail.IsRefused(err))
	}
	err = s.Send(t.Context(), mail.Message{ID: "m2", To: "busy@example.com", Subject: "x", Text: "x"})
	if err == nil || mail.IsPermanent(err) || mail.IsRefused(err) {
		t.Fatalf("a 451: %v", err)
	}
	if err := s.Send(t.Context(), mail.Message{ID: "m3", To: "busy@example.com", Subject: "x", Text: "x"}); err != nil {
		t.Fatalf("the second try: %v", err)
	}
	bad := sender(t, srv, mail.StartTLS, "u", "wrong")
	if err := bad.Send(t.Context(), mail.Message{ID: "m4", To: "a@example.com", Subject: "x", Text: "x"}); err == nil || mail.IsPermanent(err) {
		t.Fatalf("a wrong password is the deployment's to fix, and retried: %v", err)
	}
	// A server without STARTTLS: the mail is not sent in the clear.
	plain := smtptest.Start(t, smtptest.Options{Security: smtptest.NoTLS})
	if err := sender(t, plain, mail.StartTLS, "", "").Send(t.Context(), mail.Message{ID: "m5", To: "a@example.com", Subject: "x", Text: "x"}); err == nil {
		t.Fatal("sent without STARTTLS")
	}
	if n := len(plain.Messages()) + len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages taken, want 1", n)
	}
}

// TestCancelMidSend: a send cancelled while the server reads the message
// ends at once, and the server takes nothing.
func TestCancelMidSend(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Security: smtptest.StartTLS})
	holding := srv.Hold()
	s := sender(t, srv, mail.StartTLS, "", "")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- s.Send(ctx, mail.Message{ID: "m1", To: "a@example.com", Subject: "x", Text: strings.Repeat("x", 1<<20)})
	}()
	<-holding
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("cancelled send: %v", err)
	}
	srv.Release()
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("the server took %d messages", n)
	}
}

func TestValidAddress(t *testing.T) {
	for addr, want := range map[string]bool{
		"ada@example.com": true, "a.b+c@sub.example.co.uk": true, "": false, "ada": false, "ada@": false,
		"@example.com": false, "Ada <ada@example.com>": false, "ada@example.com, bob@example.com": false,
		"ada@.example.com": false, "ada example@example.com": false,
	} {
		if got := mail.ValidAddress(addr); got != want {
			t.Errorf("ValidAddress(%q) = %v", addr, got)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"name": "Ada <Lovelace> & co", "enrollment-link": "https://x/?a=1&b=2"}
	if got := mail.Expand("Hi <name>: <enrollment-link> <b>", vars, false); got != "Hi Ada <Lovelace> & co: https://x/?a=1&b=2 <b>" {
		t.Fatalf("text: %q", got)
	}
	if got := mail.Expand(`<p>Hi <name>: <a href="<enrollment-link>">go</a></p>`, vars, true); got != `<p>Hi Ada &lt;Lovelace&gt; &amp; co: <a href="https://x/?a=1&amp;b=2">go</a></p>` {
		t.Fatalf("html: %q", got)
	}
	if got := mail.OneLine("a\r\nBcc: x@y\n z"); got != "a Bcc: x@y z" {
		t.Fatalf("one line: %q", got)
	}
}
