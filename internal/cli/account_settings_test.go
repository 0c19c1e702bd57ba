package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccountSettingsCommand: the account's settings are shown without
// creating a database, changed flag by flag, and a wrong value is refused
// with exit 2, naming it, changing nothing.
func TestAccountSettingsCommand(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	db := filepath.Join(t.TempDir(), "d.db")
	if _, stderr, code := runCLI(t, db, "", "account", "settings"); code != 2 || !strings.Contains(stderr, "no database at") {
		t.Fatalf("show on a missing database: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("showing the settings created the database: %v", err)
	}
	out, stderr, code := runCLI(t, db, "", "account", "settings", "--time-zone", "Europe/Paris", "--trash-days", "30",
		"--notify-role", "owner", "--notify-role", "administrator", "--notify-email", "it@example.com")
	if code != 0 || !strings.Contains(out, "Europe/Paris") || !strings.Contains(out, "it@example.com") {
		t.Fatalf("set: exit %d, %q %q", code, out, stderr)
	}
	show := func() map[string]any {
		t.Helper()
		out, stderr, code := runCLI(t, db, "", "account", "settings", "--json")
		var v map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("show: exit %d, %q %q", code, out, stderr)
		}
		return v
	}
	before := show()
	if before["time_zone"] != "Europe/Paris" || before["trash_retention_days"] != float64(30) ||
		len(before["notify_roles"].([]any)) != 2 || before["notify_emails"].([]any)[0] != "it@example.com" {
		t.Fatalf("stored: %v", before)
	}
	for _, bad := range []struct {
		args []string
		says string // what the message must name
	}{
		{[]string{"--time-zone", "Mars/Base", "--trash-days", "10"}, `"Mars/Base" is not a time zone`},
		{[]string{"--trash-days", "0"}, "from 1 to 365 days, not 0"},
		{[]string{"--notify-role", "boss"}, `unknown role "boss"`},
		{[]string{"--notify-email", "it@example.com", "--notify-email", "not an address"}, `"not an address" is not an email address`},
	} {
		_, stderr, code := runCLI(t, db, "", append([]string{"account", "settings"}, bad.args...)...)
		if code != 2 || !strings.Contains(stderr, bad.says) {
			t.Errorf("%v: exit %d, %q; want exit 2 saying %q", bad.args, code, stderr, bad.says)
		}
	}
	after := show()
	if a, b := must(json.Marshal(after)), must(json.Marshal(before)); string(a) != string(b) {
		t.Fatalf("refused changes changed the settings: %s, was %s", a, b)
	}
	// A flag given empty clears its list; the others stay.
	runCLI(t, db, "", "account", "settings", "--notify-email=")
	if v := show(); len(v["notify_emails"].([]any)) != 0 || v["time_zone"] != "Europe/Paris" {
		t.Fatalf("after clearing the addresses: %v", v)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestKeyRotateNeedsADatabase: rotating the key of a database that does not
// exist says so and creates nothing (no directory, database or key).
func TestKeyRotateNeedsADatabase(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	dir := filepath.Join(t.TempDir(), "missing")
	_, stderr, code := runCLI(t, filepath.Join(dir, "x.db"), "", "key", "rotate")
	if code != 2 || !strings.Contains(stderr, "no database at") {
		t.Fatalf("key rotate on a missing database: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("key rotate created %s: %v", dir, err)
	}
}
