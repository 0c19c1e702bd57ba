package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

func (a *app) trashCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "trash", Short: "Users and groups pending deletion: list, restore, purge"}
	cmd.AddCommand(a.trashListCommand(), a.trashRestoreCommand(), a.trashPurgeCommand())
	return cmd
}

func (a *app) trashListCommand() *cobra.Command {
	var asJSON bool
	list := readOnly(&cobra.Command{
		Use:   "list",
		Short: "List what is in the trash, with when it went there and when it will be purged",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			t, err := m.ListTrash(cmd.Context(), actor, manage.TrashQuery{})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(struct {
					Users  []directory.User  `json:"users"`
					Groups []directory.Group `json:"groups"`
				}{t.Users, t.Groups})
			}
			var rows [][]string
			for _, u := range t.Users {
				rows = append(rows, []string{"user", u.Username, u.ID, fmtTime(u.TrashedAt), fmtTime(t.PurgeAfter(u.TrashedAt)), sourceNames(u.Sources)})
			}
			for _, g := range t.Groups {
				rows = append(rows, []string{"group", g.Name, g.ID, fmtTime(g.TrashedAt), fmtTime(t.PurgeAfter(g.TrashedAt)), sourceNames(g.Sources)})
			}
			return a.table([]string{"KIND", "NAME", "ID", "TRASHED", "PURGED AFTER", "SOURCES"}, rows)
		},
	})
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return list
}

func (a *app) trashRestoreCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "restore USER|GROUP",
		Short: "Take a user or group out of the trash (by id, username, email or group name)",
		Long: `Take a user or group out of the trash, with its id and local data. Name it by
its id, a user's username or email, or a group's name. An object a source
still manages comes back by itself when the source has it again; it cannot
be restored here while the source says it is gone (exit 6).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			o, err := m.Restore(cmd.Context(), actor, manage.TrashRef{Key: args[0]})
			if err != nil {
				return err
			}
			a.printf("Restored %s\n", o.Name())
			return nil
		},
	}
}

func (a *app) trashPurgeCommand() *cobra.Command {
	var (
		expired   bool
		olderThan string
	)
	purge := &cobra.Command{
		Use:   "purge USER|GROUP | --expired [--older-than 7d]",
		Short: "Delete for good one object in the trash, or all that outstayed the retention",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (expired || cmd.Flags().Changed("older-than")) {
				return usageErr("give either a user or group to purge, or --expired (with --older-than)")
			}
			var age *time.Duration // the retention
			if olderThan != "" {
				d, err := manage.ParseAge(olderThan)
				if err != nil {
					return err
				}
				age = &d
			}
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				o, err := m.Purge(cmd.Context(), actor, manage.TrashRef{Key: args[0]})
				if err != nil {
					return err
				}
				a.printf("Purged %s.\n", o.Name())
				return nil
			}
			n, err := m.PurgeExpired(cmd.Context(), actor, age)
			if err != nil {
				return err
			}
			a.printf("Purged %d object(s).\n", n)
			return nil
		},
	}
	purge.Flags().BoolVar(&expired, "expired", false, "purge everything trashed longer ago than --older-than")
	purge.Flags().StringVar(&olderThan, "older-than", "", "age past which the trash is purged, such as 7d, 36h or 90m (default: the trash retention, 7d)")
	return purge
}
