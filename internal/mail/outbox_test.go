package mail_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/mail"
	"github.com/dirsync/dirsync/internal/mail/smtptest"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
)

type outboxWorld struct {
	st    store.Store
	box   *secret.Box
	clock *clock.Fake
	acc   directory.Account
	srv   *smtptest.Server
	smtp  *mail.SMTP
}

func newOutboxWorld(t *testing.T, st store.Store, clk *clock.Fake) *outboxWorld {
	key := make([]byte, 32)
	box, err := secret.New(key)
	if err != nil {
		t.Fatal(err)
	}
	w := &outboxWorld{st: st, box: box, clock: clk, acc: directory.Account{Name: "acme"}}
	if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.CreateAccount(t.Context(), &w.acc) }); err != nil {
		t.Fatal(err)
	}
	w.srv = smtptest.Start(t, smtptest.Options{Security: smtptest.StartTLS})
	w.smtp = sender(t, w.srv, mail.StartTLS, "", "")
	return w
}

func sqliteWorld(t *testing.T) *outboxWorld {
	clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "m.db"), sqlstore.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newOutboxWorld(t, st, clk)
}

func (w *outboxWorld) outbox(holder string) *mail.Outbox {
	return &mail.Outbox{Store: w.st, Box: w.box, Sender: w.smtp, Clock: w.clock, Holder: holder}
}

func (w *outboxWorld) enqueue(t *testing.T, to, key string) store.Mail {
	t.Helper()
	return w.enqueueText(t, to, key, "hello "+to)
}

func (w *outboxWorld) enqueueText(t *testing.T, to, key, text string) store.Mail {
	t.Helper()
	body, err := mail.Body{Text: text, HTML: "<p>hello</p>"}.Seal(w.box)
	if err != nil {
		t.Fatal(err)
	}
	m := store.Mail{AccountID: w.acc.ID, Kind: "test", To: to, Subject: "Hello", Body: body, DedupeKey: key, CreatedAt: w.clock.Now()}
	if err := w.st.Update(t.Context(), func(tx store.Tx) error { _, err := tx.EnqueueMail(t.Context(), &m); return err }); err != nil {
		t.Fatal(err)
	}
	return m
}

func (w *outboxWorld) mail(t *testing.T, id string) store.Mail {
	t.Helper()
	m, err := w.st.Mail(t.Context(), w.acc.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOutboxOutcomes: a mail is sent once and its body dropped; a refused
// address is recorded and never retried; a failure that may pass is
// retried with growing waits, then given up after the retry window; a
// dedupe key makes a second mail a no-op.
func TestOutboxOutcomes(t *testing.T) {
	w := sqliteWorld(t)
	w.srv.Refuse("gone@example.com")
	w.srv.TempFail("busy@example.com", 1000)
	ok := w.enqueue(t, "ada@example.com", "k1")
	gone := w.enqueue(t, "gone@example.com", "")
	busy := w.enqueue(t, "busy@example.com", "")
	var dup store.Mail
	w.st.Update(t.Context(), func(tx store.Tx) error {
		dup = store.Mail{AccountID: w.acc.ID, Kind: "test", To: "ada@example.com", DedupeKey: "k1"}
		added, err := tx.EnqueueMail(t.Context(), &dup)
		if added {
			t.Error("a second mail with the same dedupe key was queued")
		}
		return err
	})
	ob := w.outbox("a")
	d, err := ob.Deliver(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d.Sent != 1 || d.Refused != 1 || d.Retried != 1 {
		t.Fatalf("delivered %+v", d)
	}
	if m := w.mail(t, ok.ID); m.State != store.MailSent || m.Body != nil || m.Attempts != 1 || m.FinishedAt.IsZero() {
		t.Fatalf("sent mail %+v", m)
	}
	if m := w.mail(t, gone.ID); m.State != store.MailRefused || m.LastError == "" || m.Body != nil {
		t.Fatalf("refused mail %+v", m)
	}
	m := w.mail(t, busy.ID)
	if m.State != store.MailQueued || !m.NextAttemptAt.Equal(w.clock.Now().Add(time.Minute)) || m.Body == nil {
		t.Fatalf("retried mail %+v", m)
	}
	// Nothing is due until the backoff passes.
	if d, _ := ob.Deliver(t.Context()); d != (mail.Delivered{}) {
		t.Fatalf("before the backoff: %+v", d)
	}
	var waits []time.Duration
	for m.State == store.MailQueued {
		w.clock.Set(m.NextAttemptAt)
		before := w.clock.Now()
		if _, err := ob.Deliver(t.Context()); err != nil {
			t.Fatal(err)
		}
		m = w.mail(t, busy.ID)
		if m.State == store.MailQueued {
			waits = append(waits, m.NextAttemptAt.Sub(before))
		}
	}
	if waits[0] != 2*time.Minute || waits[1] != 4*time.Minute || waits[len(waits)-1] != time.Hour {
		t.Fatalf("waits %v", waits)
	}
	if m.State != store.MailFailed || w.clock.Now().Sub(m.CreatedAt) < 24*time.Hour {
		t.Fatalf("given up %+v", m)
	}
	if n := len(w.srv.Messages()); n != 1 {
		t.Fatalf("%d messages received, want 1", n)
	}
}

// TestOutboxRestartMidSend: a process stopped in the middle of sending
// leaves the mail unsent and claimable; the next process sends it, once.
// A process that dies without a word holds its claim until it runs out.
func TestOutboxRestartMidSend(t *testing.T) {
	w := sqliteWorld(t)
	// Larger than what the sockets buffer: the stop comes while the
	// message is still on its way, before the server can have it whole.
	m := w.enqueueText(t, "ada@example.com", "", strings.Repeat("enroll now\n", 200_000))
	holding := w.srv.Hold()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := w.outbox("first").Deliver(ctx); done <- err }()
	<-holding
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the stopped process reported no error")
	}
	w.srv.Release()
	if got := w.mail(t, m.ID); got.State != store.MailQueued || got.Attempts != 0 {
		t.Fatalf("after the stop: %+v", got)
	}
	if d, err := w.outbox("second").Deliver(t.Context()); err != nil || d.Sent != 1 {
		t.Fatalf("second process: %+v %v", d, err)
	}
	if n := len(w.srv.Messages()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}

	// A crash: the claim stays until its lease runs out.
	m2 := w.enqueue(t, "bob@example.com", "")
	w.st.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.ClaimMail(t.Context(), "dead", w.clock.Now(), w.clock.Now().Add(mail.DefaultLease), 10)
		return err
	})
	if d, _ := w.outbox("third").Deliver(t.Context()); d.Sent != 0 {
		t.Fatalf("sent a mail another process holds: %+v", d)
	}
	w.clock.Advance(mail.DefaultLease + time.Second)
	if d, _ := w.outbox("third").Deliver(t.Context()); d.Sent != 1 {
		t.Fatalf("after the lease: %+v", d)
	}
	if got := w.mail(t, m2.ID); got.State != store.MailSent {
		t.Fatalf("%+v", got)
	}
}

// TestOutboxReplicas: replicas delivering from one database at once send
// each mail once (SQLite and PostgreSQL).
func TestOutboxReplicas(t *testing.T) {
	for _, flavor := range []string{"sqlite", "postgres"} {
		t.Run(flavor, func(t *testing.T) {
			var w *outboxWorld
			if flavor == "sqlite" {
				w = sqliteWorld(t)
			} else {
				clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
				st, err := sqlstore.OpenPostgres(t.Context(), sqltest.PostgresDSN(t), sqlstore.WithClock(clk))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				w = newOutboxWorld(t, st, clk)
			}
			const n = 60
			for i := range n {
				w.enqueue(t, "u"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.com", "")
			}
			var wg sync.WaitGroup
			for r := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := w.outbox(string(rune('p' + r))).Deliver(t.Context()); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			got := w.srv.Messages()
			seen := map[string]int{}
			for _, r := range got {
				seen[r.To[0]]++
			}
			if len(got) != n || len(seen) != n {
				t.Fatalf("%d messages to %d addresses, want %d each once", len(got), len(seen), n)
			}
			page, err := w.st.Mails(t.Context(), w.acc.ID, store.MailQuery{State: store.MailSent})
			if err != nil || len(page.Items) != n {
				t.Fatalf("%d sent in the log, %v", len(page.Items), err)
			}
		})
	}
}
