package cli

import (
	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/manage"
)

func (a *app) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage the account's REST API tokens"}
	cmd.AddCommand(a.tokenCreateCommand(), a.tokenListCommand(), a.tokenRevokeCommand())
	return cmd
}

func (a *app) tokenCreateCommand() *cobra.Command {
	var (
		roleText, name string
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "create --role ROLE [--name NAME]",
		Short: "Create an API token; it is shown once",
		Long: `Create a bearer token for the REST API (dirsync serve) in the current account.
Roles, each able to do what the ones before it can:
` + manage.RoleHelp() + `The token is printed once: only its hash is stored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := manage.ParseRole(roleText); err != nil {
				return err
			}
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			t, err := m.CreateToken(cmd.Context(), actor, name, roleText)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(t)
			}
			a.printf("Created %s token %s for account %s. Keep it now; it is not shown again:\n%s\n", t.Role, t.ID, actor.AccountName, t.Token)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&roleText, "role", "", "owner, administrator, user_manager, help_desk or read_only (required)")
	f.StringVar(&name, "name", "", "a name to recognize the token by")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	cmd.MarkFlagRequired("role")
	return cmd
}

func (a *app) tokenListCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "list",
		Short: "List the account's API tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			toks, err := m.Tokens(cmd.Context(), actor)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(toks)
			}
			var rows [][]string
			for _, t := range toks {
				state := "valid"
				if !t.RevokedAt.IsZero() {
					state = "revoked " + fmtTime(t.RevokedAt)
				}
				rows = append(rows, []string{t.ID, t.Prefix + "…", t.Role, dash(t.Name), fmtTime(t.CreatedAt), state})
			}
			return a.table([]string{"ID", "TOKEN", "ROLE", "NAME", "CREATED", "STATE"}, rows)
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) tokenRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke an API token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			if err := m.RevokeToken(cmd.Context(), actor, args[0]); err != nil {
				return err
			}
			a.printf("Revoked token %s.\n", args[0])
			return nil
		},
	}
}
