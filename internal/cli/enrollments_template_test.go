package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnrollmentsTemplateCommand: "enrollments template" changes what its
// flags give (the bodies read from files), keeps the rest, shows the
// template, and refuses an unreadable file or a bad value with exit 2,
// changing nothing.
func TestEnrollmentsTemplateCommand(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	dir := t.TempDir()
	db := filepath.Join(dir, "d.db")
	text, html := filepath.Join(dir, "body.txt"), filepath.Join(dir, "body.html")
	os.WriteFile(text, []byte("Hi <name>, enroll: <enrollment-link> before <expiry>\n"), 0o600)
	os.WriteFile(html, []byte(`<p><a href="<enrollment-link>">Enroll</a></p>`), 0o600)
	out, stderr, code := runCLI(t, db, "", "enrollments", "template", "--link", "https://app.example.com/enroll?token={token}",
		"--subject", "Set up your account, <name>", "--text-file", text, "--html-file", html, "--reminder", "1d", "--reminder", "3d")
	if code != 0 || !strings.Contains(out, "Enrollment template changed.") || !strings.Contains(out, "1d, then 3d") ||
		!strings.Contains(out, "  Hi <name>, enroll: <enrollment-link>") || !strings.Contains(out, "HTML:") {
		t.Fatalf("set: exit %d, %q %q", code, out, stderr)
	}
	show := func() map[string]any {
		t.Helper()
		out, stderr, code := runCLI(t, db, "", "enrollments", "template", "--json")
		var v map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("show: exit %d, %q %q", code, out, stderr)
		}
		return v
	}
	before := show()
	if before["subject"] != "Set up your account, <name>" || before["link"] != "https://app.example.com/enroll?token={token}" ||
		!strings.HasPrefix(before["text"].(string), "Hi <name>") || !strings.Contains(before["html"].(string), "Enroll</a>") {
		t.Fatalf("stored: %v", before)
	}
	for _, bad := range [][]string{
		{"--text-file", filepath.Join(dir, "missing.txt")},
		{"--link", "ftp://app.example.com/{token}"},
		{"--subject", "changed", "--validity", "soon"},
	} {
		_, stderr, code := runCLI(t, db, "", append([]string{"enrollments", "template"}, bad...)...)
		flag, value := strings.TrimPrefix(bad[len(bad)-2], "--"), bad[len(bad)-1]
		if code != 2 || !strings.Contains(stderr, flag) && !strings.Contains(stderr, value) {
			t.Errorf("%v: exit %d, %q", bad, code, stderr)
		}
	}
	if a, b := must(json.Marshal(show())), must(json.Marshal(before)); string(a) != string(b) {
		t.Fatalf("refused changes changed the template: %s, was %s", a, b)
	}
	// One flag changes one thing.
	runCLI(t, db, "", "enrollments", "template", "--subject", "Welcome")
	if v := show(); v["subject"] != "Welcome" || v["link"] != before["link"] || v["text"] != before["text"] {
		t.Fatalf("after changing the subject: %v", v)
	}
}
