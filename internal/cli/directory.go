package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

func (a *app) usersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Read the directory's users; change their local attributes"}
	var (
		asJSON      bool
		states      []string
		search, src string
	)
	list := readOnly(&cobra.Command{
		Use:   "list",
		Short: "List users (active and disabled; --state pending_deletion for the trash)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := manage.ParseStates(states)
			if err != nil {
				return err
			}
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			page, err := m.Users(cmd.Context(), actor, manage.UserQuery{States: st, Search: search, Source: src})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(page.Items)
			}
			var rows [][]string
			for _, u := range page.Items {
				rows = append(rows, []string{u.Username, dash(u.Email), dash(u.DisplayName), string(u.State), sourceNames(u.Sources)})
			}
			if err := a.table([]string{"USERNAME", "EMAIL", "NAME", "STATE", "SOURCES"}, rows); err != nil {
				return err
			}
			fmt.Fprintln(a.stderr, countOf(len(page.Items), "user"))
			return nil
		},
	})
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.Flags().StringSliceVar(&states, "state", nil, "states to list: active, disabled, pending_deletion (comma separated or repeated)")
	list.Flags().StringVar(&search, "search", "", "only users with words beginning with these words (of the username, email or name: \"smi jo\" finds John Smith)")
	list.Flags().StringVar(&src, "source", "", "only users from this source")

	var showJSON bool
	show := readOnly(&cobra.Command{
		Use:   "show USER",
		Short: "Show one user, by id, username or email",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			u, err := m.User(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			if showJSON {
				return a.printJSON(u)
			}
			a.printUser(u)
			return nil
		},
	})
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON")
	cmd.AddCommand(list, show, a.userHistoryCommand(), a.userSetCommand())
	return cmd
}

// userHistoryCommand lists what applied syncs changed about a user.
func (a *app) userHistoryCommand() *cobra.Command {
	var (
		asJSON bool
		limit  int
	)
	cmd := readOnly(&cobra.Command{
		Use:   "history USER",
		Short: "List what syncs changed about a user (by id, username or email), newest first",
		Long: `List what applied syncs changed about a user, newest first, across every
run of every source: created, each attribute's before and after, disabled,
moved to the trash, restored, added to or removed from a group. Previews
(dry runs) and runs that failed or stopped changed nothing and are left out.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usageErr("--limit must be 1 or more")
			}
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			u, changes, more, err := userHistory(cmd, m, actor, args[0], limit)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(changes)
			}
			if err := a.printHistory(changes); err != nil {
				return err
			}
			note := ""
			if more {
				note = fmt.Sprintf(" (the newest %d; older ones with --limit)", limit)
			}
			fmt.Fprintf(a.stderr, "%d changes of %s%s\n", len(changes), u.Username, note)
			return nil
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&limit, "limit", 100, "list at most this many changes, the newest")
	return cmd
}

// userHistory reads the newest limit changes of a user's history, a page
// at a time, and whether there are older ones.
func userHistory(cmd *cobra.Command, m *manage.Manager, actor manage.Actor, key string, limit int) (directory.User, []manage.UserChange, bool, error) {
	var (
		u   directory.User
		out []manage.UserChange
		q   manage.UserHistoryQuery
	)
	for {
		q.Limit = min(limit-len(out), manage.MaxLimit)
		var (
			page manage.Page[manage.UserChange]
			err  error
		)
		if u, page, err = m.UserHistory(cmd.Context(), actor, key, q); err != nil {
			return u, nil, false, err
		}
		out = append(out, page.Items...)
		if page.Next == "" || len(out) >= limit {
			return u, out, page.Next != "", nil
		}
		q.After = page.Next
	}
}

func (a *app) printHistory(cs []manage.UserChange) error {
	var rows [][]string
	for _, c := range cs {
		action, detail := string(c.Action), ""
		if c.Member != nil {
			detail = "group " + c.Name
		}
		var parts []string
		for _, at := range c.Attributes {
			parts = append(parts, fmt.Sprintf("%s: %v → %v", at.Attribute, fmtValue(at.Before), fmtValue(at.After)))
		}
		if len(parts) > 0 {
			detail = strings.Join(parts, ", ")
		} else if detail == "" {
			detail = c.Detail
		}
		rows = append(rows, []string{fmtTime(c.AppliedAt), action, c.Source, c.RunID, dash(detail)})
	}
	return a.table([]string{"APPLIED", "ACTION", "SOURCE", "RUN", "DETAIL"}, rows)
}

func (a *app) printUser(u directory.User) {
	managed := "local (no source manages it)"
	if len(u.Sources) > 0 {
		managed = "synced from " + sourceNames(u.Sources)
	}
	managed += "; changeable here: " + strings.ReplaceAll(strings.Join(manage.EditableFields(u), ", "), "_", " ")
	rows := [][2]string{{"ID", u.ID}, {"Username", u.Username}, {"Email", u.Email}, {"Name", u.DisplayName},
		{"Given name", u.GivenName}, {"Surname", u.Surname}, {"State", string(u.State)}, {"Managed", managed},
		{"Job title", u.JobTitle}, {"Department", u.Department}, {"User type", u.UserType}, {"Mobile", u.MobilePhone},
		{"Phones", strings.Join(u.BusinessPhones, ", ")}, {"Account name", u.AccountName}, {"DN", u.DN},
		{"Tags", dash(strings.Join(u.Tags, ", "))}, {"Notes", dash(u.Notes)},
		{"Created", fmtTime(u.CreatedAt)}, {"Updated", fmtTime(u.UpdatedAt)}}
	if !u.TrashedAt.IsZero() {
		rows = append(rows, [2]string{"In the trash since", fmtTime(u.TrashedAt)})
	}
	a.fields(rows)
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

// userSetCommand edits a user's local attributes; synced ones are refused.
func (a *app) userSetCommand() *cobra.Command {
	var (
		tags, untags                  []string
		notes, displayName, email     string
		enable, disable, asJSON, clrT bool
	)
	cmd := &cobra.Command{
		Use:   "set USER",
		Short: "Change a user's local attributes (tags, notes); synced attributes are read-only",
		Long: `Change a user's local attributes: tags and notes are the account's own. Tags
are kept trimmed, sorted and without repeats.

Attributes a source manages (name, email, enabled...) are read-only while it
manages the user: change them at the source. Local users (no source) may have
them changed here.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			e := manage.UserEdit{AddTags: tags, RemoveTags: untags}
			if clrT {
				e.Tags = &[]string{}
			}
			if f.Changed("notes") {
				e.Notes = &notes
			}
			if f.Changed("display-name") {
				e.DisplayName = &displayName
			}
			if f.Changed("email") {
				e.Email = &email
			}
			if enable || disable {
				e.Enabled = &enable
			}
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			u, err := m.EditUser(cmd.Context(), actor, args[0], e)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(u)
			}
			a.printf("Updated user %s (tags: %s)\n", u.Username, dash(strings.Join(u.Tags, ", ")))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&tags, "tag", nil, "add a tag (repeat for more)")
	fl.StringArrayVar(&untags, "remove-tag", nil, "remove a tag (repeat for more)")
	fl.BoolVar(&clrT, "clear-tags", false, "remove all tags first")
	fl.StringVar(&notes, "notes", "", "replace the notes")
	fl.StringVar(&displayName, "display-name", "", "display name (local users only)")
	fl.StringVar(&email, "email", "", "email (local users only)")
	fl.BoolVar(&enable, "enable", false, "enable (local users only)")
	fl.BoolVar(&disable, "disable", false, "disable (local users only)")
	fl.BoolVar(&asJSON, "json", false, "print the user as JSON")
	cmd.MarkFlagsMutuallyExclusive("enable", "disable")
	return cmd
}

func (a *app) groupsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "groups", Short: "Read the directory's groups and their members"}
	var (
		asJSON bool
		search string
	)
	list := readOnly(&cobra.Command{
		Use:   "list",
		Short: "List groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			page, err := m.Groups(cmd.Context(), actor, manage.GroupQuery{Search: search})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(page.Items)
			}
			var rows [][]string
			for _, g := range page.Items {
				rows = append(rows, []string{g.Name, g.ID, dash(g.Mail), string(g.State), sourceNames(g.Sources)})
			}
			if err := a.table([]string{"NAME", "ID", "MAIL", "STATE", "SOURCES"}, rows); err != nil {
				return err
			}
			fmt.Fprintln(a.stderr, countOf(len(page.Items), "group"))
			return nil
		},
	})
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.Flags().StringVar(&search, "search", "", "only groups whose name contains this")

	var membersJSON, direct bool
	members := readOnly(&cobra.Command{
		Use:   "members GROUP",
		Short: "List a group's members: effective (nested groups flattened) unless --direct",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			g, page, err := m.Members(cmd.Context(), actor, args[0], manage.MemberQuery{Effective: !direct})
			if err != nil {
				return err
			}
			ms := page.Items
			if membersJSON {
				return a.printJSON(ms)
			}
			var rows [][]string
			for _, mb := range ms {
				rows = append(rows, []string{string(mb.Kind), mb.Name, mb.ID})
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
	})
	members.Flags().BoolVar(&membersJSON, "json", false, "print JSON")
	members.Flags().BoolVar(&direct, "direct", false, "only direct members")
	cmd.AddCommand(list, members)
	return cmd
}

// countOf says how many of noun there are: "1 user", "2 users".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
