package cli

import (
	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/manage"
)

// importCommand is a one-time import: a full run with the source's options,
// outside any schedule (Security Center's "import recipients").
func (a *app) importCommand() *cobra.Command {
	var dryRun, allowDeletes, asJSON bool
	cmd := &cobra.Command{
		Use:   "import SOURCE",
		Short: "Import a source once, with its options, outside any schedule",
		Long: `Run one full import of a source with its scope rules and import options
(for a one-time import, set --update-existing=false on the source first: only
users that do not exist yet are created). It never schedules anything.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			req := manage.SyncRequest{Trigger: "import", Full: true, DryRun: dryRun, AllowDeletes: allowDeletes, Progress: a.progress(args[0], !asJSON)}
			run, err := m.SyncNow(cmd.Context(), actor, args[0], req)
			if run.ID == "" {
				return err
			}
			return a.showRun(cmd, run, err, asJSON, dryRun)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what the import would do; apply nothing")
	cmd.Flags().BoolVar(&allowDeletes, "allow-deletes", false, "confirm past the deletion limit")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run as JSON")
	return cmd
}
