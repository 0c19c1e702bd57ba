package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

func (a *app) usersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Read the directory's users"}
	var (
		asJSON      bool
		states      []string
		search, src string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List users (active and disabled; --state pending_deletion for the trash)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			q := store.UserQuery{Search: search}
			for _, s := range states {
				q.States = append(q.States, directory.State(s))
			}
			if src != "" {
				s, err := st.Source(ctx, acc.ID, src)
				if err != nil {
					return usageErr("no source %q", src)
				}
				q.SourceID = s.ID
			}
			page, err := st.Users(ctx, acc.ID, q)
			if err != nil {
				return err
			}
			users := page.Items
			if users == nil {
				users = []directory.User{}
			}
			if asJSON {
				for i := range users {
					normalizeUser(&users[i])
				}
				return a.printJSON(users)
			}
			var rows [][]string
			for _, u := range users {
				rows = append(rows, []string{u.Username, dash(u.Email), dash(u.DisplayName), string(u.State), sourceNames(u.Sources)})
			}
			if err := a.table([]string{"USERNAME", "EMAIL", "NAME", "STATE", "SOURCES"}, rows); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%d users\n", len(users))
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.Flags().StringSliceVar(&states, "state", nil, "states to list: active, disabled, pending_deletion")
	list.Flags().StringVar(&search, "search", "", "only users whose username, email or name contains this")
	list.Flags().StringVar(&src, "source", "", "only users from this source")

	var showJSON bool
	show := &cobra.Command{
		Use:   "show USER",
		Short: "Show one user, by id, username or email",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			u, err := findUser(ctx, st, acc.ID, args[0])
			if err != nil {
				return err
			}
			normalizeUser(&u)
			if showJSON {
				return a.printJSON(u)
			}
			a.printf("ID:           %s\nUsername:     %s\nEmail:        %s\nName:         %s\nState:        %s\nSources:      %s\n",
				u.ID, u.Username, dash(u.Email), dash(u.DisplayName), u.State, sourceNames(u.Sources))
			a.printf("Job title:    %s\nDepartment:   %s\nUser type:    %s\nMobile:       %s\nPhones:       %s\nTags:         %s\n",
				dash(u.JobTitle), dash(u.Department), dash(u.UserType), dash(u.MobilePhone), dash(strings.Join(u.BusinessPhones, ", ")), dash(strings.Join(u.Tags, ", ")))
			return nil
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON")
	cmd.AddCommand(list, show, a.userSetCommand())
	return cmd
}

// normalizeUser makes empty lists print as [] rather than null.
func normalizeUser(u *directory.User) {
	if u.Sources == nil {
		u.Sources = []directory.SourceLink{}
	}
	if u.Tags == nil {
		u.Tags = []string{}
	}
}

func sourceNames(links []directory.SourceLink) string {
	var names []string
	for _, l := range links {
		names = append(names, l.Source)
	}
	if len(names) == 0 {
		return "(local)"
	}
	return strings.Join(names, ",")
}

func (a *app) groupsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "groups", Short: "Read the directory's groups and their members"}
	var (
		asJSON bool
		search string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			page, err := st.Groups(ctx, acc.ID, store.GroupQuery{Search: search})
			if err != nil {
				return err
			}
			groups := page.Items
			if groups == nil {
				groups = []directory.Group{}
			}
			if asJSON {
				for i := range groups {
					if groups[i].Sources == nil {
						groups[i].Sources = []directory.SourceLink{}
					}
				}
				return a.printJSON(groups)
			}
			var rows [][]string
			for _, g := range groups {
				rows = append(rows, []string{g.Name, g.ID, dash(g.Mail), string(g.State), sourceNames(g.Sources)})
			}
			if err := a.table([]string{"NAME", "ID", "MAIL", "STATE", "SOURCES"}, rows); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%d groups\n", len(groups))
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.Flags().StringVar(&search, "search", "", "only groups whose name contains this")

	var (
		membersJSON, direct bool
	)
	members := &cobra.Command{
		Use:   "members GROUP",
		Short: "List a group's members: effective (nested groups flattened) unless --direct",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			g, err := st.Group(ctx, acc.ID, args[0])
			if errors.Is(err, store.ErrNotFound) {
				g, err = st.GroupByName(ctx, acc.ID, args[0])
			}
			if errors.Is(err, store.ErrNotFound) {
				return usageErr("no group %q (by id or name)", args[0])
			}
			if err != nil {
				return err
			}
			ms, err := st.Members(ctx, acc.ID, g.ID, !direct)
			if err != nil {
				return err
			}
			if ms == nil {
				ms = []directory.Member{}
			}
			if membersJSON {
				return a.printJSON(ms)
			}
			var rows [][]string
			for _, m := range ms {
				rows = append(rows, []string{string(m.Kind), m.Name, m.ID})
			}
			if err := a.table([]string{"KIND", "NAME", "ID"}, rows); err != nil {
				return err
			}
			which := "effective"
			if direct {
				which = "direct"
			}
			fmt.Fprintf(a.stderr, "%d %s members of %s\n", len(ms), which, g.Name)
			return nil
		},
	}
	members.Flags().BoolVar(&membersJSON, "json", false, "print JSON")
	members.Flags().BoolVar(&direct, "direct", false, "only direct members")
	cmd.AddCommand(list, members)
	return cmd
}
