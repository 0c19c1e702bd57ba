package console_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/entraemu"
)

// TestGroupPickerSaysWhenThereAreMore: with 101 groups starting with
// "Picker", the group picker shows the first 100 and says there are more
// and what to do; a narrower search (Picker 100 alone) shows all it
// finds and says so.
func TestGroupPickerSaysWhenThereAreMore(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	for i := range 101 {
		if _, err := w.tenant.CreateGroup(entraemu.Group{DisplayName: fmt.Sprintf("Picker %03d", i), SecurityEnabled: true,
			MailNickname: fmt.Sprintf("picker%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/sources/contoso?group_search=" + url.QueryEscape("Picker") + "#groups")
	note := b.text("#group-results-note")
	if !strings.Contains(note, "More than 100 groups start with “Picker”") || !strings.Contains(note, "the first 100 are shown") ||
		!strings.Contains(note, "type more of the name") {
		t.Fatalf("101 matches: the picker says %q", note)
	}
	if n := b.count(`#groups .results input[name="group"]`); n != 100 {
		t.Fatalf("101 matches: the picker offers %d groups, want 100", n)
	}
	b.audit("source-group-picker-more")
	b.open("/sources/contoso?group_search=" + url.QueryEscape("Picker 10") + "#groups")
	note = b.text("#group-results-note")
	if n := b.count(`#groups .results input[name="group"]`); n != 1 || strings.Contains(note, "More than") || !strings.Contains(note, "1 group starts with “Picker 10”") {
		t.Fatalf("1 match: the picker offers %d groups and says %q", n, note)
	}
}
