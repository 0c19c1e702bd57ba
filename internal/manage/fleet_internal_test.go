package manage

import (
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
)

// TestNeedsRequeue: a dead run is queued again once, however many
// replicas reap it at the same moment (CI once saw two retries of one
// dead run: the second replica found the first one's retry running).
func TestNeedsRequeue(t *testing.T) {
	run := func(id string, o directory.Outcome, reason string) directory.Run {
		return directory.Run{ID: id, Outcome: o, Reason: reason}
	}
	dead := run("d", directory.OutcomeInterrupted, "its process stopped")
	for _, c := range []struct {
		name   string
		dead   directory.Run
		recent []directory.Run
		want   bool
	}{
		{"alone", dead, []directory.Run{dead, run("a", directory.OutcomeSucceeded, "")}, true},
		{"already queued again by another replica",
			run("d", directory.OutcomeInterrupted, "its process stopped"+requeuedAs+"r"), []directory.Run{dead}, false},
		{"another replica's retry running", dead, []directory.Run{run("r", directory.OutcomeRunning, ""), dead}, false},
		{"another replica's retry already ended", dead, []directory.Run{run("r", directory.OutcomeSucceeded, ""), dead}, false},
		{"an older run queued", dead, []directory.Run{dead, run("q", directory.OutcomeQueued, "")}, false},
		{"not among the recent runs", dead, []directory.Run{run("1", directory.OutcomeSucceeded, ""), run("2", directory.OutcomeSucceeded, "")}, false},
		{"third interruption in a row", dead, []directory.Run{dead, run("i1", directory.OutcomeInterrupted, ""), run("i2", directory.OutcomeInterrupted, ""), run("s", directory.OutcomeSucceeded, "")}, true},
		{"every recent run interrupted", dead, []directory.Run{dead, run("i1", directory.OutcomeInterrupted, ""), run("i2", directory.OutcomeInterrupted, ""), run("i3", directory.OutcomeInterrupted, "")}, false},
	} {
		if got := needsRequeue(c.dead, c.recent); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
