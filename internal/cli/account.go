package cli

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

func (a *app) accountCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Manage accounts (customer organizations)"}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			accs, err := st.Accounts(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(accs)
			}
			var rows [][]string
			for _, acc := range accs {
				rows = append(rows, []string{acc.Name, acc.ID, fmtTime(acc.CreatedAt)})
			}
			return a.table([]string{"NAME", "ID", "CREATED"}, rows)
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := strings.TrimSpace(args[0])
			if name == "" {
				return usageErr("account name is empty")
			}
			st, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			acc := directory.Account{Name: name}
			err = st.Update(cmd.Context(), func(tx store.Tx) error { return tx.CreateAccount(cmd.Context(), &acc) })
			if errors.Is(err, store.ErrAlreadyExists) {
				return usageErr("account %q already exists", name)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(acc)
			}
			a.printf("Created account %s (%s)\n", acc.Name, acc.ID)
			return nil
		},
	}
	create.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(list, create)
	return cmd
}
