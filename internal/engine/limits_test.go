package engine_test

import (
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
)

// Issue 10, point 13: a source's attribute over its size limit (a 1 MB
// displayName) makes the run refuse that object, with a recorded skip
// naming the attribute and the limit: not stored, not sent in an event,
// and the directory keeps what it had of it, in full and delta runs alike.
func TestOversizedAttributesAreRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := &incSource{source: sample()}
		f.sync(src, engine.Options{})
		before := f.userByName("user03@acme.example")
		last := f.lastEvent().Seq
		huge := strings.Repeat("A", 1<<20)
		src.users[2].DisplayName = huge // u3, in the directory
		src.users = append(src.users, user("u21", "user21@acme.example", true))
		src.users[20].DisplayName = huge // new
		run := f.sync(src, engine.Options{Full: true})
		reason := "not imported: display_name over its size limit"
		if run.Skips[reason] != 2 || run.Counts.Deleted != 0 || run.Counts.Created != 0 || run.Counts.Updated != 0 {
			t.Fatalf("full run: %+v, skips %v", run.Counts, run.Skips)
		}
		if got := f.userByName("user03@acme.example"); got.DisplayName != before.DisplayName || got.State != directory.StateActive {
			t.Fatalf("the refused user changed: %q, %s", got.DisplayName[:min(20, len(got.DisplayName))], got.State)
		}
		var details []string
		for _, c := range f.changes(run) {
			if c.Action == directory.ActionSkipped {
				details = append(details, c.ExternalID+": "+c.Detail)
			}
		}
		want := "display_name is 1048576 bytes, over the limit of 2048: not imported; the directory keeps what it had"
		if len(details) != 2 || !strings.HasSuffix(details[0], want) {
			t.Fatalf("skipped changes %q, want two ending %q", details, want)
		}

		// An incremental patch carrying it is refused the same way.
		src.script = func(sink connector.ChangeSink) error {
			return sink.UserPatch(directory.SourceUser{ExternalID: "u4", UserAttributes: directory.UserAttributes{DisplayName: huge}},
				[]directory.UserField{directory.UserDisplayName})
		}
		run = f.sync(src, engine.Options{})
		if run.Kind != directory.RunDelta || run.Skips[reason] != 1 || run.Counts.Updated != 0 {
			t.Fatalf("delta run: %s %+v, skips %v", run.Kind, run.Counts, run.Skips)
		}
		evs, _ := f.st.Events(f.ctx, f.acc.ID, last, 0)
		for _, e := range evs {
			if len(e.Data) > 64<<10 {
				t.Fatalf("event %s of %d bytes", e.Type, len(e.Data))
			}
		}
	})
}
