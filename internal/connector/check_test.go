package connector

import (
	"errors"
	"fmt"
	"testing"
)

// TestCheckLog: passed steps keep their text; the failing step shows the
// administrator's message of a (wrapped) *Error, without the prefix, or
// the error's own text, and ends the log with that error.
func TestCheckLog(t *testing.T) {
	l := CheckLog{Prefix: "ldap: "}
	l.Pass("connect", "reached %s", "ldaps://dc1:636")
	l.Add("incremental", false, "not allowed")
	admin := fmt.Errorf("bind: %w", &Error{Kind: KindAuth, Message: "ldap: wrong password for svc", Err: errors.New("LDAP Result Code 49")})
	results, err := l.Fail("bind", admin)
	if err != admin {
		t.Fatalf("Fail returned %v, want the step's error", err)
	}
	want := []CheckResult{
		{Name: "connect", OK: true, Message: "reached ldaps://dc1:636"},
		{Name: "incremental", OK: false, Message: "not allowed"},
		{Name: "bind", OK: false, Message: "wrong password for svc"},
	}
	if fmt.Sprint(results) != fmt.Sprint(want) {
		t.Fatalf("results %v, want %v", results, want)
	}
	if got := (&CheckLog{}).Message(errors.New("ldap: plain")); got != "ldap: plain" {
		t.Fatalf("a plain error without a prefix to cut: %q", got)
	}
}
