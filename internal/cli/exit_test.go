package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dirsync/dirsync/internal/manage"
)

// TestExitCodeTable: every kind of use-case error has its exit code, as
// the README lists them, whether wrapped or not.
func TestExitCodeTable(t *testing.T) {
	want := map[manage.Kind]int{
		manage.Invalid:         2,
		manage.NotFound:        2,
		manage.Unsupported:     2,
		manage.Gone:            2,
		manage.SourceFailed:    3,
		manage.Stopped:         4,
		manage.Busy:            5,
		manage.Conflict:        6,
		manage.Forbidden:       6,
		manage.Unavailable:     1,
		manage.Unauthenticated: 1,
	}
	if len(want) != len(exitCodes) {
		t.Fatalf("the table has %d kinds, the test %d: a kind is missing one side", len(exitCodes), len(want))
	}
	for kind, code := range want {
		err := fmt.Errorf("context: %w", &manage.Error{Kind: kind, Message: "m"})
		if got := ExitCode(err); got != code {
			t.Errorf("%s: exit %d, want %d", kind, got, code)
		}
	}
	if ExitCode(nil) != 0 || ExitCode(errors.New("disk full")) != 1 || ExitCode(usageErr("bad")) != 2 {
		t.Fatal("nil, unexpected or usage error")
	}
}
