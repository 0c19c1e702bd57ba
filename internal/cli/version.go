package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionText is dirsync's version: the module version and the VCS
// revision it was built from, as the Go toolchain recorded them.
func versionText() string {
	version, revision, when, modified := "(unknown)", "", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	text := "dirsync " + version
	if revision != "" {
		if len(revision) > 12 {
			revision = revision[:12]
		}
		text += " (revision " + revision
		if when != "" {
			text += ", " + when
		}
		if modified {
			text += ", with local changes"
		}
		text += ")"
	}
	return fmt.Sprintf("%s %s %s/%s", text, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print dirsync's version and the revision it was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.printf("%s\n", versionText())
			return nil
		},
	}
}
