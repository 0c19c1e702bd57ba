package cli

import (
	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/secret"
)

func (a *app) keyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage the master key that seals the secrets in the database"}
	var newKeyFile string
	var asJSON bool
	// readOnly: rotating never creates a database (or a key) where there was none.
	rotate := deployment(readOnly(&cobra.Command{
		Use:   "rotate [--new-key-file PATH]",
		Short: "Seal every secret again under a new master key, in one transaction",
		Long: `Make a new master key and seal every secret of the database again under it
(sources' and targets' credentials, webhooks' signing secrets, mails in the
outbox), in one transaction: either every secret moves to the new key or
none does.

With the key in a key file, the new key replaces it and the old one is kept
as KEYFILE.old: remove that once no backup of the database needs it. With
the key in DIRSYNC_MASTER_KEY, the new key is written to --new-key-file
(mode 0600; never printed): set DIRSYNC_MASTER_KEY from it wherever dirsync
runs, then remove the file.

A running "dirsync serve" keeps the old key until it restarts: restart it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := a.open(cmd); err != nil {
				return err
			}
			r, err := factory.RotateKey(cmd.Context(), a.parts, newKeyFile)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(map[string]any{"resealed": r.Resealed, "key_file": r.KeyFile, "old_key_file": r.OldKeyFile, "from_env": r.FromEnv})
			}
			a.printf("Sealed %d secret(s) again under a new master key.\n", r.Resealed)
			if r.FromEnv {
				a.printf("The new key is in %s. Set %s to its content wherever dirsync runs (%s=\"$(cat %s)\"), restart dirsync serve, then remove the file: the old key opens nothing in this database any more.\n",
					r.KeyFile, secret.EnvMasterKey, secret.EnvMasterKey, r.KeyFile)
				return nil
			}
			a.printf("The key file %s holds the new key; the old key is kept in %s: remove it once no backup of the database needs it.\nRestart dirsync serve if it runs: it still holds the old key.\n", r.KeyFile, r.OldKeyFile)
			return nil
		},
	}))
	rotate.Flags().StringVar(&newKeyFile, "new-key-file", "", "with the key in DIRSYNC_MASTER_KEY: the file the new key is written to")
	rotate.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(rotate)
	return cmd
}
