package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

func (a *app) runsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "Read the history of sync runs"}
	cmd.AddCommand(a.runsListCommand(), a.runsShowCommand())
	return cmd
}

func (a *app) runsListCommand() *cobra.Command {
	var (
		asJSON bool
		limit  int
	)
	list := readOnly(&cobra.Command{
		Use:   "list [SOURCE]",
		Short: "List runs, newest first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			source := ""
			if len(args) == 1 {
				source = args[0]
			}
			page, err := m.Runs(cmd.Context(), actor, manage.RunQuery{Source: source, Limit: limit})
			if err != nil {
				return err
			}
			runs := page.Items
			if asJSON {
				return a.printJSON(runs)
			}
			var rows [][]string
			for _, r := range runs {
				c := r.Counts
				kind := string(r.Kind)
				if r.DryRun {
					kind += " (dry run)"
				}
				rows = append(rows, []string{r.ID, r.Source, kind, fmtTime(r.StartedAt), string(r.Outcome),
					fmt.Sprintf("+%d ~%d -%d", c.Created, c.Updated+c.Disabled+c.Enabled+c.Restored, c.Deleted), dash(r.Reason)})
			}
			return a.table([]string{"RUN", "SOURCE", "KIND", "STARTED", "OUTCOME", "CHANGES", "REASON"}, rows)
		},
	})
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many runs")
	return list
}

func (a *app) runsShowCommand() *cobra.Command {
	var showJSON, withChanges bool
	show := readOnly(&cobra.Command{
		Use:   "show RUN",
		Short: "Show what a run did",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			run, err := m.Run(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			var changes []directory.Change
			if withChanges {
				page, err := m.Changes(cmd.Context(), actor, run.ID, manage.ChangeQuery{})
				if err != nil {
					return err
				}
				changes = page.Items
			}
			if showJSON {
				out := struct {
					directory.Run
					Changes []directory.Change `json:"changes,omitempty"`
				}{run, changes}
				return a.printJSON(out)
			}
			a.printRunSummary(run)
			a.printf("  Kind:       %s, triggered by %s\n  Started:    %s\n  Finished:   %s\n", run.Kind, dash(run.Trigger), fmtTime(run.StartedAt), fmtTime(run.FinishedAt))
			if withChanges {
				a.printf("\nChanges:\n")
				a.printChanges(changes)
			}
			return nil
		},
	})
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON")
	show.Flags().BoolVar(&withChanges, "changes", false, "list every change with attributes before and after")
	return show
}
