package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestServeShareSettings: --account-workers and --webhook-claim refuse
// values that cannot work, naming the setting, before anything starts.
func TestServeShareSettings(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	db := filepath.Join(t.TempDir(), "dirsync.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--workers", "2", "--account-workers", "3"}, "--account-workers: 3 is more than --workers (2)"},
		{[]string{"--account-workers", "-1"}, `--account-workers: "-1" is not a positive whole number`},
		{[]string{"--webhook-claim", "2s"}, "--webhook-claim: a claim shorter than 5s"},
	} {
		_, stderr, code := runCLI(t, db, "", append([]string{"serve", "--listen", "127.0.0.1:0"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("serve %v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
