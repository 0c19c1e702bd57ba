package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dirsync/dirsync/internal/manage"
)

// enrollmentsCommand is Duo's Pending Enrollments and enrollment email
// settings, at the command line.
func (a *app) enrollmentsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "enrollments",
		Short: "Enrollment emails: who has not enrolled, resend, confirm, the template",
		Long: `A source with enrollment email on (dirsync source set SOURCE --send-enrollment)
mails each user it imports (active, with a valid email address, not enrolled
yet, and without a phone when it imports phones) a link to your application's
enrollment, valid 30 days; reminders go 2 days after the first mail and 8 days
after the first reminder; a link that expires unused is replaced at the next
sync, until the user enrolls. Your application says who enrolled
(POST /api/v1/users/{id}/enrollment, or dirsync enrollments confirm), which
ends the cycle and sends the event user.enrolled.

Set the template and your application's link first:
  dirsync enrollments template --link 'https://app.example.com/enroll?token={token}'
dirsync serve sends the mail (its --smtp-* settings).`,
	}
	cmd.AddCommand(a.enrollmentsListCommand(), a.enrollmentsShowCommand(), a.enrollmentsResendCommand(),
		a.enrollmentsConfirmCommand(), a.enrollmentsTemplateCommand(), a.enrollmentsPreviewCommand())
	return cmd
}

func (a *app) enrollmentsListCommand() *cobra.Command {
	var (
		statuses []string
		limit    int
		asJSON   bool
	)
	cmd := readOnly(&cobra.Command{
		Use:   "list",
		Short: "List who has not enrolled: address, the link's expiry, the last mail",
		Long: `List each user's newest enrollment cycle: by default those who have not enrolled
(pending; expired, whose new link goes at the next sync; refused, whose address
the mail server refused). --status picks others: enrolled, cancelled.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			var all []manage.EnrollmentView
			after := ""
			for {
				page, err := m.Enrollments(cmd.Context(), actor, manage.EnrollmentQuery{Statuses: statuses, After: after, Limit: min(limit, manage.MaxLimit)})
				if err != nil {
					return err
				}
				all = append(all, page.Items...)
				if page.Next == "" || (limit > 0 && len(all) >= limit) {
					break
				}
				after = page.Next
			}
			if asJSON {
				return a.printJSON(map[string]any{"enrollments": all})
			}
			if len(all) == 0 {
				a.printf("No enrollments.\n")
				return nil
			}
			rows := make([][]string, 0, len(all))
			for _, e := range all {
				rows = append(rows, []string{e.Username, e.Email, e.Status, fmtTime(e.ExpiresAt), fmt.Sprint(e.RemindersSent), mailState(e)})
			}
			return a.table([]string{"USER", "EMAIL", "STATUS", "LINK EXPIRES", "REMINDERS", "LAST MAIL"}, rows)
		},
	})
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "statuses to list: pending, expired, refused, cancelled, enrolled (default: the first three)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (default all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func mailState(e manage.EnrollmentView) string {
	if e.MailError != "" {
		return e.MailState + ": " + e.MailError
	}
	return dash(e.MailState)
}

func (a *app) printEnrollment(e manage.EnrollmentView) {
	a.fields([][2]string{
		{"User", e.Username + " (" + e.UserID + ")"},
		{"Email", e.Email},
		{"Status", e.Status},
		{"Started", fmtTime(e.CreatedAt)},
		{"Link expires", fmtTime(e.ExpiresAt)},
		{"Reminders sent", fmt.Sprint(e.RemindersSent)},
		{"Next reminder", fmtTimeOrEmpty(e.NextReminderAt)},
		{"Ended", fmtTimeOrEmpty(e.EndedAt)},
		{"How", e.EndedVia},
		{"Last mail", mailState(e)},
	})
}

func fmtTimeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmtTime(t)
}

func (a *app) enrollmentsShowCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "show USER",
		Short: "Show a user's enrollment (by id, username or email)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			e, err := m.UserEnrollment(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(e)
			}
			a.printEnrollment(e)
			return nil
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) enrollmentsResendCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "resend USER",
		Short: "Mail a user's pending enrollment link again; the expiry does not change",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			e, err := m.ResendEnrollment(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(e)
			}
			a.printf("Enrollment link of %s queued to %s; it still expires %s. dirsync serve sends it.\n", e.Username, e.Email, fmtTime(e.ExpiresAt))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) enrollmentsConfirmCommand() *cobra.Command {
	var (
		tokenFile string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "confirm USER",
		Short: "Record that a user enrolled (what your application says through the API)",
		Long: `Record that USER enrolled: the cycle ends, no more reminders go, and the feed
gets user.enrolled. With --token-file (a file, or - for standard input), the
link's token must be a live token of the user's; without, the user's id is
enough.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			token, err := a.readSecret("enrollment token", tokenFile, "")
			if err != nil {
				return err
			}
			e, err := m.ConfirmEnrollment(cmd.Context(), actor, args[0], strings.TrimSpace(string(token)))
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(e)
			}
			a.printf("%s enrolled (%s).\n", e.Username, fmtTime(e.EndedAt))
			return nil
		},
	}
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the link's token (- for standard input)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// templateFlags are the flags of "enrollments template".
type templateFlags struct {
	subject, link, validity, textFile, htmlFile string
	reminders                                   []string
	asJSON                                      bool
}

func (a *app) enrollmentsTemplateCommand() *cobra.Command {
	var tf templateFlags
	cmd := &cobra.Command{
		Use:   "template",
		Short: "Show or change the enrollment mail and your application's link",
		Long: `Show the account's enrollment template, or change what the flags give.

The subject and bodies take the placeholders <enrollment-link> (required in
each body), <name>, <username>, <email> and <expiry>. The link is your
application's enrollment page with {token} where each user's token goes, and
optionally {user_id} and {username}; it must be https (http for localhost).

  dirsync enrollments template --link 'https://app.example.com/enroll?token={token}' \
      --subject 'Set up your account, <name>' --text-file body.txt --html-file body.html
  dirsync enrollments preview alice@contoso.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.enrollmentsTemplate(cmd, &tf) },
	}
	fl := cmd.Flags()
	fl.StringVar(&tf.subject, "subject", "", "the mail's subject")
	fl.StringVar(&tf.textFile, "text-file", "", "file of the plain-text body")
	fl.StringVar(&tf.htmlFile, "html-file", "", "file of the HTML body (an empty file: text only)")
	fl.StringVar(&tf.link, "link", "", "your application's enrollment link, with {token}")
	fl.StringVar(&tf.validity, "validity", "", "how long a link works (default 30d)")
	fl.StringSliceVar(&tf.reminders, "reminder", nil, "reminder delays, each after the mail before it (default 2d,8d; --reminder= for none)")
	fl.BoolVar(&tf.asJSON, "json", false, "print JSON")
	return cmd
}

// enrollmentsTemplate changes what the flags give, or with none shows
// the template.
func (a *app) enrollmentsTemplate(cmd *cobra.Command, tf *templateFlags) error {
	m, actor, err := a.open(cmd)
	if err != nil {
		return err
	}
	in, changed, err := tf.input(cmd.Flags())
	if err != nil {
		return err
	}
	var s manage.EnrollmentSettings
	if changed {
		s, err = m.SetEnrollmentSettings(cmd.Context(), actor, in)
	} else {
		s, err = m.EnrollmentSettings(cmd.Context(), actor)
	}
	if err != nil {
		return err
	}
	if tf.asJSON {
		return a.printJSON(s)
	}
	if changed {
		a.printf("Enrollment template changed.\n")
	}
	var rem []string
	for _, r := range s.Reminders {
		rem = append(rem, manage.FormatAge(r))
	}
	a.fields([][2]string{{"Link", dash(s.Link)}, {"Valid for", manage.FormatAge(s.Validity)},
		{"Reminders after", dash(strings.Join(rem, ", then "))}, {"Subject", s.Subject}})
	a.printf("\nText:\n%s\n", indent(s.Text))
	if s.HTML != "" {
		a.printf("\nHTML:\n%s\n", indent(s.HTML))
	}
	return nil
}

// input is the change the flags given ask for (the bodies read from their
// files), and whether there is any.
func (tf *templateFlags) input(f *pflag.FlagSet) (manage.EnrollmentInput, bool, error) {
	var in manage.EnrollmentInput
	changed := false
	for _, s := range []struct {
		flag string
		val  *string
		dst  **string
	}{{"subject", &tf.subject, &in.Subject}, {"link", &tf.link, &in.Link}, {"validity", &tf.validity, &in.Validity}} {
		if f.Changed(s.flag) {
			*s.dst, changed = s.val, true
		}
	}
	for _, s := range []struct {
		flag, file string
		dst        **string
	}{{"text-file", tf.textFile, &in.Text}, {"html-file", tf.htmlFile, &in.HTML}} {
		if f.Changed(s.flag) {
			data, err := os.ReadFile(s.file)
			if err != nil {
				return in, false, usageErr("--%s: %v", s.flag, err)
			}
			text := string(data)
			*s.dst, changed = &text, true
		}
	}
	if f.Changed("reminder") {
		in.Reminders, changed = &tf.reminders, true
	}
	return in, changed, nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

func (a *app) enrollmentsPreviewCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "preview USER",
		Short: "Show the enrollment mail USER would receive (with a sample token)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			r, err := m.PreviewEnrollment(cmd.Context(), actor, args[0], nil)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(r)
			}
			a.printf("Subject: %s\n\n%s\n", r.Subject, r.Text)
			if r.HTML != "" {
				a.printf("\n-- HTML --\n%s\n", r.HTML)
			}
			return nil
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// mailCommand is the mail log and a test mail.
func (a *app) mailCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mail",
		Short: "The mail log (every enrollment link and notification, and what became of it), and a test mail",
	}
	var (
		kind, state, user string
		limit             int
		asJSON            bool
	)
	logCmd := readOnly(&cobra.Command{
		Use:   "log",
		Short: "List the mails, newest first: to whom, what, when, and the outcome",
		Long: `List the mails dirsync queued and sent, newest first. A mail is queued, sent,
refused (the server refused the address for good: it is not retried), failed
(refused for good, or retried for 24 hours in vain) or withdrawn (the user
enrolled before it went out).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			page, err := m.Mails(cmd.Context(), actor, manage.MailQuery{Kind: kind, State: state, User: user, Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(map[string]any{"mails": page.Items, "next": page.Next})
			}
			if len(page.Items) == 0 {
				a.printf("No mail.\n")
				return nil
			}
			rows := make([][]string, 0, len(page.Items))
			for _, ml := range page.Items {
				when := ml.FinishedAt
				if when.IsZero() {
					when = ml.CreatedAt
				}
				outcome := ml.State
				if ml.LastError != "" {
					outcome += ": " + ml.LastError
				}
				rows = append(rows, []string{fmtTime(when), ml.Kind, ml.To, fmt.Sprint(ml.Attempts), outcome})
			}
			return a.table([]string{"TIME", "KIND", "TO", "ATTEMPTS", "OUTCOME"}, rows)
		},
	})
	logCmd.Flags().StringVar(&kind, "kind", "", "only this kind: enrollment, enrollment_reminder, enrollment_resend, reauthorization_required, secret_expiring, secret_expired, source_failing, run_stopped, test")
	logCmd.Flags().StringVar(&state, "state", "", "only this state: queued, sent, refused, failed, withdrawn")
	logCmd.Flags().StringVar(&user, "user", "", "only the mails to this user (id, username or email)")
	logCmd.Flags().IntVar(&limit, "limit", 50, "at most this many")
	logCmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	testCmd := &cobra.Command{
		Use:   "test ADDRESS",
		Short: "Queue a test mail to ADDRESS; dirsync serve sends it (see dirsync mail log)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			ml, err := m.SendTestMail(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			a.printf("Test mail %s queued to %s; dirsync serve sends it: see dirsync mail log.\n", ml.ID, ml.To)
			return nil
		},
	}
	cmd.AddCommand(logCmd, testCmd)
	return cmd
}
