package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/scope"
)

// sourceSearchCommand finds groups or users in a source by name, for
// choosing the groups of a group filter or users to pick.
func (a *app) sourceSearchCommand(what string) *cobra.Command {
	var (
		query  string
		asJSON bool
	)
	cmd := readOnly(&cobra.Command{
		Use:   what + " SOURCE --search TEXT",
		Short: fmt.Sprintf("Search the source's %s by name (at most %d results), to select them", what, scope.MaxSearchResults),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			res, err := m.SearchSource(cmd.Context(), actor, args[0], what, query)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(res)
			}
			var rows [][]string
			for _, r := range res.Results {
				rows = append(rows, []string{r.ExternalID, r.Name, dash(r.Mail)})
			}
			if err := a.table([]string{"ID", "NAME", "MAIL"}, rows); err != nil {
				return err
			}
			if res.More {
				a.printf("Showing the first %d matches; there are more: refine the search.\n", scope.MaxSearchResults)
			}
			if what == "groups" {
				a.printf("Select with: dirsync source set %s --group ID [--group ID...] [--groups-mode flatten|nested]\n", args[0])
			} else {
				a.printf("Pick with: dirsync source set %s --pick-user ID [--pick-user ID...]\n", args[0])
			}
			return nil
		},
	})
	cmd.Flags().StringVar(&query, "search", "", "text the name starts with (words match by prefix) (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.MarkFlagRequired("search")
	return cmd
}
