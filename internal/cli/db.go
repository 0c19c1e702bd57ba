package cli

import (
	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/factory"
)

func (a *app) dbCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "db", Short: "Manage the database's schema (contract migrations after a rolling upgrade)"}
	var asJSON, dryRun bool
	contract := deployment(readOnly(&cobra.Command{
		Use:   "contract [--dry-run]",
		Short: "Apply the contract migrations: take away what earlier releases used, once no replica runs them",
		Long: `A release changes the schema in two steps. Its expand migrations only add, so
a replica of the previous release keeps working beside it; every replica
applies them when it starts. Its contract migrations take away what an
earlier release still used (a column, a table); on PostgreSQL they wait
for this command, to run once every replica runs this release (on SQLite,
one machine and one release, they run when the database opens).

--dry-run names the pending contract migrations and applies nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := a.open(cmd); err != nil {
				return err
			}
			ctx := cmd.Context()
			var names []string
			var err error
			if dryRun {
				names, err = factory.PendingContracts(ctx, a.parts)
			} else {
				names, err = factory.Contract(ctx, a.parts)
			}
			if err != nil {
				return err
			}
			if asJSON {
				key := "applied"
				if dryRun {
					key = "pending"
				}
				return a.printJSON(map[string]any{key: nonNil(names)})
			}
			switch {
			case len(names) == 0:
				a.printf("No contract migration is pending.\n")
			case dryRun:
				a.printf("Pending contract migrations (run dirsync db contract once every replica runs this release):\n")
			default:
				a.printf("Applied contract migrations:\n")
			}
			for _, n := range names {
				a.printf("  %s\n", n)
			}
			return nil
		},
	}))
	contract.Flags().BoolVar(&dryRun, "dry-run", false, "name the pending contract migrations; apply nothing")
	contract.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(contract)
	return cmd
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
