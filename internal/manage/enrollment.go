package manage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/mail"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

// The enrollment cycle, as Duo runs it for its enrollment emails: a
// source with SendEnrollment mails each user it imports (active, with a
// valid address, not enrolled yet and, when phones are imported, without
// a phone) a link to the application's enrollment, valid 30 days, with a
// reminder 2 days after the first mail and another 8 days after the first
// reminder. A link that expires unused is replaced at the source's next
// sync, and the cycle starts over until the user enrolls. What enrolling
// means is the application's: it says so through ConfirmEnrollment, with
// the link's token or the user's id, and the feed gets user.enrolled.
//
// The cycle starts after a run (enrollAfterRun), its reminders and expiry
// advance on the service's tick (MailCycle, notify.go), and every mail
// goes through the outbox of package mail. Tokens are random, single-use,
// and stored as SHA-256 hashes: a reminder or a resend carries a new token
// of the same cycle, with the same expiry, and each of the cycle's tokens
// works until the cycle ends.

// Defaults of the enrollment cycle (Duo's).
const (
	DefaultEnrollmentValidity = 30 * 24 * time.Hour
	DefaultEnrollmentSubject  = "Your enrollment link"
	DefaultEnrollmentText     = `Hello <name>,

Please enroll: open your personal enrollment link

<enrollment-link>

It works until <expiry>, for your username <username> only.`
	DefaultEnrollmentHTML = `<p>Hello <name>,</p>
<p>Please enroll: open your <a href="<enrollment-link>">personal enrollment link</a>.</p>
<p>It works until <expiry>, for your username <username> only.</p>`
	maxSubjectLength = 200
	maxBodyLength    = 100_000
	maxReminders     = 5
)

// DefaultEnrollmentReminders are the reminders' delays, each after the
// mail before it: 2 days after the first mail, then 8 days after the
// first reminder.
var DefaultEnrollmentReminders = []time.Duration{2 * 24 * time.Hour, 8 * 24 * time.Hour}

// Placeholders of the enrollment template, written <name> in it.
const (
	PlaceholderLink     = "enrollment-link"
	PlaceholderName     = "name"
	PlaceholderUsername = "username"
	PlaceholderEmail    = "email"
	PlaceholderExpiry   = "expiry"
)

// EnrollmentPlaceholders lists the template's placeholders.
var EnrollmentPlaceholders = []string{PlaceholderLink, PlaceholderName, PlaceholderUsername, PlaceholderEmail, PlaceholderExpiry}

// Error codes of the enrollment use cases.
const (
	CodeEnrolled      = "enrolled"
	CodeLinkExpired   = "link_expired"
	CodeNotEnrollable = "not_enrollable"
)

// Link placeholders, written {token} in the application's link.
var linkPlaceholders = []string{"token", "user_id", "username"}

// Mail kinds of the enrollment cycle.
const (
	MailEnrollment         = "enrollment"
	MailEnrollmentReminder = "enrollment_reminder"
	MailEnrollmentResend   = "enrollment_resend"
)

// EnrollmentSettings are an account's enrollment template and cycle.
type EnrollmentSettings struct {
	// Subject, Text and HTML are the mail's subject, plain-text body and
	// (optional) HTML body, with the placeholders <enrollment-link>,
	// <name>, <username>, <email> and <expiry>.
	Subject string
	Text    string
	HTML    string
	// Link is the application's enrollment link, with {token} (and
	// optionally {user_id}, {username}): where <enrollment-link> points.
	Link string
	// Validity is how long a cycle's links work (30 days).
	Validity time.Duration
	// Reminders are the reminders' delays, each after the mail before it.
	Reminders []time.Duration
}

// enrollmentJSON is how the settings are stored and shown: durations as
// ages ("30d").
type enrollmentJSON struct {
	Subject   string   `json:"subject"`
	Text      string   `json:"text"`
	HTML      string   `json:"html"`
	Link      string   `json:"link"`
	Validity  string   `json:"validity"`
	Reminders []string `json:"reminders"`
}

// FormatAge writes a duration as ParseAge reads it: whole days as 30d.
func FormatAge(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// MarshalJSON writes the settings as the API shows them.
func (s EnrollmentSettings) MarshalJSON() ([]byte, error) {
	j := enrollmentJSON{Subject: s.Subject, Text: s.Text, HTML: s.HTML, Link: s.Link, Validity: FormatAge(s.Validity), Reminders: []string{}}
	for _, r := range s.Reminders {
		j.Reminders = append(j.Reminders, FormatAge(r))
	}
	return json.Marshal(j)
}

func defaultEnrollment() EnrollmentSettings {
	return EnrollmentSettings{Subject: DefaultEnrollmentSubject, Text: DefaultEnrollmentText, HTML: DefaultEnrollmentHTML,
		Validity: DefaultEnrollmentValidity, Reminders: slices.Clone(DefaultEnrollmentReminders)}
}

func decodeEnrollment(raw []byte) (EnrollmentSettings, error) {
	s := defaultEnrollment()
	if len(raw) == 0 {
		return s, nil
	}
	var j enrollmentJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return s, fmt.Errorf("stored enrollment settings: %w", err)
	}
	s.Subject, s.Text, s.HTML, s.Link = j.Subject, j.Text, j.HTML, j.Link
	if d, err := ParseAge(j.Validity); err == nil && d > 0 {
		s.Validity = d
	}
	s.Reminders = nil
	for _, r := range j.Reminders {
		if d, err := ParseAge(r); err == nil {
			s.Reminders = append(s.Reminders, d)
		}
	}
	return s, nil
}

// EnrollmentInput changes the enrollment settings; nil fields stay as
// they are. Durations are ages: "30d", "36h".
type EnrollmentInput struct {
	Subject   *string
	Text      *string
	HTML      *string
	Link      *string
	Validity  *string
	Reminders *[]string
}

var linkPlaceholder = regexp.MustCompile(`\{[^{}]*\}`)

// validate checks the settings, naming the field at fault.
func (s EnrollmentSettings) validate() error {
	switch {
	case strings.TrimSpace(s.Subject) == "":
		return invalid("subject", "the subject is empty")
	case len(s.Subject) > maxSubjectLength:
		return invalid("subject", "the subject is longer than %d characters", maxSubjectLength)
	case strings.ContainsAny(s.Subject, "\r\n"):
		return invalid("subject", "the subject holds a line break")
	case !strings.Contains(s.Text, mail.Placeholder(PlaceholderLink)):
		return invalid("text", "the text body must hold the placeholder %s, where the link goes", mail.Placeholder(PlaceholderLink))
	case len(s.Text) > maxBodyLength || len(s.HTML) > maxBodyLength:
		return invalid("text", "a body is longer than %d characters", maxBodyLength)
	case s.HTML != "" && !strings.Contains(s.HTML, mail.Placeholder(PlaceholderLink)):
		return invalid("html", "the HTML body must hold the placeholder %s (or be empty)", mail.Placeholder(PlaceholderLink))
	case s.Validity < time.Hour || s.Validity > 365*24*time.Hour:
		return invalid("validity", "the validity must be from 1h to 365d")
	case len(s.Reminders) > maxReminders:
		return invalid("reminders", "at most %d reminders", maxReminders)
	}
	var total time.Duration
	for _, r := range s.Reminders {
		if r <= 0 {
			return invalid("reminders", "a reminder's delay must be positive")
		}
		total += r
	}
	if total >= s.Validity {
		return invalid("reminders", "the reminders (%s in all) must come before the links expire (%s)", FormatAge(total), FormatAge(s.Validity))
	}
	return checkLink(s.Link)
}

// checkLink checks the application's link: https (http on the local host
// only, for development), with {token}, and no other placeholder than
// {user_id} and {username}. Empty is allowed until a source sends.
func checkLink(link string) error {
	if link == "" {
		return nil
	}
	found := linkPlaceholder.FindAllString(link, -1)
	if !slices.Contains(found, "{token}") {
		return invalid("link", "the link must hold {token}, where each user's token goes: https://app.example.com/enroll?token={token}")
	}
	for _, p := range found {
		if !slices.Contains(linkPlaceholders, strings.Trim(p, "{}")) {
			return invalid("link", "the link holds %s: its placeholders are {token}, {user_id} and {username}", p)
		}
	}
	u, err := url.Parse(linkPlaceholder.ReplaceAllString(link, "x"))
	if err != nil || u.Host == "" || u.User != nil {
		return invalid("link", "%q is not an absolute URL such as https://app.example.com/enroll?token={token}", link)
	}
	local := u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && local) {
		return invalid("link", "the link must be https (http only for localhost): it carries a credential")
	}
	return nil
}

// EnrollmentSettings returns the account's enrollment template and cycle
// (the defaults until an administrator sets them).
func (m *Manager) EnrollmentSettings(ctx context.Context, actor Actor) (EnrollmentSettings, error) {
	if err := actor.require(ActRead); err != nil {
		return EnrollmentSettings{}, err
	}
	return m.enrollmentSettings(ctx, m.d.Store, actor.AccountID)
}

func (m *Manager) enrollmentSettings(ctx context.Context, rd store.Reader, accountID string) (EnrollmentSettings, error) {
	ms, err := rd.MailSettings(ctx, accountID)
	if err != nil {
		return EnrollmentSettings{}, err
	}
	return decodeEnrollment(ms.Enrollment)
}

// SetEnrollmentSettings changes the account's enrollment template and
// cycle. The link may only be cleared while no source sends enrollment
// mail. Cycles under way keep their expiry.
func (m *Manager) SetEnrollmentSettings(ctx context.Context, actor Actor, in EnrollmentInput) (EnrollmentSettings, error) {
	if err := actor.require(ActManageMail); err != nil {
		return EnrollmentSettings{}, err
	}
	var out EnrollmentSettings
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		ms, err := tx.MailSettings(ctx, actor.AccountID)
		if err != nil {
			return err
		}
		s, err := decodeEnrollment(ms.Enrollment)
		if err != nil {
			return err
		}
		for _, f := range []struct {
			in  *string
			out *string
		}{{in.Subject, &s.Subject}, {in.Text, &s.Text}, {in.HTML, &s.HTML}, {in.Link, &s.Link}} {
			if f.in != nil {
				*f.out = *f.in
			}
		}
		s.Subject, s.Link = strings.TrimSpace(s.Subject), strings.TrimSpace(s.Link)
		if in.Validity != nil {
			if s.Validity, err = ParseAge(*in.Validity); err != nil {
				return invalid("validity", "%q is not a duration such as 30d or 36h", *in.Validity)
			}
		}
		if in.Reminders != nil {
			s.Reminders = nil
			for _, r := range *in.Reminders {
				d, err := ParseAge(r)
				if err != nil {
					return invalid("reminders", "%q is not a duration such as 2d or 36h", r)
				}
				s.Reminders = append(s.Reminders, d)
			}
		}
		if err := s.validate(); err != nil {
			return err
		}
		if s.Link == "" {
			if name, err := sendingSource(ctx, tx, actor.AccountID); err != nil || name != "" {
				return errors.Join(err, invalid("link", "source %s sends enrollment mail: turn that off first (dirsync source set %s --send-enrollment=false)", name, name))
			}
		}
		if ms.Enrollment, err = json.Marshal(s); err != nil {
			return err
		}
		out = s
		return tx.SetMailSettings(ctx, ms)
	})
	return out, err
}

// sendingSource names a source of the account that sends enrollment mail.
func sendingSource(ctx context.Context, rd store.Reader, accountID string) (string, error) {
	srcs, err := rd.Sources(ctx, accountID)
	if err != nil {
		return "", err
	}
	for _, src := range srcs {
		if s, err := scope.Parse(src.Settings); err == nil && s.SendEnrollment {
			return src.Name, nil
		}
	}
	return "", nil
}

// checkEnrollmentReady refuses scope settings that send enrollment mail
// while the account has no link to send.
func (m *Manager) checkEnrollmentReady(ctx context.Context, rd store.Reader, accountID string, s *scope.Settings) error {
	if s == nil || !s.SendEnrollment {
		return nil
	}
	es, err := m.enrollmentSettings(ctx, rd, accountID)
	if err != nil {
		return err
	}
	if es.Link == "" {
		return invalid("scope.send_enrollment", "set the application's enrollment link first: dirsync enrollments template --link 'https://app.example.com/enroll?token={token}'")
	}
	return nil
}

// Rendered is an enrollment mail as it is sent.
type Rendered struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
	Link    string `json:"link"`
}

// render fills the template for a user and a token.
func (s EnrollmentSettings) render(u directory.User, token string, expires time.Time) Rendered {
	link := strings.NewReplacer("{token}", url.QueryEscape(token), "{user_id}", url.QueryEscape(u.ID),
		"{username}", url.QueryEscape(u.Username)).Replace(s.Link)
	vars := map[string]string{
		PlaceholderLink:     link,
		PlaceholderName:     personName(u),
		PlaceholderUsername: u.Username,
		PlaceholderEmail:    u.Email,
		PlaceholderExpiry:   expires.UTC().Format("2 January 2006 15:04 MST"),
	}
	return Rendered{Subject: mail.OneLine(mail.Expand(s.Subject, vars, false)), Text: mail.Expand(s.Text, vars, false),
		HTML: mail.Expand(s.HTML, vars, true), Link: link}
}

// personName is how a mail greets a user.
func personName(u directory.User) string {
	if n := strings.TrimSpace(u.DisplayName); n != "" {
		return n
	}
	if n := strings.TrimSpace(u.GivenName + " " + u.Surname); n != "" {
		return n
	}
	return u.Username
}

// PreviewEnrollment renders the enrollment mail for a user with a sample
// token, under the given settings (nil: the account's): what the user
// would receive.
func (m *Manager) PreviewEnrollment(ctx context.Context, actor Actor, userKey string, s *EnrollmentSettings) (Rendered, error) {
	if err := actor.require(ActRead); err != nil {
		return Rendered{}, err
	}
	u, err := findUser(ctx, m.d.Store, actor, userKey)
	if err != nil {
		return Rendered{}, err
	}
	if s == nil {
		es, err := m.enrollmentSettings(ctx, m.d.Store, actor.AccountID)
		if err != nil {
			return Rendered{}, err
		}
		s = &es
	}
	return s.render(u, "EXAMPLE-TOKEN", m.now().Add(s.Validity)), nil
}

// enrollable says whether a user may get enrollment mail under a source's
// settings, and if not, why.
func enrollable(u directory.User, s scope.Settings) (bool, string) {
	switch {
	case u.State == directory.StateTrash:
		return false, "the user is in the trash"
	case u.State != directory.StateActive:
		return false, "the user is disabled"
	case !mail.ValidAddress(u.Email):
		return false, "the user has no valid email address"
	case s.ImportPhones && (u.MobilePhone != "" || len(u.BusinessPhones) > 0):
		return false, "the user has a phone, and the source imports phones"
	}
	return true, ""
}

// newToken makes a link's token and the hash the store keeps.
func newToken() (token, hash string) {
	var b [32]byte
	rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, tokenHash(token)
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// mailEnrollment adds a token to the cycle e and queues its mail of the
// given kind to the user; it sets e.LastMailID and e.Email.
func (m *Manager) mailEnrollment(ctx context.Context, tx store.Tx, e *store.Enrollment, u directory.User, s EnrollmentSettings, kind string) error {
	box, err := m.box()
	if err != nil {
		return err
	}
	token, hash := newToken()
	if err := tx.AddEnrollmentToken(ctx, e.ID, hash, m.now()); err != nil {
		return err
	}
	r := s.render(u, token, e.ExpiresAt)
	if kind == MailEnrollmentReminder {
		r.Subject = mail.OneLine("Reminder: " + r.Subject)
	}
	body, err := mail.Body{Text: r.Text, HTML: r.HTML}.Seal(box)
	if err != nil {
		return err
	}
	ml := store.Mail{AccountID: e.AccountID, Kind: kind, To: u.Email, Subject: r.Subject, Body: body, Ref: u.ID,
		EnrollmentID: e.ID, CreatedAt: m.now()}
	if _, err := tx.EnqueueMail(ctx, &ml); err != nil {
		return err
	}
	e.LastMailID, e.Email = ml.ID, u.Email
	m.wakeMail()
	return nil
}

// startCycle starts a user's enrollment cycle and queues its first mail.
func (m *Manager) startCycle(ctx context.Context, tx store.Tx, src directory.Source, u directory.User, s EnrollmentSettings) error {
	now := m.now()
	e := store.Enrollment{AccountID: u.AccountID, UserID: u.ID, SourceID: src.ID, Email: u.Email, Status: store.EnrollmentPending,
		CreatedAt: now, ExpiresAt: now.Add(s.Validity)}
	if len(s.Reminders) > 0 {
		e.NextReminderAt = now.Add(s.Reminders[0])
	}
	if err := tx.CreateEnrollment(ctx, &e); err != nil {
		return err
	}
	if err := m.mailEnrollment(ctx, tx, &e, u, s, MailEnrollment); err != nil {
		return err
	}
	return tx.UpdateEnrollment(ctx, e)
}

const enrollmentPage = 200

// enrollAfterRun runs the cycle's part that follows a sync of src: users
// the run brought in who qualify and have no valid link get one (their
// first, or a new one after the last expired), and pending cycles of users
// who stopped qualifying end. A single-user run (who set) looks at that
// user only. Its failures are logged: the run is recorded either way.
func (m *Manager) enrollAfterRun(ctx context.Context, src directory.Source, run directory.Run, who string) {
	if run.ID == "" || run.DryRun || run.Outcome != directory.OutcomeSucceeded {
		return
	}
	ss, err := scope.Parse(src.Settings)
	if err != nil || !ss.SendEnrollment {
		return
	}
	if err := m.enrollSource(context.WithoutCancel(ctx), src, ss, run.Kind == directory.RunSingle, who); err != nil {
		m.d.Logger.Error("enrollment mail after a run", "source", src.ID, "run", run.ID, "err", err)
	}
}

func (m *Manager) enrollSource(ctx context.Context, src directory.Source, ss scope.Settings, single bool, who string) error {
	es, err := m.enrollmentSettings(ctx, m.d.Store, src.AccountID)
	if err != nil {
		return err
	}
	if es.Link == "" {
		return errors.New("the account has no enrollment link: set one with dirsync enrollments template --link")
	}
	now := m.now()
	if err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.ExpireEnrollments(ctx, now)
		return err
	}); err != nil {
		return err
	}
	if single {
		u, err := m.singleRunUser(ctx, src, who)
		if err != nil || u.ID == "" {
			return err
		}
		return m.d.Store.Update(ctx, func(tx store.Tx) error { return m.enrollUsers(ctx, tx, src, ss, es, []directory.User{u}) })
	}
	if err := m.endUnqualified(ctx, src, ss); err != nil {
		return err
	}
	for after := ""; ; {
		var n int
		err := m.d.Store.Update(ctx, func(tx store.Tx) error {
			users, err := tx.EnrollmentCandidates(ctx, src.ID, now, after, enrollmentPage)
			if err != nil || len(users) == 0 {
				n = 0
				return err
			}
			n, after = len(users), users[len(users)-1].ID
			return m.enrollUsers(ctx, tx, src, ss, es, users)
		})
		if err != nil || n < enrollmentPage {
			return err
		}
	}
}

// enrollUsers starts a cycle for each user that qualifies and has none
// running.
func (m *Manager) enrollUsers(ctx context.Context, tx store.Tx, src directory.Source, ss scope.Settings, es EnrollmentSettings, users []directory.User) error {
	for _, u := range users {
		if ok, _ := enrollable(u, ss); !ok {
			continue
		}
		latest, err := latestCycle(ctx, tx, u)
		if err != nil {
			return err
		}
		switch {
		case latest == nil:
		case latest.Status == store.EnrollmentEnrolled:
			continue
		case latest.Status == store.EnrollmentPending && latest.ExpiresAt.After(m.now()):
			continue
		case latest.Status == store.EnrollmentRefused && strings.EqualFold(latest.Email, u.Email):
			continue
		}
		if err := m.startCycle(ctx, tx, src, u, es); err != nil {
			return fmt.Errorf("start the enrollment of %s: %w", u.Username, err)
		}
	}
	return nil
}

// singleRunUser finds the user a single-user run was about.
func (m *Manager) singleRunUser(ctx context.Context, src directory.Source, who string) (directory.User, error) {
	u, err := m.d.Store.UserByLink(ctx, src.ID, who)
	if errors.Is(err, store.ErrNotFound) {
		u, err = m.d.Store.UserByUsername(ctx, src.AccountID, who)
	}
	if errors.Is(err, store.ErrNotFound) {
		u, err = m.d.Store.UserByEmail(ctx, src.AccountID, who)
	}
	if errors.Is(err, store.ErrNotFound) {
		return directory.User{}, nil
	}
	return u, err
}

// latestCycle is the user's newest enrollment cycle, nil when none.
func latestCycle(ctx context.Context, rd store.Reader, u directory.User) (*store.Enrollment, error) {
	page, err := rd.Enrollments(ctx, u.AccountID, store.EnrollmentQuery{UserID: u.ID, Latest: true})
	if err != nil || len(page.Items) == 0 {
		return nil, err
	}
	return &page.Items[0], nil
}

// endUnqualified cancels the pending cycles the source started for users
// who no longer qualify (disabled, in the trash, no address, a phone).
func (m *Manager) endUnqualified(ctx context.Context, src directory.Source, ss scope.Settings) error {
	for after := ""; ; {
		page, err := m.d.Store.Enrollments(ctx, src.AccountID, store.EnrollmentQuery{SourceID: src.ID,
			Statuses: []string{store.EnrollmentPending}, After: after, Limit: enrollmentPage})
		if err != nil {
			return err
		}
		for _, e := range page.Items {
			if err := m.d.Store.Update(ctx, func(tx store.Tx) error { return m.cancelIfUnqualified(ctx, tx, e.ID, src.AccountID, ss) }); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
}

// cancelIfUnqualified ends a pending cycle whose user no longer qualifies;
// it reports whether it did.
func (m *Manager) cancelIfUnqualified(ctx context.Context, tx store.Tx, id, accountID string, ss scope.Settings) error {
	e, err := tx.Enrollment(ctx, accountID, id)
	if err != nil || e.Status != store.EnrollmentPending {
		return err
	}
	u, err := tx.User(ctx, accountID, e.UserID)
	if err != nil {
		return err
	}
	if ok, why := enrollable(u, ss); !ok {
		return m.endCycle(ctx, tx, &e, store.EnrollmentCancelled, why)
	}
	return nil
}

// endCycle ends a pending cycle and withdraws its mails not sent yet.
func (m *Manager) endCycle(ctx context.Context, tx store.Tx, e *store.Enrollment, status, via string) error {
	now := m.now()
	e.Status, e.EndedAt, e.EndedVia, e.NextReminderAt = status, now, via, time.Time{}
	if err := tx.UpdateEnrollment(ctx, *e); err != nil {
		return err
	}
	_, err := tx.WithdrawMail(ctx, e.AccountID, e.ID, now)
	return err
}

// remind sends the reminders that are due, in every account. A reminder
// waits while the cycle's last mail is still queued; a cycle whose user
// stopped qualifying ends; a source that stopped sending sends no more
// reminders (the links stay valid).
func (m *Manager) remind(ctx context.Context) (int, error) {
	sent := 0
	for {
		due, err := m.d.Store.DueReminders(ctx, m.now(), enrollmentPage)
		if err != nil || len(due) == 0 {
			return sent, err
		}
		progress := false
		for _, e := range due {
			var did, moved bool
			err := m.d.Store.Update(ctx, func(tx store.Tx) error {
				var err error
				did, moved, err = m.remindOne(ctx, tx, e.AccountID, e.ID)
				return err
			})
			if err != nil {
				return sent, fmt.Errorf("enrollment reminder %s: %w", e.ID, err)
			}
			if did {
				sent++
			}
			progress = progress || moved
		}
		if !progress || len(due) < enrollmentPage {
			return sent, nil
		}
	}
}

// remindOne handles one due reminder: did says a reminder was queued,
// moved that the cycle no longer waits on this one.
func (m *Manager) remindOne(ctx context.Context, tx store.Tx, accountID, id string) (did, moved bool, err error) {
	now := m.now()
	e, err := tx.Enrollment(ctx, accountID, id)
	if err != nil || e.Status != store.EnrollmentPending || e.NextReminderAt.IsZero() || e.NextReminderAt.After(now) {
		return false, true, err
	}
	if e.LastMailID != "" {
		if last, err := tx.Mail(ctx, accountID, e.LastMailID); err == nil && last.State == store.MailQueued {
			return false, false, nil // the last mail has not gone out yet
		}
	}
	u, err := tx.User(ctx, accountID, e.UserID)
	if err != nil {
		return false, true, err
	}
	src, err := tx.Source(ctx, accountID, e.SourceID)
	var ss scope.Settings
	if err == nil {
		ss, err = scope.Parse(src.Settings)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && !ss.SendEnrollment) {
		e.NextReminderAt = time.Time{} // the source no longer sends
		return false, true, tx.UpdateEnrollment(ctx, e)
	}
	if err != nil {
		return false, true, err
	}
	if ok, why := enrollable(u, ss); !ok {
		return false, true, m.endCycle(ctx, tx, &e, store.EnrollmentCancelled, why)
	}
	es, err := m.enrollmentSettings(ctx, tx, accountID)
	if err != nil {
		return false, true, err
	}
	if err := m.mailEnrollment(ctx, tx, &e, u, es, MailEnrollmentReminder); err != nil {
		return false, true, err
	}
	e.RemindersSent++
	e.NextReminderAt = time.Time{}
	if e.RemindersSent < len(es.Reminders) {
		e.NextReminderAt = dueAt(e, es)
	}
	return true, true, tx.UpdateEnrollment(ctx, e)
}

// dueAt is when the reminder after the ones sent is due: each reminder's
// delay counts from when the one before it was due, so a late tick does
// not push the rest back.
func dueAt(e store.Enrollment, es EnrollmentSettings) time.Time {
	at := e.CreatedAt
	for i := 0; i <= e.RemindersSent && i < len(es.Reminders); i++ {
		at = at.Add(es.Reminders[i])
	}
	return at
}

// refusedAddress ends the cycle of an enrollment mail whose address the
// server refused: no reminder goes to it, and a new cycle starts when the
// user's address changes. The outbox calls it with the mail's outcome.
func (m *Manager) refusedAddress(ctx context.Context, tx store.Tx, ml store.Mail) error {
	if ml.EnrollmentID == "" || ml.State != store.MailRefused {
		return nil
	}
	e, err := tx.Enrollment(ctx, ml.AccountID, ml.EnrollmentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || e.Status != store.EnrollmentPending || !strings.EqualFold(e.Email, ml.To) {
		return err
	}
	return m.endCycle(ctx, tx, &e, store.EnrollmentRefused, "the mail server refused "+ml.To)
}

// EnrollmentView is an enrollment cycle as front ends show it: with its
// user, and what became of its newest mail.
type EnrollmentView struct {
	store.Enrollment
	Username    string `json:"username"`
	Name        string `json:"name"`
	UserState   string `json:"user_state"`
	MailState   string `json:"mail_state,omitempty"`
	MailError   string `json:"mail_error,omitempty"`
	LinkExpired bool   `json:"link_expired"`
}

// EnrollmentQuery filters the enrollment list.
type EnrollmentQuery struct {
	// Statuses: pending, expired, refused, cancelled, enrolled; empty
	// means who has not enrolled: pending, expired (a new link goes at the
	// next sync) and refused.
	Statuses []string
	After    string
	Limit    int
}

// EnrollmentStatuses are the statuses a cycle may have.
var EnrollmentStatuses = []string{store.EnrollmentPending, store.EnrollmentExpired, store.EnrollmentRefused, store.EnrollmentCancelled, store.EnrollmentEnrolled}

// Enrollments lists each user's newest enrollment cycle, by default those
// of the users who have not enrolled (Duo's Pending Enrollments): address,
// the link's expiry, and what became of the last mail.
func (m *Manager) Enrollments(ctx context.Context, actor Actor, q EnrollmentQuery) (Page[EnrollmentView], error) {
	if err := actor.require(ActRead); err != nil {
		return Page[EnrollmentView]{}, err
	}
	sts := q.Statuses
	if len(sts) == 0 {
		sts = []string{store.EnrollmentPending, store.EnrollmentExpired, store.EnrollmentRefused}
	}
	for _, s := range sts {
		if !slices.Contains(EnrollmentStatuses, s) {
			return Page[EnrollmentView]{}, invalid("status", "status %q is unknown: want %s", s, strings.Join(EnrollmentStatuses, ", "))
		}
	}
	limit, err := checkLimit(q.Limit, 100)
	if err != nil {
		return Page[EnrollmentView]{}, err
	}
	page, err := m.d.Store.Enrollments(ctx, actor.AccountID, store.EnrollmentQuery{Statuses: sts, Latest: true, After: q.After, Limit: limit})
	if err != nil {
		return Page[EnrollmentView]{}, err
	}
	out := Page[EnrollmentView]{Items: []EnrollmentView{}, Next: page.Next}
	for _, e := range page.Items {
		v, err := m.enrollmentView(ctx, e)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

func (m *Manager) enrollmentView(ctx context.Context, e store.Enrollment) (EnrollmentView, error) {
	v := EnrollmentView{Enrollment: e, LinkExpired: !m.now().Before(e.ExpiresAt)}
	u, err := m.d.Store.User(ctx, e.AccountID, e.UserID)
	if err != nil {
		return v, err
	}
	v.Username, v.Name, v.UserState = u.Username, personName(u), string(u.State)
	if e.LastMailID != "" {
		if ml, err := m.d.Store.Mail(ctx, e.AccountID, e.LastMailID); err == nil {
			v.MailState, v.MailError = ml.State, ml.LastError
		}
	}
	return v, nil
}

// UserEnrollment returns a user's newest enrollment cycle.
func (m *Manager) UserEnrollment(ctx context.Context, actor Actor, userKey string) (EnrollmentView, error) {
	if err := actor.require(ActRead); err != nil {
		return EnrollmentView{}, err
	}
	u, err := findUser(ctx, m.d.Store, actor, userKey)
	if err != nil {
		return EnrollmentView{}, err
	}
	e, err := latestCycle(ctx, m.d.Store, u)
	if err != nil {
		return EnrollmentView{}, err
	}
	if e == nil {
		return EnrollmentView{}, notFound("no enrollment link was mailed to %s, and no enrollment is recorded", u.Username)
	}
	return m.enrollmentView(ctx, *e)
}

// ResendEnrollment mails a user's pending enrollment link again (a new
// token of the same cycle): the expiry does not change, nor do the
// reminders.
func (m *Manager) ResendEnrollment(ctx context.Context, actor Actor, userKey string) (EnrollmentView, error) {
	if err := actor.require(ActEnroll); err != nil {
		return EnrollmentView{}, err
	}
	var id string
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		u, err := findUser(ctx, tx, actor, userKey)
		if err != nil {
			return err
		}
		e, err := latestCycle(ctx, tx, u)
		if err != nil {
			return err
		}
		if err := resendable(e, u, m.now()); err != nil {
			return err
		}
		src, err := tx.Source(ctx, actor.AccountID, e.SourceID)
		var ss scope.Settings
		if err == nil {
			ss, _ = scope.Parse(src.Settings)
		}
		if ok, why := enrollable(u, ss); !ok {
			return conflict(CodeNotEnrollable, "cannot resend to %s: %s", u.Username, why)
		}
		es, err := m.enrollmentSettings(ctx, tx, actor.AccountID)
		if err != nil {
			return err
		}
		if es.Link == "" {
			return invalid("link", "the account has no enrollment link: set one with dirsync enrollments template --link")
		}
		if err := m.mailEnrollment(ctx, tx, e, u, es, MailEnrollmentResend); err != nil {
			return err
		}
		id = e.ID
		return tx.UpdateEnrollment(ctx, *e)
	})
	if err != nil {
		return EnrollmentView{}, err
	}
	e, err := m.d.Store.Enrollment(ctx, actor.AccountID, id)
	if err != nil {
		return EnrollmentView{}, err
	}
	return m.enrollmentView(ctx, e)
}

func resendable(e *store.Enrollment, u directory.User, now time.Time) error {
	switch {
	case e == nil:
		return notFound("no enrollment link was mailed to %s: its source mails one when it imports the user with enrollment email on", u.Username)
	case e.Status == store.EnrollmentEnrolled:
		return conflict(CodeEnrolled, "%s has enrolled already (%s)", u.Username, e.EndedAt.Format(time.DateOnly))
	case e.Status == store.EnrollmentExpired || (e.Status == store.EnrollmentPending && !now.Before(e.ExpiresAt)):
		return conflict(CodeLinkExpired, "the link of %s expired on %s: a new one is mailed at the next sync of its source", u.Username, e.ExpiresAt.Format(time.DateOnly))
	case e.Status == store.EnrollmentRefused:
		return conflict(CodeNotEnrollable, "the mail server refused %s: correct the user's address at the source; the next sync mails the new address", e.Email)
	case e.Status != store.EnrollmentPending:
		return conflict(CodeNotEnrollable, "the enrollment of %s was cancelled: %s", u.Username, e.EndedVia)
	}
	return nil
}

// ConfirmEnrollment records that a user enrolled, as the application says:
// with token, the link's token, which must be a live token of this user's
// pending cycle (each works once: the cycle ends); without, by the user's
// id alone, whatever the cycle (an enrollment by other means), and a
// confirmation of a user already enrolled changes nothing. The feed gets
// user.enrolled, and reminders not sent yet are withdrawn.
func (m *Manager) ConfirmEnrollment(ctx context.Context, actor Actor, userKey, token string) (EnrollmentView, error) {
	if err := actor.require(ActEnroll); err != nil {
		return EnrollmentView{}, err
	}
	token = strings.TrimSpace(token)
	var id string
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		u, err := findUser(ctx, tx, actor, userKey)
		if err != nil {
			return err
		}
		var e store.Enrollment
		via := "user_id"
		if token != "" {
			via = "token"
			if e, err = m.tokenCycle(ctx, tx, actor, u, token); err != nil {
				return err
			}
		} else {
			latest, err := latestCycle(ctx, tx, u)
			switch {
			case err != nil:
				return err
			case latest != nil && latest.Status == store.EnrollmentEnrolled:
				id = latest.ID
				return nil
			case latest != nil && latest.Status == store.EnrollmentPending:
				e = *latest
			default:
				now := m.now()
				e = store.Enrollment{AccountID: u.AccountID, UserID: u.ID, Email: u.Email, Status: store.EnrollmentPending, CreatedAt: now, ExpiresAt: now}
				if err := tx.CreateEnrollment(ctx, &e); err != nil {
					return err
				}
			}
		}
		if err := m.endCycle(ctx, tx, &e, store.EnrollmentEnrolled, via); err != nil {
			return err
		}
		id = e.ID
		object := u
		object.Normalize()
		data, _ := json.Marshal(map[string]any{"user": map[string]any{"id": u.ID, "username": u.Username, "email": u.Email},
			"enrollment_id": e.ID, "via": via, "source_id": e.SourceID, "by": actor.Name, "object": object})
		return tx.AppendEvents(ctx, []directory.Event{{AccountID: u.AccountID, Type: directory.EventUserEnrolled, Time: m.now(),
			SourceID: e.SourceID, Data: data}})
	})
	if err != nil {
		return EnrollmentView{}, err
	}
	e, err := m.d.Store.Enrollment(ctx, actor.AccountID, id)
	if err != nil {
		return EnrollmentView{}, err
	}
	return m.enrollmentView(ctx, e)
}

// tokenCycle finds the pending cycle a user's token belongs to, or says
// why the token does not work.
func (m *Manager) tokenCycle(ctx context.Context, rd store.Reader, actor Actor, u directory.User, token string) (store.Enrollment, error) {
	e, err := rd.EnrollmentByToken(ctx, tokenHash(token))
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.AccountID != actor.AccountID) {
		return e, invalid("token", "the token is not one dirsync issued")
	}
	if err != nil {
		return e, err
	}
	if e.UserID != u.ID {
		return e, invalid("token", "the token is not %s's", u.Username)
	}
	switch {
	case e.Status == store.EnrollmentEnrolled:
		return e, conflict(CodeEnrolled, "the link was used already: %s enrolled on %s", u.Username, e.EndedAt.Format(time.DateOnly))
	case e.Status == store.EnrollmentExpired || (e.Status == store.EnrollmentPending && !m.now().Before(e.ExpiresAt)):
		return e, conflict(CodeLinkExpired, "the link expired on %s: a new one is mailed at the next sync", e.ExpiresAt.Format(time.DateOnly))
	case e.Status != store.EnrollmentPending:
		return e, conflict(CodeNotEnrollable, "the link was withdrawn: %s", e.EndedVia)
	}
	return e, nil
}

// VerifyEnrollmentToken says whose live token this is, without using it:
// for an application whose link carries the token alone.
func (m *Manager) VerifyEnrollmentToken(ctx context.Context, actor Actor, token string) (EnrollmentView, error) {
	if err := actor.require(ActEnroll); err != nil {
		return EnrollmentView{}, err
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return EnrollmentView{}, invalid("token", "the token is required")
	}
	e, err := m.d.Store.EnrollmentByToken(ctx, tokenHash(token))
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.AccountID != actor.AccountID) {
		return EnrollmentView{}, invalid("token", "the token is not one dirsync issued")
	}
	if err != nil {
		return EnrollmentView{}, err
	}
	u, err := m.d.Store.User(ctx, e.AccountID, e.UserID)
	if err != nil {
		return EnrollmentView{}, err
	}
	if _, err := m.tokenCycle(ctx, m.d.Store, actor, u, token); err != nil {
		return EnrollmentView{}, err
	}
	return m.enrollmentView(ctx, e)
}
