package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) accountCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Manage accounts (customer organizations)"}
	var asJSON bool
	list := deployment(readOnly(&cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			accs, err := m.Accounts(cmd.Context(), actor)
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
	}))
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	create := deployment(&cobra.Command{
		Use:   "create NAME",
		Short: "Create an account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			acc, err := m.CreateAccount(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(acc)
			}
			a.printf("Created account %s (%s)\n", acc.Name, acc.ID)
			return nil
		},
	})
	create.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(list, create, a.accountSettingsCommand())
	return cmd
}
