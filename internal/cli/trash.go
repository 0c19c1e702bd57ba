package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/store"
)

// DefaultRetention is how long the trash keeps users and groups before
// "trash purge --expired" (and dirsync serve, hourly) deletes them.
const DefaultRetention = engine.DefaultTrashRetention

func (a *app) trashCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "trash", Short: "Users and groups pending deletion: list, restore, purge"}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List what is in the trash, with when it went there and when it will be purged",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			trash := []directory.State{directory.StateTrash}
			users, err := st.Users(ctx, acc.ID, store.UserQuery{States: trash})
			if err != nil {
				return err
			}
			groups, err := st.Groups(ctx, acc.ID, store.GroupQuery{States: trash})
			if err != nil {
				return err
			}
			if asJSON {
				out := struct {
					Users  []directory.User  `json:"users"`
					Groups []directory.Group `json:"groups"`
				}{append([]directory.User{}, users.Items...), append([]directory.Group{}, groups.Items...)}
				return a.printJSON(out)
			}
			var rows [][]string
			for _, u := range users.Items {
				rows = append(rows, []string{"user", u.Username, u.ID, fmtTime(u.TrashedAt), fmtTime(u.TrashedAt.Add(DefaultRetention)), sourceNames(u.Sources)})
			}
			for _, g := range groups.Items {
				rows = append(rows, []string{"group", g.Name, g.ID, fmtTime(g.TrashedAt), fmtTime(g.TrashedAt.Add(DefaultRetention)), sourceNames(g.Sources)})
			}
			return a.table([]string{"KIND", "NAME", "ID", "TRASHED", "PURGED AFTER", "SOURCES"}, rows)
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	restore := &cobra.Command{
		Use:   "restore ID",
		Short: "Take a user or group out of the trash",
		Long: `Take a user or group out of the trash, with its id and local data. An object
a source still manages comes back by itself when the source has it again; it
cannot be restored here while the source says it is gone.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			var restored string
			err = st.Update(ctx, func(tx store.Tx) error {
				var u *directory.User
				var g *directory.Group
				if user, err := tx.User(ctx, acc.ID, args[0]); err == nil {
					u, restored = &user, "user "+user.Username
				} else if group, err := tx.Group(ctx, acc.ID, args[0]); err == nil {
					g, restored = &group, "group "+group.Name
				} else if errors.Is(err, store.ErrNotFound) {
					return usageErr("no user or group %q in account %s", args[0], acc.Name)
				} else {
					return err
				}
				if (u != nil && u.State != directory.StateTrash) || (g != nil && g.State != directory.StateTrash) {
					return usageErr("%s is not in the trash", restored)
				}
				err := engine.Restore(ctx, tx, u, g, time.Now(), "command line")
				var managed *engine.ManagedError
				if errors.As(err, &managed) {
					return usageErr("%v", managed)
				}
				return err
			})
			if err != nil {
				return err
			}
			a.printf("Restored %s (%s)\n", restored, args[0])
			return nil
		},
	}

	var expired bool
	var olderThan time.Duration
	purge := &cobra.Command{
		Use:   "purge [ID] | --expired",
		Short: "Delete for good one object in the trash, or all that outstayed the retention",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if (len(args) == 1) == expired {
				return usageErr("give either an ID or --expired")
			}
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			n := 0
			err = st.Update(ctx, func(tx store.Tx) error {
				n = 0
				if len(args) == 1 {
					if u, err := tx.User(ctx, acc.ID, args[0]); err == nil {
						if u.State != directory.StateTrash {
							return usageErr("user %s is not in the trash: only what is in the trash can be purged", u.Username)
						}
						n++
						return tx.PurgeUser(ctx, acc.ID, u.ID)
					}
					g, err := tx.Group(ctx, acc.ID, args[0])
					if errors.Is(err, store.ErrNotFound) {
						return usageErr("no user or group %q in account %s", args[0], acc.Name)
					}
					if err != nil {
						return err
					}
					if g.State != directory.StateTrash {
						return usageErr("group %s is not in the trash: only what is in the trash can be purged", g.Name)
					}
					n++
					return tx.PurgeGroup(ctx, acc.ID, g.ID)
				}
				purged, err := engine.PurgeTrash(ctx, tx, acc.ID, time.Now().Add(-olderThan))
				n = purged
				return err
			})
			if err != nil {
				return err
			}
			a.printf("Purged %d object(s).\n", n)
			return nil
		},
	}
	purge.Flags().BoolVar(&expired, "expired", false, "purge everything trashed longer ago than --older-than")
	purge.Flags().DurationVar(&olderThan, "older-than", DefaultRetention, "retention of the trash")
	cmd.AddCommand(list, restore, purge)
	return cmd
}

// userSetCommand edits a user's local attributes; synced ones are refused.
func (a *app) userSetCommand() *cobra.Command {
	var (
		tags                          []string
		notes, displayName, email     string
		enable, disable, asJSON, clrT bool
	)
	cmd := &cobra.Command{
		Use:   "set USER",
		Short: "Change a user's local attributes (tags, notes); synced attributes are read-only",
		Long: `Change a user's local attributes: tags and notes are the account's own.
Attributes a source manages (name, email, enabled...) are read-only while it
manages the user: change them at the source. Local users (no source) may have
them changed here.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			var out directory.User
			err = st.Update(ctx, func(tx store.Tx) error {
				u, err := findUser(ctx, tx, acc.ID, args[0])
				if err != nil {
					return err
				}
				synced := []string{}
				for _, name := range []string{"display-name", "email", "enable", "disable"} {
					if f.Changed(name) {
						synced = append(synced, name)
					}
				}
				if len(synced) > 0 && len(u.Sources) > 0 {
					return &exitError{ExitConflict, fmt.Errorf("user %s is managed by source %s: --%s is read-only in dirsync; change it at the source", u.Username, u.Sources[0].Source, synced[0])}
				}
				if f.Changed("display-name") {
					u.DisplayName = displayName
				}
				if f.Changed("email") {
					u.Email = email
				}
				if enable || disable {
					u.Enabled = enable
					if u.State != directory.StateTrash {
						u.State = directory.StateFor(u.Enabled)
					}
				}
				if clrT {
					u.Tags = []string{}
				}
				if f.Changed("tag") {
					u.Tags = append(u.Tags, tags...)
				}
				if f.Changed("notes") {
					u.Notes = notes
				}
				out = u
				return tx.UpdateUser(ctx, u)
			})
			if errors.Is(err, store.ErrAlreadyExists) {
				return &exitError{ExitConflict, err}
			}
			if err != nil {
				return err
			}
			if asJSON {
				normalizeUser(&out)
				return a.printJSON(out)
			}
			a.printf("Updated user %s\n", out.Username)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&tags, "tag", nil, "add a tag (repeatable)")
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

// findUser finds a user by id, username or email.
func findUser(ctx context.Context, r store.Reader, accountID, key string) (directory.User, error) {
	u, err := r.User(ctx, accountID, key)
	if errors.Is(err, store.ErrNotFound) {
		u, err = r.UserByUsername(ctx, accountID, key)
	}
	if errors.Is(err, store.ErrNotFound) {
		u, err = r.UserByEmail(ctx, accountID, key)
	}
	if errors.Is(err, store.ErrNotFound) {
		return u, usageErr("no user %q", key)
	}
	return u, err
}
