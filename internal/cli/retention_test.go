package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccountRetentionSettings: the run history's and the feed's
// retentions show their defaults, change by flag, and a value out of
// bounds is refused naming the setting, changing nothing.
func TestAccountRetentionSettings(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	db := filepath.Join(t.TempDir(), "d.db")
	show := func() map[string]any {
		t.Helper()
		out, stderr, code := runCLI(t, db, "", "account", "settings", "--json")
		var v map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("show: exit %d, %q %q", code, out, stderr)
		}
		return v
	}
	if _, stderr, code := runCLI(t, db, "", "account", "settings", "--time-zone", "UTC"); code != 0 {
		t.Fatalf("create: %d %s", code, stderr)
	}
	if v := show(); v["run_retention_days"] != float64(90) || v["event_retention_days"] != float64(30) {
		t.Fatalf("defaults: %v", v)
	}
	out, stderr, code := runCLI(t, db, "", "account", "settings", "--run-days", "365", "--event-days", "7")
	if code != 0 || !strings.Contains(out, "365 days") || !strings.Contains(out, "7 days") {
		t.Fatalf("set: exit %d, %q %q", code, out, stderr)
	}
	for _, bad := range [][]string{{"--run-days", "-1"}, {"--event-days", "5000"}} {
		_, stderr, code := runCLI(t, db, "", append([]string{"account", "settings"}, bad...)...)
		want := map[string]string{"--run-days": "run retention", "--event-days": "event retention"}[bad[0]]
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("%v: exit %d, %q", bad, code, stderr)
		}
	}
	if v := show(); v["run_retention_days"] != float64(365) || v["event_retention_days"] != float64(7) {
		t.Fatalf("after refused changes: %v", v)
	}
}
