package cli

import (
	"errors"
	"fmt"

	"github.com/dirsync/dirsync/internal/manage"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitError   = 1 // anything unexpected: the database, the file system, the service unavailable
	ExitUsage   = 2 // bad flags or input, or what it names does not exist; nothing was changed
	ExitSource  = 3 // the source failed: unreachable, refused, denied
	ExitStopped = 4 // a safety rule stopped the run; nothing was applied
	ExitBusy    = 5 // another run of the same source is in progress
	// ExitConflict: the change would break a rule (a synced attribute is
	// read-only, a name or a domain is taken); nothing was changed.
	ExitConflict = 6
)

// exitCodes is the one table from a use case's error kind to the exit
// code.
var exitCodes = map[manage.Kind]int{
	manage.Invalid:         ExitUsage,
	manage.NotFound:        ExitUsage,
	manage.Unsupported:     ExitUsage,
	manage.Gone:            ExitUsage,
	manage.SourceFailed:    ExitSource,
	manage.Stopped:         ExitStopped,
	manage.Busy:            ExitBusy,
	manage.Conflict:        ExitConflict,
	manage.Forbidden:       ExitConflict,
	manage.Unavailable:     ExitError,
	manage.Unauthenticated: ExitError,
}

// exitError carries an exit code of the command line's own (a usage
// error, a failed connection test) through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{ExitUsage, fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by a command to the process's exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if code, ok := exitCodes[manage.KindOf(err)]; ok {
		return code
	}
	return ExitError
}

// printError prints why the command failed, once: a use case's public
// message (its causes are logged at debug level), or the error itself
// when it was unexpected.
func (a *app) printError(err error) {
	if e := manage.AsError(err); e != nil {
		if e.Err != nil && a.settings.Loaded() {
			a.logger().Debug("cause", "err", e.Err)
		}
		if e.RunID != "" && e.RunID == a.shownRun {
			// The run's summary above holds its reason: say only what happened.
			fmt.Fprintf(a.stderr, "dirsync: run %s did not apply (%s); its reason is above\n", e.RunID, e.Kind)
			return
		}
		fmt.Fprintln(a.stderr, "dirsync:", e.Message)
		return
	}
	fmt.Fprintln(a.stderr, "dirsync:", err)
}
