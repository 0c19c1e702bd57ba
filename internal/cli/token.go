package cli

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/store"
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
  read_only      read sources, runs, users, groups, events, webhooks
  help_desk      and sync one user
  user_manager   and change users' local attributes (tags, notes), restore from the trash
  administrator  and manage sources, syncs, webhooks; purge the trash
  owner          and manage API tokens
The token is printed once: only its hash is stored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			role, err := api.ParseRole(roleText)
			if err != nil {
				return usageErr("--role: %v", err)
			}
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			text, hash, prefix, err := api.NewToken()
			if err != nil {
				return err
			}
			t := store.APIToken{AccountID: acc.ID, Name: name, Role: string(role), Hash: hash, Prefix: prefix}
			err = st.Update(ctx, func(tx store.Tx) error {
				stx := tx
				return stx.CreateToken(ctx, &t)
			})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(api.TokenView{APIToken: t, Token: text})
			}
			a.printf("Created %s token %s for account %s. Keep it now; it is not shown again:\n%s\n", role, t.ID, acc.Name, text)
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
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the account's API tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			svc := st
			toks, err := svc.Tokens(ctx, acc.ID)
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
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) tokenRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke an API token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			err = st.Update(ctx, func(tx store.Tx) error {
				stx := tx
				return stx.RevokeToken(ctx, acc.ID, args[0], time.Now())
			})
			if errors.Is(err, store.ErrNotFound) {
				return usageErr("account %s has no token %q (see: dirsync token list)", acc.Name, args[0])
			}
			if err != nil {
				return err
			}
			a.printf("Revoked token %s.\n", args[0])
			return nil
		},
	}
}
