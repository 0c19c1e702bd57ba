package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// sourceSecretCommand replaces a source's credential: the client secret
// before it expires, a new bind password, a renewed certificate.
func (a *app) sourceSecretCommand() *cobra.Command {
	var (
		clientSecret, bindPassword secretFlags
		certFile, expires          string
	)
	cmd := &cobra.Command{
		Use:   "secret SOURCE --client-secret-file FILE [--secret-expires DATE] | --bind-password-file FILE",
		Short: "Replace a source's credential (client secret, certificate, bind password)",
		Long: `Replace a source's credential, read from a file, standard input (-) or an
environment variable, never from the command line: an Entra ID source's client
secret (with its new expiry date) or certificate and key, an LDAP source's bind
password. The source's status clears at its next successful run, and expiry
warnings start over for the new date.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			v, err := m.Source(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			in := manage.SourceInput{}
			switch v.Kind {
			case directory.KindEntra:
				if in.Secret, err = clientSecret.read(a, cmd); err != nil {
					return err
				}
				if certFile != "" {
					if in.Secret != nil {
						return usageErr("give either a client secret or --certificate-file, not both")
					}
					if in.Secret, err = a.readSecret("certificate and private key", certFile, ""); err != nil {
						return err
					}
				}
				if cmd.Flags().Changed("secret-expires") {
					var cfg map[string]any
					json.Unmarshal(v.Config, &cfg)
					cfg["secret_expires"] = expires
					in.Config, _ = json.Marshal(cfg)
				}
			default:
				if in.Secret, err = bindPassword.read(a, cmd); err != nil {
					return err
				}
			}
			if in.Secret == nil {
				return usageErr("the new credential is required: --client-secret-file, --certificate-file (Entra ID) or --bind-password-file (LDAP), with - for standard input, or its -env variant")
			}
			v, err = m.UpdateSource(cmd.Context(), actor, args[0], in)
			if err != nil {
				return err
			}
			a.printf("The credential of source %s is replaced. Check it with: dirsync source test %s\n", v.Name, v.Name)
			return nil
		},
	}
	clientSecret.register(cmd, "client-secret", "new client secret value")
	bindPassword.register(cmd, "bind-password", "new bind password")
	cmd.Flags().StringVar(&certFile, "certificate-file", "", "PEM file with the app's new certificate and private key")
	cmd.Flags().StringVar(&expires, "secret-expires", "", "the new client secret's expiry date, YYYY-MM-DD")
	return cmd
}
