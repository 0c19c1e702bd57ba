package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/manage"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Export and import an account's configuration (sources, scope rules, schedules, targets, flows, webhooks)",
		Long: `Export an account's whole configuration but its secrets and its directory
(Azure AD Connect's "export synchronization settings") as versioned JSON in a
stable order, so that two exports diff cleanly; import it into another
database (a second server, a rebuild) in one transaction.`}
	cmd.AddCommand(a.configExportCommand(), a.configImportCommand())
	return cmd
}

func (a *app) configExportCommand() *cobra.Command {
	var output string
	cmd := readOnly(&cobra.Command{
		Use:   "export",
		Short: "Write the account's configuration as JSON, without secrets (dirsync config export > dirsync.json)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			c, err := m.ExportConfig(cmd.Context(), actor)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
			if output != "" && output != "-" {
				return os.WriteFile(output, data, 0o600)
			}
			_, err = a.stdout.Write(data)
			return err
		},
	})
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

func (a *app) configImportCommand() *cobra.Command {
	var (
		dryRun, asJSON bool
		secretArgs     []string
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Make the account's configuration the file's, in one transaction (--dry-run shows what would change)",
		Long: `Create or change the sources, targets and webhooks the file names, in one
transaction; what the account has and the file does not name is kept (an
import never deletes). A new source or target needs its secret, which an
export never holds: give each with --secret source:NAME=FILE or
--secret target:NAME=FILE (the import says which it lacks). A new webhook
gets a new signing secret, printed once, unless --secret webhook:URL=FILE
gives its old one. FILE - reads standard input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var doc []byte
			var err error
			if args[0] == "-" {
				doc, err = io.ReadAll(io.LimitReader(a.stdin, 16<<20))
			} else {
				doc, err = os.ReadFile(args[0])
			}
			if err != nil {
				return usageErr("read %s: %v", args[0], err)
			}
			secrets := map[string][]byte{}
			for _, s := range secretArgs {
				i := strings.LastIndex(s, "=")
				if i <= 0 || !strings.Contains(s[:i], ":") {
					return usageErr("--secret %q: want source:NAME=FILE, target:NAME=FILE or webhook:URL=FILE", s)
				}
				v, err := a.readSecret("secret of "+s[:i], s[i+1:], "")
				if err != nil {
					return err
				}
				secrets[s[:i]] = v
			}
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			res, err := m.ImportConfig(cmd.Context(), actor, doc, secrets, dryRun)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(res)
			}
			a.printImport(res)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "check everything and show what would change; change nothing")
	f.StringArrayVar(&secretArgs, "secret", nil, "a secret the file lacks: source:NAME=FILE, target:NAME=FILE or webhook:URL=FILE (repeat)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) printImport(res manage.ConfigImport) {
	var rows [][]string
	changed := 0
	for _, c := range res.Changes {
		if c.Action != "unchanged" {
			changed++
		}
		rows = append(rows, []string{c.Kind, c.Name, c.Action, strings.Join(c.Fields, ", ")})
	}
	a.table([]string{"KIND", "NAME", "ACTION", "CHANGES"}, rows)
	for _, k := range res.Kept {
		a.printf("kept (not in the file): %s\n", k)
	}
	for _, c := range res.Changes {
		if c.Secret != "" {
			a.printf("webhook %s: new signing secret %s (shown once)\n", c.Name, c.Secret)
		}
	}
	verb := "Imported"
	if res.DryRun {
		verb = "Dry run, nothing stored:"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %d changes.\n", verb, changed)
	a.printf("%s", b.String())
}
