package cli

import (
	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/engine"
)

// importCommand is a one-time import: a full run with the source's options,
// outside any schedule (Security Center's "import recipients").
func (a *app) importCommand() *cobra.Command {
	var dryRun, allowDeletes bool
	cmd := &cobra.Command{
		Use:   "import SOURCE",
		Short: "Import a source once, with its options, outside any schedule",
		Long: `Run one full import of a source with its scope rules and import options
(for a one-time import, set --update-existing=false on the source first: only
users that do not exist yet are created). It never schedules anything.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, src, err := a.findSource(ctx, args[0])
			if err != nil {
				return err
			}
			run, err := a.runSync(ctx, src, engine.Options{Trigger: "import", Full: true, DryRun: dryRun, AllowDeletes: allowDeletes}, true)
			if run.ID != "" {
				a.printRunSummary(run)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what the import would do; apply nothing")
	cmd.Flags().BoolVar(&allowDeletes, "allow-deletes", false, "confirm past the deletion limit")
	return cmd
}
