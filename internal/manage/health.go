package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// What a source's runs say about its credentials, kept beside its runs so
// that its status reads "reauthorization required" until a run succeeds,
// and its owners are told once, not at every run.

// health reads the source's health record, empty when none.
func health(ctx context.Context, rd store.Reader, src directory.Source) (store.SourceHealth, error) {
	h, err := rd.SourceHealth(ctx, src.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.SourceHealth{SourceID: src.ID, AccountID: src.AccountID}, nil
	}
	return h, err
}

// noteRun records what a run that ended says about the source: its
// credentials (reauthorization), a streak of failures or a stopped run
// (notifications), and the enrollment mail it owes the users it brought
// in (who names the user of a single-user run). It logs, rather than
// returns, its own failures: the run has ended and is recorded either way.
func (m *Manager) noteRun(ctx context.Context, src directory.Source, run directory.Run, runErr error, who string) {
	if run.ID == "" || run.DryRun {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err := m.noteAuth(ctx, src, run, runErr); err != nil {
		m.d.Logger.Error("source health", "source", src.ID, "err", err)
	}
	if err := m.noteOutcome(ctx, src, run, runErr); err != nil {
		m.d.Logger.Error("run notification", "source", src.ID, "run", run.ID, "err", err)
	}
	m.enrollAfterRun(ctx, src, run, who)
}

// noteAuth records whether the run's source refused its credentials, and on
// the first refusal writes source.reauthorization_required and queues the
// owners' notification, with the health record, in one transaction.
func (m *Manager) noteAuth(ctx context.Context, src directory.Source, run directory.Run, runErr error) error {
	refused := connector.KindOf(runErr) == connector.KindAuth
	now := m.now()
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		h, err := health(ctx, tx, src)
		if err != nil {
			return err
		}
		switch {
		case refused && !h.AuthFailing:
			message := connectorMessage(runErr)
			h.AuthFailing, h.AuthMessage, h.Since = true, message, now
			data, _ := json.Marshal(map[string]any{"source": src.Name, "kind": src.Kind, "message": h.AuthMessage, "run_id": run.ID})
			if err := tx.AppendEvents(ctx, []directory.Event{{AccountID: src.AccountID, Type: directory.EventSourceReauthorize,
				Time: now, SourceID: src.ID, RunID: run.ID, Data: data}}); err != nil {
				return err
			}
			if err := m.notify(ctx, tx, notification{accountID: src.AccountID, kind: MailReauthorize,
				key:     "reauthorize/" + src.ID + "/" + run.ID,
				subject: "dirsync: source " + src.Name + " needs reauthorization",
				text: fmt.Sprintf("dirsync could not authenticate to source %s (%s): %s\n\nGive it new credentials (in the console, dirsync source secret %s --client-secret-file FILE, or PATCH /api/v1/sources/%s with a new secret); until then it does not sync.",
					src.Name, src.Kind, message, src.Name, src.ID),
				page: "/sources/" + src.ID, ref: src.ID}); err != nil {
				return err
			}
		case !refused && h.AuthFailing && run.Outcome == directory.OutcomeSucceeded:
			h.AuthFailing, h.AuthMessage, h.Since = false, "", now
		default:
			return nil
		}
		return tx.SetSourceHealth(ctx, h)
	})
	if err != nil {
		return fmt.Errorf("record health of source %s: %w", src.Name, err)
	}
	return nil
}

// expiryThresholds are the days before a secret's expiry at which owners
// are warned; expiredNotice marks the notice that it has expired.
var expiryThresholds = []int{30, 7, 1}

const expiredNotice = -1

// CheckSecrets warns, once per threshold, about sources whose client
// secret expires within 30, 7 or 1 days, and once when it has expired: a
// source.secret_expiring event and a notification. A secret replaced by
// one that expires later resets the warnings. The service calls it hourly.
func (m *Manager) CheckSecrets(ctx context.Context) error {
	accs, err := m.d.Store.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("check secrets: %w", err)
	}
	for _, acc := range accs {
		srcs, err := m.d.Store.Sources(ctx, acc.ID)
		if err != nil {
			return fmt.Errorf("check secrets: %w", err)
		}
		for _, src := range srcs {
			if err := m.checkSecret(ctx, src); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Manager) checkSecret(ctx context.Context, src directory.Source) error {
	exp, ok := secretExpiry(src)
	if !ok {
		return nil
	}
	now := m.now()
	days := int(exp.Sub(now).Hours() / 24)
	due := 0 // the smallest threshold reached
	for _, t := range expiryThresholds {
		if days <= t {
			due = t
		}
	}
	if !now.Before(exp) {
		due = expiredNotice
	}
	return m.d.Store.Update(ctx, func(tx store.Tx) error {
		h, err := health(ctx, tx, src)
		if err != nil {
			return err
		}
		switch {
		case due == 0 && h.ExpiryNotifiedDays != 0:
			h.ExpiryNotifiedDays = 0 // a new secret
		case due != 0 && (h.ExpiryNotifiedDays == 0 || due < h.ExpiryNotifiedDays):
			h.ExpiryNotifiedDays = due
			data, _ := json.Marshal(map[string]any{"source": src.Name, "expires": exp.Format(time.DateOnly), "days_left": max(days, 0), "expired": due == expiredNotice})
			if err := tx.AppendEvents(ctx, []directory.Event{{AccountID: src.AccountID, Type: directory.EventSourceSecretExpiry,
				Time: now, SourceID: src.ID, Data: data}}); err != nil {
				return err
			}
			n := notification{accountID: src.AccountID, kind: MailSecretExpiring,
				key:     fmt.Sprintf("secret/%s/%s/%d", src.ID, exp.Format(time.DateOnly), due),
				subject: fmt.Sprintf("dirsync: the client secret of source %s expires in %d days", src.Name, days),
				text: fmt.Sprintf("The client secret of source %s expires on %s (%d days). Create a new secret in Entra ID and give it to dirsync (in the console, dirsync source secret %s --client-secret-file FILE, or PATCH /api/v1/sources/%s) before then, or the source stops syncing.",
					src.Name, exp.Format(time.DateOnly), days, src.Name, src.ID),
				page: "/sources/" + src.ID, ref: src.ID}
			if due == expiredNotice {
				n.kind = MailSecretExpired
				n.subject = "dirsync: the client secret of source " + src.Name + " has expired"
				n.text = fmt.Sprintf("The client secret of source %s expired on %s: the source cannot sync. Create a new secret in Entra ID and give it to dirsync (in the console, dirsync source secret %s --client-secret-file FILE, or PATCH /api/v1/sources/%s).",
					src.Name, exp.Format(time.DateOnly), src.Name, src.ID)
			}
			if err := m.notify(ctx, tx, n); err != nil {
				return err
			}
		default:
			return nil
		}
		return tx.SetSourceHealth(ctx, h)
	})
}
