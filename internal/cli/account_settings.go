package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dirsync/dirsync/internal/manage"
)

// accountSettingsCommand shows and changes the account's settings: its
// time zone, its trash retention and who is told when a source needs
// attention. Without flags it shows them; each flag given changes that
// setting only.
// accountFlags are the flags of "account settings".
type accountFlags struct {
	timeZone                      string
	trashDays, runDays, eventDays int
	roles, emails                 []string
	asJSON                        bool
}

func (a *app) accountSettingsCommand() *cobra.Command {
	var af accountFlags
	cmd := &cobra.Command{
		Use:   "settings",
		Short: "Show or change the account's time zone, retentions (trash, run history, events) and who is notified",
		Long: `Show the account's settings, or change those whose flags are given.

Notifications (a source needing reauthorization, a client secret expiring in
30, 7 and 1 days or expired, a source failing 3 runs in a row, a run stopped
by the deletion limit) go by mail, through dirsync serve's --smtp-* settings,
to the console users of the roles named (owners by default; every owner for a
reauthorization) and to the extra addresses.

The run history (each run and the changes it recorded) is kept 90 days and
the change feed's events 30 days (dirsync serve --event-retention) unless
the account says otherwise; each source's newest run and newest successful
run stay whatever their age. dirsync serve prunes hourly.

  dirsync account settings --time-zone Europe/Paris --trash-days 30
  dirsync account settings --run-days 365 --event-days 7
  dirsync account settings --notify-role owner --notify-role administrator \
      --notify-email it-team@example.com
  dirsync account settings --notify-email=        # no extra address`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.accountSettings(cmd, &af) },
	}
	f := cmd.Flags()
	f.StringVar(&af.timeZone, "time-zone", "", "IANA time zone that times are shown in and new schedules default to (Europe/Paris)")
	f.IntVar(&af.trashDays, "trash-days", 0, "days the trash keeps users and groups before purging them (1 to 365)")
	f.IntVar(&af.runDays, "run-days", 0, "days the run history (runs and their changes) is kept (1 to 1095; 0: the deployment's, 90)")
	f.IntVar(&af.eventDays, "event-days", 0, "days the change feed keeps events (1 to 1095; 0: the deployment's, --event-retention)")
	f.StringArrayVar(&af.roles, "notify-role", nil, "console role whose users are notified (repeat; --notify-role= for none): owner, administrator, user_manager, help_desk, read_only")
	f.StringArrayVar(&af.emails, "notify-email", nil, "extra address notified (repeat; --notify-email= for none)")
	f.BoolVar(&af.asJSON, "json", false, "print JSON")
	return cmd
}

// accountSettings shows the settings, or changes those whose flags are
// given and shows the result.
func (a *app) accountSettings(cmd *cobra.Command, af *accountFlags) error {
	f := cmd.Flags()
	changed := false
	for _, name := range []string{"time-zone", "trash-days", "run-days", "event-days", "notify-role", "notify-email"} {
		changed = changed || f.Changed(name)
	}
	if !changed {
		readOnly(cmd) // showing them creates no database
	}
	m, actor, err := a.open(cmd)
	if err != nil {
		return err
	}
	s, err := m.AccountSettings(cmd.Context(), actor)
	if err != nil {
		return err
	}
	if changed {
		af.apply(f, &s)
		if s, err = m.SetAccountSettings(cmd.Context(), actor, s); err != nil {
			return err
		}
	}
	if af.asJSON {
		return a.printJSON(s)
	}
	if changed {
		a.printf("Updated the account's settings.\n")
	}
	return a.printAccountSettings(cmd, m, actor, s)
}

// apply sets in s what the flags given say.
func (af *accountFlags) apply(f *pflag.FlagSet, s *manage.AccountSettings) {
	if f.Changed("time-zone") {
		s.TimeZone = af.timeZone
	}
	if f.Changed("trash-days") {
		s.TrashRetentionDays = af.trashDays
	}
	if f.Changed("run-days") {
		s.RunRetentionDays = af.runDays
	}
	if f.Changed("event-days") {
		s.EventRetentionDays = af.eventDays
	}
	if f.Changed("notify-role") {
		s.NotifyRoles = nil
		for _, r := range nonEmpty(af.roles) {
			s.NotifyRoles = append(s.NotifyRoles, manage.Role(r))
		}
	}
	if f.Changed("notify-email") {
		s.NotifyEmails = nonEmpty(af.emails)
	}
}

func (a *app) printAccountSettings(cmd *cobra.Command, m *manage.Manager, actor manage.Actor, s manage.AccountSettings) error {
	roles := make([]string, 0, len(s.NotifyRoles))
	for _, r := range s.NotifyRoles {
		roles = append(roles, string(r))
	}
	to, err := m.NotificationRecipients(cmd.Context(), actor.AccountID)
	if err != nil {
		return err
	}
	rows := [][]string{
		{"Time zone", s.TimeZone},
		{"Trash retention", fmt.Sprintf("%d days", s.TrashRetentionDays)},
		{"Run history retention", fmt.Sprintf("%d days", s.RunRetentionDays)},
		{"Event retention", fmt.Sprintf("%d days", s.EventRetentionDays)},
		{"Notified roles", orNone(strings.Join(roles, ", "))},
		{"Extra addresses", orNone(strings.Join(s.NotifyEmails, ", "))},
		{"Notified now", orNone(strings.Join(to, ", "))},
	}
	return a.table([]string{"SETTING", "VALUE"}, rows)
}

func nonEmpty(values []string) []string {
	out := []string{}
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
