package service

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
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

func TestSecretExpiryWarnedOncePerThreshold(t *testing.T) {
	st := newStore(t)
	sink := newSMTPSink(t)
	n := &Notifier{SMTP: SMTPConfig{Addr: sink.ln.Addr().String(), From: "dirsync@example.com", To: []string{"owner@example.com"}}}
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	acc := directory.Account{Name: "a"}
	src := addSource(t, st, &acc, "contoso", true, schedule.Schedule{Kind: schedule.None}, time.Time{})
	src.Config = []byte(`{"tenant":"contoso.example","secret_expires":"2026-06-15"}`)
	if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.UpdateSource(t.Context(), src) }); err != nil {
		t.Fatal(err)
	}
	s := &Scheduler{Store: st, Now: func() time.Time { return now }}
	warnings := func() []directory.Event {
		evs, err := st.Events(t.Context(), acc.ID, 0, 0)
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
	for end := now.Add(50 * 24 * time.Hour); now.Before(end); now = now.Add(6 * time.Hour) {
		if err := s.CheckSecrets(t.Context(), n); err != nil {
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
	src.Config = []byte(`{"tenant":"contoso.example","secret_expires":"2027-06-15"}`)
	if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.UpdateSource(t.Context(), src) }); err != nil {
		t.Fatal(err)
	}
	s.CheckSecrets(t.Context(), n)
	now = time.Date(2027, 5, 20, 0, 0, 0, 0, time.UTC)
	s.CheckSecrets(t.Context(), n)
	if ws := warnings(); len(ws) != 4 {
		t.Fatalf("after a new secret: %d warnings, want 4", len(ws))
	}
}

func TestReauthorizationNoticeOnce(t *testing.T) {
	st := newStore(t)
	sink := newSMTPSink(t)
	key := make([]byte, 32)
	rand.Read(key)
	box, _ := secret.New(key)
	tenant, err := entraemu.New(entraemu.Options{Users: 5, Groups: 1, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	emu, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	c := emu.Credentials()
	cfg, _ := json.Marshal(entra.Config{Tenant: c.TenantID, ClientID: c.ClientID, Cloud: "custom", AuthMethod: "secret",
		AuthorityURL: c.AuthorityURL, GraphURL: c.GraphURL, CAPEM: string(emu.CAPEM())})
	acc := directory.Account{Name: "a"}
	src := addSource(t, st, &acc, "contoso", true, schedule.Schedule{Kind: schedule.None}, time.Time{})
	setSecret := func(s string) {
		src.Config = cfg
		src.Secret, _ = box.Seal([]byte(s))
		if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.UpdateSource(t.Context(), src) }); err != nil {
			t.Fatal(err)
		}
	}
	r := &Runner{Store: st, Box: box, Workers: 1,
		Notifier: &Notifier{SMTP: SMTPConfig{Addr: sink.ln.Addr().String(), From: "d@example.com", To: []string{"o@example.com"}}}}
	runAndWait := func() {
		if _, err := r.Request(src, "delta", "schedule"); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); r.Running(src.ID); {
			if time.Now().After(deadline) {
				t.Fatal("run does not end")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	count := func() int {
		evs, _ := st.Events(t.Context(), acc.ID, 0, 0)
		n := 0
		for _, e := range evs {
			if e.Type == directory.EventSourceReauthorize {
				n++
			}
		}
		return n
	}
	setSecret("wrong-" + c.ClientSecret)
	runAndWait()
	runAndWait()
	svc := st
	if h, _ := svc.SourceHealth(t.Context(), src.ID); !h.AuthFailing || count() != 1 || len(sink.messages()) != 1 {
		t.Fatalf("after two refused runs: health %+v, %d events, %d mails", h, count(), len(sink.messages()))
	}
	if m := sink.messages()[0]; !strings.Contains(m, "Subject: dirsync: source contoso needs reauthorization") || strings.Contains(m, "wrong-") {
		t.Fatalf("mail: %s", m)
	}
	setSecret(c.ClientSecret)
	runAndWait()
	if h, _ := svc.SourceHealth(t.Context(), src.ID); h.AuthFailing {
		t.Fatal("still failing after a good run")
	}
	setSecret("wrong-again")
	runAndWait()
	if count() != 2 {
		t.Fatalf("a new refusal after recovery: %d events, want 2", count())
	}
	ctx, cancel := contextWithTimeout(t, 10*time.Second)
	defer cancel()
	r.Shutdown(ctx)
}
