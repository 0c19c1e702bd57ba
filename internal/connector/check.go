package connector

import (
	"errors"
	"fmt"
	"strings"
)

// CheckLog collects the steps of a connection test as a Check returns
// them: each step passed with what it saw, and the failed step that ends
// the test with the message written for an administrator.
type CheckLog struct {
	Results []CheckResult
	// Prefix is cut from failure messages: a connector's errors may name
	// it ("ldap: ..."), the lines of its own test need not.
	Prefix string
}

// Pass records a step that passed.
func (l *CheckLog) Pass(name, format string, args ...any) {
	l.Add(name, true, fmt.Sprintf(format, args...))
}

// Add records a step as it went, for a step whose failure does not end
// the test (an expiring secret, an optional capability).
func (l *CheckLog) Add(name string, ok bool, message string) {
	l.Results = append(l.Results, CheckResult{Name: name, OK: ok, Message: message})
}

// Fail records the failed step and returns the results with err, which
// ends the test.
func (l *CheckLog) Fail(name string, err error) ([]CheckResult, error) {
	l.Add(name, false, l.Message(err))
	return l.Results, err
}

// Message is what err tells an administrator: an *Error's message, else
// the error's text, without Prefix.
func (l *CheckLog) Message(err error) string {
	msg := err.Error()
	var ce *Error
	if errors.As(err, &ce) {
		msg = ce.Message
	}
	return strings.TrimPrefix(msg, l.Prefix)
}
