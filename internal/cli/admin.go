package cli

import (
	"context"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/manage"
)

// The console's users, from the command line: the first owner, and a
// one-time sign-in link for a user who forgot a password.

func (a *app) adminCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Manage the admin console's users (create, link, list, role, remove)"}
	cmd.AddCommand(a.adminCreateCommand(), a.adminLinkCommand(), a.adminListCommand(), a.adminRoleCommand(), a.adminRemoveCommand())
	return cmd
}

// consoleURL is the console's address for the links printed: --url, else
// DIRSYNC_PUBLIC_URL, else the default address of dirsync serve.
func consoleURL(flag string) string {
	u := flag
	if u == "" {
		u = os.Getenv("DIRSYNC_PUBLIC_URL")
	}
	if u == "" {
		u = "http://127.0.0.1:8080"
	}
	return strings.TrimRight(u, "/")
}

func (a *app) printLink(base string, l manage.SignInLink) {
	what := "signs in " + l.Email
	if l.Setup {
		what = "creates the account's first owner"
	}
	a.printf("One-time sign-in link (it %s, once, until %s):\n  %s/link/%s\n", what, fmtTime(l.ExpiresAt), base, l.Token)
}

func (a *app) adminCreateCommand() *cobra.Command {
	var (
		roleText, pwFile, pwEnv, url string
		asJSON                       bool
	)
	cmd := &cobra.Command{
		Use:   "create EMAIL --role ROLE [--password-file FILE]",
		Short: "Create a console user; without a password, print a one-time sign-in link",
		Long: `Create a user of the admin console in the current account. Roles, each able
to do what the ones before it can:
` + manage.RoleHelp() + `The password is read from --password-file (- for standard input) or
--password-env, never from the command line; without one, a one-time
sign-in link is printed (valid for an hour) with which the user signs in and
sets a password. The link's address is --url, else DIRSYNC_PUBLIC_URL, else
http://127.0.0.1:8080.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := manage.ParseRole(roleText); err != nil {
				return err
			}
			pw, err := a.readSecret("password", pwFile, pwEnv)
			if err != nil {
				return err
			}
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			u, err := m.CreateConsoleUser(cmd.Context(), actor, manage.ConsoleUserInput{Email: args[0], Role: roleText, Password: pw})
			if err != nil {
				return err
			}
			var link *manage.SignInLink
			if pw == nil {
				l, err := m.IssueSignInLink(cmd.Context(), actor, u.Email)
				if err != nil {
					return err
				}
				link = &l
			}
			if asJSON {
				out := map[string]any{"user": u}
				if link != nil {
					out["link"] = consoleURL(url) + "/link/" + link.Token
					out["link_expires_at"] = link.ExpiresAt
				}
				return a.printJSON(out)
			}
			a.printf("Created console user %s (%s) in account %s.\n", u.Email, u.Role, actor.AccountName)
			if link != nil {
				a.printLink(consoleURL(url), *link)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&roleText, "role", "", "owner, administrator, user_manager, help_desk or read_only (required)")
	f.StringVar(&pwFile, "password-file", "", "read the password from this file (- for standard input)")
	f.StringVar(&pwEnv, "password-env", "", "read the password from this environment variable")
	f.StringVar(&url, "url", "", "the console's address, for the link (default $DIRSYNC_PUBLIC_URL or http://127.0.0.1:8080)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	cmd.MarkFlagRequired("role")
	return cmd
}

func (a *app) adminLinkCommand() *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "link [EMAIL]",
		Short: "Print a one-time sign-in link for a console user (or, without one, for the first owner)",
		Long: `Print a link that signs a console user in once, within an hour: for a
forgotten password, or a user created without one. Without EMAIL, for an
account that has no console user yet, the link creates its first owner
(valid for 24 hours).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			email := ""
			if len(args) == 1 {
				email = args[0]
			}
			l, err := m.IssueSignInLink(cmd.Context(), actor, email)
			if err != nil {
				return err
			}
			a.printLink(consoleURL(url), l)
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the console's address (default $DIRSYNC_PUBLIC_URL or http://127.0.0.1:8080)")
	return cmd
}

func (a *app) adminListCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "list",
		Short: "List the account's console users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			us, err := m.ConsoleUsers(cmd.Context(), actor)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(us)
			}
			var rows [][]string
			for _, u := range us {
				pw := "yes"
				if !u.HasPassword {
					pw = "no"
				}
				rows = append(rows, []string{u.Email, string(u.Role), pw, fmtTime(u.CreatedAt), fmtTime(u.LastSignInAt)})
			}
			return a.table([]string{"EMAIL", "ROLE", "PASSWORD", "CREATED", "LAST SIGN-IN"}, rows)
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) adminRoleCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "role EMAIL ROLE",
		Short: "Change a console user's role (at its next request; the last owner stays an owner)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			u, err := m.SetConsoleUserRole(cmd.Context(), actor, args[0], args[1])
			if err != nil {
				return err
			}
			a.printf("%s is now %s.\n", u.Email, u.Role)
			return nil
		},
	}
}

func (a *app) adminRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove EMAIL",
		Short: "Remove a console user and end its sessions (the last owner stays)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			u, err := m.RemoveConsoleUser(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			a.printf("Removed console user %s; its sessions are ended.\n", u.Email)
			return nil
		},
	}
}

// printConsole prints where the console is and, for an account without
// console users, the one-time link that creates its first owner. For the
// demo (anyOwner), an account with users gets a link for its first owner,
// so that whoever runs the demo can always get in.
func (a *app) printConsole(ctx context.Context, m *manage.Manager, actor manage.Actor, base string, anyOwner bool) error {
	base = strings.TrimRight(base, "/")
	needs, err := m.ConsoleNeedsSetup(ctx, actor)
	if err != nil {
		return err
	}
	a.printf("Admin console: %s/\n", base)
	email := ""
	if !needs {
		if !anyOwner {
			a.printf("  (sign in there; for a one-time sign-in link: dirsync admin link EMAIL)\n")
			return nil
		}
		us, err := m.ConsoleUsers(ctx, actor)
		if err != nil {
			return err
		}
		for _, u := range us {
			if u.Role == manage.RoleOwner {
				email = u.Email
				break
			}
		}
	}
	l, err := m.IssueSignInLink(ctx, actor, email)
	if err != nil {
		return err
	}
	a.printLink(base, l)
	return nil
}
