package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/scope"
)

// sourceSearchCommand finds groups or users in a source by name, for
// choosing the groups of a group filter or users to pick.
func (a *app) sourceSearchCommand(what string) *cobra.Command {
	var (
		query  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   what + " SOURCE --search TEXT",
		Short: fmt.Sprintf("Search the source's %s by name (at most %d results), to select them", what, scope.MaxSearchResults),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if query == "" {
				return usageErr("--search is required: the start of a name to look for")
			}
			_, src, err := a.findSource(ctx, args[0])
			if err != nil {
				return err
			}
			conn, err := a.connect(src)
			if err != nil {
				return &exitError{ExitUsage, err}
			}
			s, ok := conn.(connector.Searcher)
			if !ok {
				return usageErr("source %s (%s) cannot be searched; give the ids directly", src.Name, src.Kind)
			}
			type row struct {
				ID   string `json:"external_id"`
				Name string `json:"name"`
				Mail string `json:"mail,omitempty"`
			}
			var rows []row
			var more bool
			if what == "groups" {
				var gs []directory.SourceGroup
				gs, more, err = s.SearchGroups(ctx, query, scope.MaxSearchResults)
				for _, g := range gs {
					rows = append(rows, row{g.ExternalID, g.Name, g.Mail})
				}
			} else {
				var us []directory.SourceUser
				us, more, err = s.SearchUsers(ctx, query, scope.MaxSearchResults)
				for _, u := range us {
					rows = append(rows, row{u.ExternalID, u.Username, u.Email})
				}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(struct {
					Results []row `json:"results"`
					More    bool  `json:"more"`
				}{append([]row{}, rows...), more})
			}
			var table [][]string
			for _, r := range rows {
				table = append(table, []string{r.ID, r.Name, dash(r.Mail)})
			}
			if err := a.table([]string{"ID", "NAME", "MAIL"}, table); err != nil {
				return err
			}
			if more {
				a.printf("Showing the first %d matches; there are more: refine the search.\n", scope.MaxSearchResults)
			}
			if what == "groups" {
				a.printf("Select with: dirsync source set %s --group ID [--group ID...] [--groups-mode flatten|nested]\n", src.Name)
			} else {
				a.printf("Pick with: dirsync source set %s --pick-user ID [--pick-user ID...]\n", src.Name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&query, "search", "", "text the name starts with (words match by prefix)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
