package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/smtp"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// SMTPConfig is where notifications to the owners are mailed. The model has
// no owners' addresses, so the deployment lists them.
type SMTPConfig struct {
	Addr     string   `json:"addr"` // host:port
	From     string   `json:"from"`
	To       []string `json:"to"`
	Username string   `json:"username,omitempty"`
	// Password comes from the environment (DIRSYNC_SMTP_PASSWORD), never a file or flag.
	Password string `json:"-"`
}

// Notifier tells the account's owners about a source that needs them: by
// mail when SMTP is configured; the event in the feed is written regardless.
type Notifier struct {
	SMTP   SMTPConfig
	Logger *slog.Logger
	// Send is smtp.SendMail; tests may replace it.
	Send func(addr string, a smtp.Auth, from string, to []string, msg []byte) error
}

// Notify mails the event's subject and text; failures are logged, as the
// event itself already records what happened.
func (n *Notifier) Notify(subject, text string) {
	if n == nil || n.SMTP.Addr == "" || len(n.SMTP.To) == 0 {
		return
	}
	send := n.Send
	if send == nil {
		send = smtp.SendMail
	}
	var auth smtp.Auth
	if n.SMTP.Username != "" {
		host, _, _ := strings.Cut(n.SMTP.Addr, ":")
		auth = smtp.PlainAuth("", n.SMTP.Username, n.SMTP.Password, host)
	}
	// Header values are ours (source names may be anyone's: strip line breaks).
	clean := strings.NewReplacer("\r", " ", "\n", " ")
	msg := "From: " + n.SMTP.From + "\r\nTo: " + strings.Join(n.SMTP.To, ", ") + "\r\nSubject: " + clean.Replace(subject) +
		"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(text, "\n", "\r\n") + "\r\n"
	if err := send(n.SMTP.Addr, auth, n.SMTP.From, n.SMTP.To, []byte(msg)); err != nil && n.Logger != nil {
		n.Logger.Warn("notification mail not sent", "subject", subject, "err", err)
	}
}

// health reads the source's health record, empty when none.
func health(ctx context.Context, rd store.Reader, src directory.Source) (store.SourceHealth, error) {
	h, err := rd.SourceHealth(ctx, src.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.SourceHealth{SourceID: src.ID, AccountID: src.AccountID}, nil
	}
	return h, err
}

// noteAuth records whether the run's source refused its credentials, and
// on the first refusal writes source.reauthorization_required (with the
// health record, in one transaction) and tells the owners.
func noteAuth(ctx context.Context, st store.Store, n *Notifier, src directory.Source, run directory.Run, runErr error, now time.Time) error {
	refused := connector.KindOf(runErr) == connector.KindAuth
	var notify bool
	err := st.Update(ctx, func(tx store.Tx) error {
		stx := tx
		h, err := health(ctx, stx, src)
		if err != nil {
			return err
		}
		switch {
		case refused && !h.AuthFailing:
			h.AuthFailing, h.AuthMessage, h.Since = true, runErr.Error(), now
			data, _ := json.Marshal(map[string]any{"source": src.Name, "kind": src.Kind, "message": h.AuthMessage, "run_id": run.ID})
			if err := tx.AppendEvents(ctx, []directory.Event{{AccountID: src.AccountID, Type: directory.EventSourceReauthorize,
				Time: now, SourceID: src.ID, RunID: run.ID, Data: data}}); err != nil {
				return err
			}
			notify = true
		case !refused && h.AuthFailing && run.Outcome == directory.OutcomeSucceeded:
			h.AuthFailing, h.AuthMessage, h.Since = false, "", now
		default:
			return nil
		}
		return stx.SetSourceHealth(ctx, h)
	})
	if err != nil {
		return fmt.Errorf("record health of source %s: %w", src.Name, err)
	}
	if notify {
		n.Notify("dirsync: source "+src.Name+" needs reauthorization",
			fmt.Sprintf("dirsync could not authenticate to source %s (%s): %v\n\nUpdate its credentials (PATCH /api/v1/sources/%s with a new secret); until then it does not sync.",
				src.Name, src.Kind, runErr, src.ID))
	}
	return nil
}

// expiryThresholds are the days before a secret's expiry at which owners
// are warned, as the issue asks.
var expiryThresholds = []int{30, 7, 1}

// CheckSecrets warns, once per threshold, about sources whose client
// secret expires within 30, 7 or 1 days: a source.secret_expiring event
// and a mail. A secret replaced by one that expires later resets the warnings.
func (s *Scheduler) CheckSecrets(ctx context.Context, n *Notifier) error {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	accs, err := s.Store.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("check secrets: %w", err)
	}
	for _, acc := range accs {
		srcs, err := s.Store.Sources(ctx, acc.ID)
		if err != nil {
			return fmt.Errorf("check secrets: %w", err)
		}
		for _, src := range srcs {
			if err := s.checkSecret(ctx, n, src, now); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Scheduler) checkSecret(ctx context.Context, n *Notifier, src directory.Source, now time.Time) error {
	var cfg struct {
		SecretExpires string `json:"secret_expires"`
	}
	if json.Unmarshal(src.Config, &cfg) != nil || cfg.SecretExpires == "" {
		return nil
	}
	exp, err := time.Parse(time.DateOnly, cfg.SecretExpires)
	if err != nil {
		return nil
	}
	days := int(exp.Sub(now).Hours() / 24)
	due := 0 // the smallest threshold reached
	for _, t := range expiryThresholds {
		if days <= t {
			due = t
		}
	}
	var notify bool
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		stx := tx
		h, err := health(ctx, stx, src)
		if err != nil {
			return err
		}
		switch {
		case due == 0 && h.ExpiryNotifiedDays != 0:
			h.ExpiryNotifiedDays = 0 // a new secret
		case due != 0 && (h.ExpiryNotifiedDays == 0 || due < h.ExpiryNotifiedDays):
			h.ExpiryNotifiedDays = due
			data, _ := json.Marshal(map[string]any{"source": src.Name, "expires": cfg.SecretExpires, "days_left": days})
			if err := tx.AppendEvents(ctx, []directory.Event{{AccountID: src.AccountID, Type: directory.EventSourceSecretExpiry,
				Time: now, SourceID: src.ID, Data: data}}); err != nil {
				return err
			}
			notify = true
		default:
			return nil
		}
		return stx.SetSourceHealth(ctx, h)
	})
	if err != nil {
		return fmt.Errorf("check secret of source %s: %w", src.Name, err)
	}
	if notify {
		n.Notify(fmt.Sprintf("dirsync: the client secret of source %s expires in %d days", src.Name, days),
			fmt.Sprintf("The client secret of source %s expires on %s (%d days). Create a new secret in Entra ID and give it to dirsync (PATCH /api/v1/sources/%s) before then, or the source stops syncing.",
				src.Name, cfg.SecretExpires, days, src.ID))
	}
	return nil
}
