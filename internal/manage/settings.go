package manage

// An account's own settings: the time zone its people read times in, how
// long its trash keeps what goes there, how long its run history and its
// change feed are kept, and who is told when a source needs attention.

import (
	"context"
	"encoding/json"
	"errors"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/store"
)

// Bounds of the account settings.
const (
	MaxTrashRetentionDays = 365
	// MaxHistoryRetentionDays bounds the run history's and the change
	// feed's retention: three years.
	MaxHistoryRetentionDays = 3 * 365
	maxNotifyEmails         = 50
)

// AccountSettings are an account's settings. Read them with
// Manager.AccountSettings, which fills in the defaults.
type AccountSettings struct {
	// TimeZone is the IANA zone times are shown in (the console, mails)
	// and the zone new schedules default to; "UTC" by default.
	TimeZone string `json:"time_zone"`
	// TrashRetentionDays is how long the trash keeps users and groups
	// before they are purged; the deployment's retention by default.
	TrashRetentionDays int `json:"trash_retention_days"`
	// RunRetentionDays is how long run history (each run and the changes
	// it recorded) is kept; the deployment's (90 days) by default, and no
	// less than the events (a membership's event refers to its run's
	// change). Each source's newest run and newest successful run stay,
	// however old.
	RunRetentionDays int `json:"run_retention_days"`
	// EventRetentionDays is how long the change feed keeps events; the
	// deployment's (dirsync serve --event-retention, 30 days) by default.
	EventRetentionDays int `json:"event_retention_days"`
	// NotifyRoles are the console roles whose users are told about a
	// source that needs attention (reauthorization, an expiring secret,
	// failing runs, a run stopped by the deletion limit); owners by
	// default.
	NotifyRoles []Role `json:"notify_roles"`
	// NotifyEmails are more addresses told the same (a team's list).
	NotifyEmails []string `json:"notify_emails"`
}

// Location is the settings' time zone (UTC when it cannot be loaded).
func (s AccountSettings) Location() *time.Location {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// TrashRetention is the retention as a duration.
func (s AccountSettings) TrashRetention() time.Duration { return days(s.TrashRetentionDays) }

// RunRetention is the run history's retention as a duration.
func (s AccountSettings) RunRetention() time.Duration { return days(s.RunRetentionDays) }

// EventRetention is the change feed's retention as a duration.
func (s AccountSettings) EventRetention() time.Duration { return days(s.EventRetentionDays) }

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// inDays is d in whole days, rounded up.
func inDays(d time.Duration) int { return int((d + 24*time.Hour - 1) / (24 * time.Hour)) }

// accountSettings reads an account's settings with the defaults filled in.
func (m *Manager) accountSettings(ctx context.Context, rd store.Reader, accountID string) (AccountSettings, error) {
	var s AccountSettings
	raw, err := rd.AccountSettings(ctx, accountID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.NotifyRoles = []Role{RoleOwner}
	case err != nil:
		return s, err
	default:
		if err := json.Unmarshal(raw, &s); err != nil {
			return s, err
		}
	}
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	if s.TrashRetentionDays <= 0 {
		s.TrashRetentionDays = inDays(m.d.TrashRetention)
	}
	if s.RunRetentionDays <= 0 {
		s.RunRetentionDays = inDays(m.d.RunRetention)
	}
	if s.EventRetentionDays <= 0 {
		s.EventRetentionDays = inDays(m.d.EventRetention)
	}
	if s.NotifyRoles == nil {
		s.NotifyRoles = []Role{}
	}
	if s.NotifyEmails == nil {
		s.NotifyEmails = []string{}
	}
	return s, nil
}

// trashRetention is how long the account's trash keeps objects: its
// setting, else the deployment's.
func (m *Manager) trashRetention(ctx context.Context, rd store.Reader, accountID string) time.Duration {
	raw, err := rd.AccountSettings(ctx, accountID)
	if err != nil {
		return m.d.TrashRetention
	}
	var s AccountSettings
	if json.Unmarshal(raw, &s) != nil || s.TrashRetentionDays <= 0 {
		return m.d.TrashRetention
	}
	return s.TrashRetention()
}

// historyRetention is how long the account keeps its run history and
// its events: its settings, else the deployment's.
func (m *Manager) historyRetention(ctx context.Context, rd store.Reader, accountID string) (runs, events time.Duration) {
	runs, events = m.d.RunRetention, m.d.EventRetention
	raw, err := rd.AccountSettings(ctx, accountID)
	if err != nil {
		return runs, events
	}
	var s AccountSettings
	if json.Unmarshal(raw, &s) != nil {
		return runs, events
	}
	if s.RunRetentionDays > 0 {
		runs = s.RunRetention()
	}
	if s.EventRetentionDays > 0 {
		events = s.EventRetention()
	}
	return runs, events
}

// AccountSettings returns the actor's account's settings.
func (m *Manager) AccountSettings(ctx context.Context, actor Actor) (AccountSettings, error) {
	if err := actor.require(ActRead); err != nil {
		return AccountSettings{}, err
	}
	return m.accountSettings(ctx, m.d.Store, actor.AccountID)
}

// SetAccountSettings replaces the account's settings, checked: a time zone
// that exists, a trash retention from 1 to 365 days, run history and event
// retentions from 1 day to 3 years (0: the deployment's), known roles,
// addresses.
func (m *Manager) SetAccountSettings(ctx context.Context, actor Actor, s AccountSettings) (AccountSettings, error) {
	if err := actor.require(ActManageAccount); err != nil {
		return AccountSettings{}, err
	}
	s.TimeZone = strings.TrimSpace(s.TimeZone)
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil || strings.EqualFold(s.TimeZone, "local") {
		return s, invalid("time_zone", "%q is not a time zone: want an IANA name such as Europe/Paris or America/New_York", s.TimeZone)
	}
	if s.TrashRetentionDays < 1 || s.TrashRetentionDays > MaxTrashRetentionDays {
		return s, invalid("trash_retention_days", "the trash keeps objects from 1 to %d days, not %d", MaxTrashRetentionDays, s.TrashRetentionDays)
	}
	for _, r := range []struct {
		field string
		days  int
	}{{"run_retention_days", s.RunRetentionDays}, {"event_retention_days", s.EventRetentionDays}} {
		// 0 is the deployment's: a caller that never heard of the setting keeps it.
		if r.days < 0 || r.days > MaxHistoryRetentionDays {
			return s, invalid(r.field, "%s is from 1 to %d days (0: the deployment's), not %d",
				strings.ReplaceAll(strings.TrimSuffix(r.field, "_days"), "_", " "), MaxHistoryRetentionDays, r.days)
		}
	}
	roles := []Role{}
	for _, r := range s.NotifyRoles {
		pr, err := ParseRole(string(r))
		if err != nil {
			return s, invalid("notify_roles", "%s", AsError(err).Message)
		}
		roles = append(roles, pr)
	}
	slices.SortFunc(roles, func(a, b Role) int { return b.rank() - a.rank() })
	s.NotifyRoles = slices.Compact(roles)
	emails := []string{}
	for _, e := range s.NotifyEmails {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e {
			return s, invalid("notify_emails", "%q is not an email address such as it-team@example.com", e)
		}
		if !slices.ContainsFunc(emails, func(x string) bool { return strings.EqualFold(x, e) }) {
			emails = append(emails, e)
		}
	}
	if len(emails) > maxNotifyEmails {
		return s, invalid("notify_emails", "at most %d addresses", maxNotifyEmails)
	}
	s.NotifyEmails = emails
	data, err := json.Marshal(s)
	if err != nil {
		return s, err
	}
	err = m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.SetAccountSettings(ctx, actor.AccountID, data) })
	if s.RunRetentionDays == 0 {
		s.RunRetentionDays = inDays(m.d.RunRetention)
	}
	if s.EventRetentionDays == 0 {
		s.EventRetentionDays = inDays(m.d.EventRetention)
	}
	return s, err
}

// ParseEmails splits a list of addresses written one a line or separated
// by commas, as a form's text area gives them.
func ParseEmails(text string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ';' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// NotificationRecipients lists who is told when one of the account's
// sources needs attention: the console users of the roles the settings
// name, then the settings' extra addresses, each address once.
func (m *Manager) NotificationRecipients(ctx context.Context, accountID string) ([]string, error) {
	s, err := m.accountSettings(ctx, m.d.Store, accountID)
	if err != nil {
		return nil, err
	}
	users, err := m.d.Store.ConsoleUsers(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var out []string
	add := func(e string) {
		if !slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, e) }) {
			out = append(out, e)
		}
	}
	for _, u := range users {
		if slices.Contains(s.NotifyRoles, Role(u.Role)) {
			add(u.Email)
		}
	}
	for _, e := range s.NotifyEmails {
		add(e)
	}
	return out, nil
}
