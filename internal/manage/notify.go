package manage

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/mail"
	"github.com/dirsync/dirsync/internal/store"
)

// Notifications tell an account's administrators about a source that needs
// them, by mail, through the same outbox as the enrollment mail: its
// credentials refused (reauthorization required: to every owner, as Duo
// does), its client secret expiring in 30, 7 and 1 days and expired, a
// source failing several runs in a row, a run stopped by a safety rule
// (the deletion limit). Each is queued once per occurrence, in the
// transaction that records the occurrence (a dedupe key per recipient
// makes a second one a no-op), with a link to the console page that fixes
// it. The recipients are the account's console users of the roles each
// notification names, the account's notification addresses, and the
// deployment's (dirsync serve --smtp-to).

// Notification kinds, the mails' kinds in the log.
const (
	MailReauthorize    = "reauthorization_required"
	MailSecretExpiring = "secret_expiring"
	MailSecretExpired  = "secret_expired"
	MailSourceFailing  = "source_failing"
	MailRunStopped     = "run_stopped"
	MailTest           = "test"
)

// DefaultFailingRuns is how many failed runs in a row make a source
// failing.
const DefaultFailingRuns = 3

// notificationRoles says which console users each notification goes to.
var notificationRoles = map[string][]Role{
	MailReauthorize:    {RoleOwner},
	MailSecretExpiring: {RoleOwner, RoleAdministrator},
	MailSecretExpired:  {RoleOwner, RoleAdministrator},
	MailSourceFailing:  {RoleOwner, RoleAdministrator},
	MailRunStopped:     {RoleOwner, RoleAdministrator},
}

// MailOptions say how this process sends mail; the service sets them.
type MailOptions struct {
	// Sender sends; nil leaves mail queued (no server configured).
	Sender mail.Sender
	// ConsoleURL is where the console is served, for the links in
	// notifications (https://dirsync.example.com); empty gives the path.
	ConsoleURL string
	// Notify are addresses given every account's notifications (the
	// deployment's operators).
	Notify []string
	// Holder names this process in the outbox's claims.
	Holder string
	// Retry policy of the outbox (zero: package mail's defaults).
	FirstBackoff, MaxBackoff, RetryFor time.Duration
	// Wake is told that a mail was queued, so it goes out before the
	// next tick.
	Wake func()
	// Observe is told each attempt's outcome (for metrics).
	Observe func(outcome string)
	Logger  *slog.Logger
}

type mailer struct {
	opts   MailOptions
	outbox *mail.Outbox
}

// SetMail sets how this process sends mail.
func (m *Manager) SetMail(o MailOptions) {
	logger := o.Logger
	if logger == nil {
		logger = m.d.Logger
	}
	mr := &mailer{opts: o, outbox: &mail.Outbox{Store: m.d.Store, Box: m.d.Box, Sender: o.Sender, Clock: m.d.Clock, Logger: logger,
		Holder: o.Holder, FirstBackoff: o.FirstBackoff, MaxBackoff: o.MaxBackoff, RetryFor: o.RetryFor, Observe: o.Observe}}
	mr.outbox.Finished = m.refusedAddress
	m.mail = mr
}

func (m *Manager) wakeMail() {
	if m.mail != nil && m.mail.opts.Wake != nil {
		m.mail.opts.Wake()
	}
}

// MailCycleResult counts what one MailCycle did.
type MailCycleResult struct {
	Expired   int
	Reminders int
	mail.Delivered
}

// MailCycle is the periodic work of mail: it marks expired the enrollment
// links that ran out, queues the reminders that are due, and sends what
// the outbox holds. The service calls it on its tick (and when woken); it
// is one job, safe to run in several replicas at once.
func (m *Manager) MailCycle(ctx context.Context) (MailCycleResult, error) {
	var r MailCycleResult
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		r.Expired, err = tx.ExpireEnrollments(ctx, m.now())
		return err
	})
	if err != nil {
		return r, fmt.Errorf("expire enrollment links: %w", err)
	}
	if r.Reminders, err = m.remind(ctx); err != nil {
		return r, err
	}
	if m.mail == nil {
		return r, nil
	}
	r.Delivered, err = m.mail.outbox.Deliver(ctx)
	return r, err
}

// NotificationSettings say who, beside the console users of each
// notification's roles, gets the account's notifications.
type NotificationSettings struct {
	// Addresses get every notification.
	Addresses []string `json:"addresses"`
	// FailingRuns is how many failed runs in a row make a notification
	// (default 3).
	FailingRuns int `json:"failing_runs"`
}

func decodeNotifications(raw []byte) (NotificationSettings, error) {
	s := NotificationSettings{Addresses: []string{}, FailingRuns: DefaultFailingRuns}
	if len(raw) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("stored notification settings: %w", err)
	}
	if s.FailingRuns <= 0 {
		s.FailingRuns = DefaultFailingRuns
	}
	if s.Addresses == nil {
		s.Addresses = []string{}
	}
	return s, nil
}

// NotificationSettings returns who the account notifies.
func (m *Manager) NotificationSettings(ctx context.Context, actor Actor) (NotificationSettings, error) {
	if err := actor.require(ActRead); err != nil {
		return NotificationSettings{}, err
	}
	ms, err := m.d.Store.MailSettings(ctx, actor.AccountID)
	if err != nil {
		return NotificationSettings{}, err
	}
	return decodeNotifications(ms.Notifications)
}

// NotificationInput changes the notification settings; nil fields stay.
type NotificationInput struct {
	Addresses   *[]string
	FailingRuns *int
}

// SetNotificationSettings changes who the account notifies.
func (m *Manager) SetNotificationSettings(ctx context.Context, actor Actor, in NotificationInput) (NotificationSettings, error) {
	if err := actor.require(ActManageMail); err != nil {
		return NotificationSettings{}, err
	}
	var out NotificationSettings
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		ms, err := tx.MailSettings(ctx, actor.AccountID)
		if err != nil {
			return err
		}
		s, err := decodeNotifications(ms.Notifications)
		if err != nil {
			return err
		}
		if in.Addresses != nil {
			s.Addresses = []string{}
			for _, a := range *in.Addresses {
				a = strings.TrimSpace(a)
				if !mail.ValidAddress(a) {
					return invalid("addresses", "%q is not an email address", a)
				}
				if !slices.ContainsFunc(s.Addresses, func(b string) bool { return strings.EqualFold(a, b) }) {
					s.Addresses = append(s.Addresses, a)
				}
			}
			if len(s.Addresses) > 50 {
				return invalid("addresses", "at most 50 addresses")
			}
		}
		if in.FailingRuns != nil {
			if *in.FailingRuns < 1 || *in.FailingRuns > 100 {
				return invalid("failing_runs", "failing_runs must be from 1 to 100")
			}
			s.FailingRuns = *in.FailingRuns
		}
		if ms.Notifications, err = json.Marshal(s); err != nil {
			return err
		}
		out = s
		return tx.SetMailSettings(ctx, ms)
	})
	return out, err
}

// roleRecipients are the addresses of the account's console users of the
// given roles. Console users are the console's (issue 11); until the
// model has them, no one is reached by role, and the account's and the
// deployment's addresses carry every notification.
var roleRecipients = func(ctx context.Context, rd store.Reader, accountID string, roles []Role) ([]string, error) {
	return nil, nil
}

// recipients are everyone a notification of the kind goes to, each once.
func (m *Manager) recipients(ctx context.Context, rd store.Reader, accountID, kind string) ([]string, error) {
	ms, err := rd.MailSettings(ctx, accountID)
	if err != nil {
		return nil, err
	}
	ns, err := decodeNotifications(ms.Notifications)
	if err != nil {
		return nil, err
	}
	byRole, err := roleRecipients(ctx, rd, accountID, notificationRoles[kind])
	if err != nil {
		return nil, err
	}
	var out []string
	all := append(append(byRole, ns.Addresses...), m.deploymentRecipients()...)
	for _, a := range all {
		if mail.ValidAddress(a) && !slices.ContainsFunc(out, func(b string) bool { return strings.EqualFold(a, b) }) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (m *Manager) deploymentRecipients() []string {
	if m.mail == nil {
		return nil
	}
	return m.mail.opts.Notify
}

// notification is one occurrence to tell administrators about.
type notification struct {
	accountID string
	kind      string
	// key identifies the occurrence: the same key is mailed once.
	key     string
	subject string
	// text says what happened and what to do, in paragraphs.
	text string
	// page is the console page that fixes it (/sources/ID, /runs/ID).
	page string
	ref  string
}

// consoleLink is the console page's address.
func (m *Manager) consoleLink(page string) string {
	if m.mail != nil && m.mail.opts.ConsoleURL != "" {
		return strings.TrimRight(m.mail.opts.ConsoleURL, "/") + page
	}
	return page
}

// notify queues a notification to each of its recipients, once per
// occurrence, in tx.
func (m *Manager) notify(ctx context.Context, tx store.Tx, n notification) error {
	to, err := m.recipients(ctx, tx, n.accountID, n.kind)
	if err != nil || len(to) == 0 {
		return err
	}
	box, err := m.box()
	if err != nil {
		return err
	}
	link := m.consoleLink(n.page)
	text := n.text + "\n\nOpen the console to fix it: " + link + "\n\n-- \ndirsync"
	var h strings.Builder
	for _, p := range strings.Split(n.text, "\n\n") {
		h.WriteString("<p>" + html.EscapeString(p) + "</p>\n")
	}
	h.WriteString(`<p><a href="` + html.EscapeString(link) + `">Open the console to fix it</a></p>` + "\n")
	body, err := mail.Body{Text: text, HTML: h.String()}.Seal(box)
	if err != nil {
		return err
	}
	queued := false
	for _, addr := range to {
		ml := store.Mail{AccountID: n.accountID, Kind: n.kind, To: addr, Subject: mail.OneLine(n.subject), Body: body, Ref: n.ref,
			DedupeKey: n.key + "|" + strings.ToLower(addr), CreatedAt: m.now()}
		added, err := tx.EnqueueMail(ctx, &ml)
		if err != nil {
			return err
		}
		queued = queued || added
	}
	if queued {
		m.wakeMail()
	}
	return nil
}

// noteOutcome notifies about a run that stopped on a safety rule, and
// about a source whose runs failed FailingRuns times in a row (once per
// such streak).
func (m *Manager) noteOutcome(ctx context.Context, src directory.Source, run directory.Run, runErr error) error {
	switch run.Outcome {
	case directory.OutcomeStopped:
		return m.d.Store.Update(ctx, func(tx store.Tx) error {
			return m.notify(ctx, tx, notification{accountID: src.AccountID, kind: MailRunStopped, key: "run_stopped/" + run.ID,
				subject: "dirsync: a run of source " + src.Name + " stopped; nothing was applied",
				text: fmt.Sprintf("A safety rule stopped run %s of source %s, and it applied nothing: %s\n\nReview what it would have done; if it is right, apply it allowing the deletions (\"Allow and apply\" in the console, or dirsync sync %s --allow-deletes).",
					run.ID, src.Name, firstNonEmpty(run.Reason, errorText(runErr)), src.Name),
				page: "/runs/" + run.ID, ref: run.ID})
		})
	case directory.OutcomeFailed:
		return m.d.Store.Update(ctx, func(tx store.Tx) error {
			ms, err := tx.MailSettings(ctx, src.AccountID)
			if err != nil {
				return err
			}
			ns, err := decodeNotifications(ms.Notifications)
			if err != nil {
				return err
			}
			streak, first, err := failingStreak(ctx, tx, src, ns.FailingRuns+1)
			if err != nil || streak != ns.FailingRuns {
				return err
			}
			return m.notify(ctx, tx, notification{accountID: src.AccountID, kind: MailSourceFailing, key: "source_failing/" + first,
				subject: fmt.Sprintf("dirsync: source %s failed %d runs in a row", src.Name, streak),
				text: fmt.Sprintf("The last %d runs of source %s failed; the last one said: %s\n\nUntil a run succeeds, the directory does not follow the source.",
					streak, src.Name, firstNonEmpty(run.Reason, errorText(runErr))),
				page: "/sources/" + src.ID, ref: src.ID})
		})
	}
	return nil
}

// failingStreak counts the source's newest runs that failed in a row (dry
// runs, cancelled, interrupted and stopped runs neither break nor extend
// it), looking at most at limit of them, and names the streak's first.
func failingStreak(ctx context.Context, rd store.Reader, src directory.Source, limit int) (int, string, error) {
	runs, err := rd.Runs(ctx, src.AccountID, src.ID, 4*limit+20)
	if err != nil {
		return 0, "", err
	}
	n, first := 0, ""
	for _, r := range runs {
		if r.DryRun {
			continue
		}
		switch r.Outcome {
		case directory.OutcomeFailed:
			n, first = n+1, r.ID
			if n >= limit {
				return n, first, nil
			}
		case directory.OutcomeSucceeded:
			return n, first, nil
		}
	}
	return n, first, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// MailQuery filters the mail log.
type MailQuery struct {
	Kind  string
	State string
	// User lists the mails about one user (id, username or email).
	User  string
	After string
	Limit int
}

// MailStates are the states a mail may be in.
var MailStates = []string{store.MailQueued, store.MailSent, store.MailRefused, store.MailFailed, store.MailWithdrawn}

// Mails lists the account's mail log, newest first: every mail, to whom,
// of which kind, when, and what became of it (a refused address shows
// here, with the server's answer).
func (m *Manager) Mails(ctx context.Context, actor Actor, q MailQuery) (Page[store.Mail], error) {
	if err := actor.require(ActRead); err != nil {
		return Page[store.Mail]{}, err
	}
	if q.State != "" && !slices.Contains(MailStates, q.State) {
		return Page[store.Mail]{}, invalid("state", "state %q is unknown: want %s", q.State, strings.Join(MailStates, ", "))
	}
	limit, err := checkLimit(q.Limit, 100)
	if err != nil {
		return Page[store.Mail]{}, err
	}
	sq := store.MailQuery{Kind: q.Kind, State: q.State, After: q.After, Limit: limit}
	if q.User != "" {
		u, err := findUser(ctx, m.d.Store, actor, q.User)
		if err != nil {
			return Page[store.Mail]{}, err
		}
		sq.Ref = u.ID
	}
	page, err := m.d.Store.Mails(ctx, actor.AccountID, sq)
	if page.Items == nil {
		page.Items = []store.Mail{}
	}
	for i := range page.Items {
		page.Items[i].Body = nil
	}
	return page, err
}

// SendTestMail queues a test mail to an address, to check the mail
// settings end to end; it goes out with the next delivery.
func (m *Manager) SendTestMail(ctx context.Context, actor Actor, to string) (store.Mail, error) {
	if err := actor.require(ActManageMail); err != nil {
		return store.Mail{}, err
	}
	to = strings.TrimSpace(to)
	if !mail.ValidAddress(to) {
		return store.Mail{}, invalid("to", "%q is not an email address", to)
	}
	box, err := m.box()
	if err != nil {
		return store.Mail{}, err
	}
	body, err := mail.Body{Text: "This is a test mail from dirsync. Its enrollment links and notifications reach this address the same way.\n"}.Seal(box)
	if err != nil {
		return store.Mail{}, err
	}
	ml := store.Mail{AccountID: actor.AccountID, Kind: MailTest, To: to, Subject: "dirsync: test mail", Body: body, CreatedAt: m.now()}
	err = m.d.Store.Update(ctx, func(tx store.Tx) error { _, err := tx.EnqueueMail(ctx, &ml); return err })
	if err != nil {
		return store.Mail{}, err
	}
	m.wakeMail()
	ml.Body = nil
	return ml, nil
}
