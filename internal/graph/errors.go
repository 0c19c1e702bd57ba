package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// ErrRetryBudget is wrapped by the error of a call that was still failing
// with a retryable answer (429, 5xx, a reset connection) when its time
// budget ran out. The last answer is wrapped as well.
var ErrRetryBudget = errors.New("retry budget exhausted")

// ErrStop, returned by a paging callback, ends the listing early without error.
var ErrStop = errors.New("stop paging")

// Error is an error answer from Graph, in Graph's documented shape
// {"error":{"code","message","innerError":{"request-id","date"}}}.
type Error struct {
	Status    int
	Code      string
	Message   string
	InnerCode string // innerError.code, when Graph gives a more specific one
	RequestID string
	Date      string
	// RetryAfter is the Retry-After header, zero when absent.
	RetryAfter time.Duration
	// Location is the Location header: on a 410 for an expired delta token
	// it holds the URL to restart from.
	Location string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request-id " + e.RequestID + ")")
	}
	return b.String()
}

// HasCode reports whether the error or its inner error carries code,
// compared case-insensitively (Graph's docs spell codes in both cases).
func (e *Error) HasCode(code string) bool {
	return strings.EqualFold(e.Code, code) || strings.EqualFold(e.InnerCode, code)
}

type errorBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError *struct {
			Code      string `json:"code"`
			RequestID string `json:"request-id"`
			Date      string `json:"date"`
		} `json:"innerError"` // encoding/json also matches "innererror"
	} `json:"error"`
}

// parseError builds an *Error from a non-2xx answer received at now.
func parseError(status int, h http.Header, body []byte, now time.Time) *Error {
	e := &Error{Status: status}
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err == nil && (eb.Error.Code != "" || eb.Error.Message != "") {
		e.Code = eb.Error.Code
		e.Message = eb.Error.Message
		if ie := eb.Error.InnerError; ie != nil {
			e.InnerCode = ie.Code
			e.RequestID = ie.RequestID
			e.Date = ie.Date
		}
	} else {
		e.Message = http.StatusText(status)
		if s := strings.TrimSpace(string(body)); s != "" {
			if len(s) > 200 {
				s = s[:200] + "…"
			}
			e.Message += ": " + s
		}
	}
	if h != nil {
		if e.RequestID == "" {
			e.RequestID = h.Get("request-id")
		}
		e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), now)
		e.Location = h.Get("Location")
	}
	return e
}

// maxRetryAfter bounds a Retry-After: a longer one is past any call's
// budget anyway, and a float or a date far away must not overflow.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value: seconds, or an HTTP date,
// between 0 and maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if !(n > 0) { // negative, zero or NaN
			return 0
		}
		if n >= maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// IsDeltaExpired reports whether err says a delta token can no longer be
// used: 410 Gone, syncStateNotFound, resyncRequired, or the "steady state
// within 30 days" rule. The only way on is a full resync.
func IsDeltaExpired(err error) bool {
	var ge *Error
	if !errors.As(err, &ge) {
		return false
	}
	if ge.Status == http.StatusGone {
		return true
	}
	for _, c := range []string{"syncStateNotFound", "resyncRequired", "syncStateInvalid", "resyncApplyDifferences", "resyncUploadDifferences"} {
		if ge.HasCode(c) {
			return true
		}
	}
	return strings.Contains(strings.ToLower(ge.Message), "steady state")
}

// AuthError is a failed token request: what Entra ID answered
// (error, AADSTS codes, trace ids) or the transport error under it.
type AuthError struct {
	Status        int    // HTTP status of the token endpoint's answer; 0 if none came
	OAuthError    string // the OAuth "error" field, such as invalid_client
	Description   string // error_description, first line
	Codes         []int  // error_codes: 7000215 for AADSTS7000215
	TraceID       string
	CorrelationID string
	// Cause is the transport error when no answer came (DNS, TLS, refused).
	Cause error
	// Err is what the credential returned.
	Err error
}

func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString("graph: get token")
	switch {
	case e.Status != 0:
		if e.OAuthError != "" {
			b.WriteString(" (" + e.OAuthError + ")")
		}
		switch c := e.AADSTS(); {
		case e.Description != "" && (c == "" || strings.HasPrefix(e.Description, c)):
			b.WriteString(": " + e.Description)
		case e.Description != "":
			b.WriteString(": " + c + ": " + e.Description)
		case c != "":
			fmt.Fprintf(&b, ": %s: HTTP %d", c, e.Status)
		default:
			fmt.Fprintf(&b, ": HTTP %d", e.Status)
		}
	case e.Cause != nil:
		b.WriteString(": " + e.Cause.Error())
	case e.Err != nil:
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *AuthError) Unwrap() []error {
	var errs []error
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

var aadstsRE = regexp.MustCompile(`AADSTS(\d+)`)

// AADSTS returns the first Entra error code as "AADSTS7000215", or "".
func (e *AuthError) AADSTS() string {
	if len(e.Codes) > 0 {
		return "AADSTS" + strconv.Itoa(e.Codes[0])
	}
	if m := aadstsRE.FindString(e.Description); m != "" {
		return m
	}
	return ""
}

// Has reports whether Entra answered with the error code (7000215 for AADSTS7000215).
func (e *AuthError) Has(code int) bool {
	for _, c := range e.Codes {
		if c == code {
			return true
		}
	}
	for _, m := range aadstsRE.FindAllStringSubmatch(e.Description, -1) {
		if m[1] == strconv.Itoa(code) {
			return true
		}
	}
	return false
}

// transient reports whether asking for a token again may succeed.
func (e *AuthError) transient() bool {
	switch {
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return true
	case e.Status != 0:
		return false
	case e.Cause != nil:
		return Transient(e.Cause)
	}
	return false
}

type tokenErrorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
}

// newAuthError reads what azidentity returned: an AuthenticationFailedError
// carries the token endpoint's raw answer, where the AADSTS codes are.
func newAuthError(err error, cause error) *AuthError {
	ae := &AuthError{Err: err, Cause: cause}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		ae.Status = afe.RawResponse.StatusCode
		// runtime.Payload reads the body once and keeps it, so the
		// credential's own Error() can still show it.
		if body, rerr := runtime.Payload(afe.RawResponse); rerr == nil {
			var tb tokenErrorBody
			if json.Unmarshal(body, &tb) == nil {
				ae.OAuthError = tb.Error
				ae.Codes = tb.Codes
				ae.TraceID = tb.TraceID
				ae.CorrelationID = tb.CorrelationID
				// Entra appends trace lines after \r\n; the first line says it all.
				d := tb.Description
				if i := strings.IndexAny(d, "\r\n"); i >= 0 {
					d = d[:i]
				}
				ae.Description = strings.TrimSpace(d)
			}
		}
	}
	return ae
}
