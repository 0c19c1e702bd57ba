package service

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// smtpSink is just enough of an SMTP server on 127.0.0.1 for net/smtp: it
// keeps each message's data.
type smtpSink struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
}

func newSMTPSink(t *testing.T) *smtpSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(line string) { c.Write([]byte(line + "\r\n")) }
	say("220 sink ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 sink")
		case strings.HasPrefix(cmd, "DATA"):
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			say("250 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (s *smtpSink) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// TestSecretExpiryWarnedOncePerThreshold: the owners get one mail at 30, 7
// and 1 days before a client secret expires, and again for a new secret.
func TestSecretExpiryWarnedOncePerThreshold(t *testing.T) {
	w := newWorld(t)
	sink := newSMTPSink(t)
	n := &Notifier{SMTP: SMTPConfig{Addr: sink.ln.Addr().String(), From: "dirsync@example.com", To: []string{"owner@example.com"}}}
	w.parts.Manager.SetNotify(n.Notify)
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
	for end := w.clock.Now().Add(50 * 24 * time.Hour); w.clock.Now().Before(end); w.clock.Advance(6 * time.Hour) {
		if err := w.parts.Manager.CheckSecrets(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	ws := warnings()
	if len(ws) != 3 {
		t.Fatalf("%d warnings, want 3 (30, 7 and 1 days)", len(ws))
	}
	for i, want := range []string{`"days_left":30`, `"days_left":7`, `"days_left":1`} {
		if !strings.Contains(string(ws[i].Data), want) {
			t.Errorf("warning %d: %s, want %s", i, ws[i].Data, want)
		}
	}
	msgs := sink.messages()
	if len(msgs) != 3 || !strings.Contains(msgs[0], "Subject: dirsync: the client secret of source contoso expires in 30 days") ||
		!strings.Contains(msgs[0], "To: owner@example.com") {
		t.Fatalf("mails: %d %q", len(msgs), msgs)
	}
	// A new secret, a year out: warnings start over.
	w.setConfig(src, map[string]any{"secret_expires": "2027-06-15"}, w.emu.Credentials().ClientSecret)
	w.parts.Manager.CheckSecrets(t.Context())
	w.clock.Set(time.Date(2027, 5, 20, 0, 0, 0, 0, time.UTC))
	w.parts.Manager.CheckSecrets(t.Context())
	if ws := warnings(); len(ws) != 4 {
		t.Fatalf("after a new secret: %d warnings, want 4", len(ws))
	}
}

// TestReauthorizationNoticeOnce: refused credentials make one event and
// one mail, however many runs fail, until a run succeeds again.
func TestReauthorizationNoticeOnce(t *testing.T) {
	w := newWorld(t)
	sink := newSMTPSink(t)
	w.parts.Manager.SetNotify((&Notifier{SMTP: SMTPConfig{Addr: sink.ln.Addr().String(), From: "d@example.com", To: []string{"o@example.com"}}}).Notify)
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
	if h, _ := st.SourceHealth(t.Context(), src.ID); !h.AuthFailing || count() != 1 || len(sink.messages()) != 1 {
		t.Fatalf("after two refused runs: health %+v, %d events, %d mails", h, count(), len(sink.messages()))
	}
	if m := sink.messages()[0]; !strings.Contains(m, "Subject: dirsync: source contoso needs reauthorization") || strings.Contains(m, "wrong-") {
		t.Fatalf("mail: %s", m)
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
	if count() != 2 {
		t.Fatalf("a new refusal after recovery: %d events, want 2", count())
	}
}

var _ = json.Marshal
