package graph

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// FuzzDecodePage feeds the page decoder what a hostile Graph could send.
// Oracle: json.Unmarshal. When it accepts a page, the streaming decoder
// must accept it and read the same page; it may refuse only what
// json.Unmarshal refuses too, or a page past its limits.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"@odata.context":"x","@odata.nextLink":"https://graph.microsoft.com/v1.0/users?$skiptoken=X%27abc%27","value":[{"id":"1","userPrincipalName":"a@contoso.com","givenName":null,"businessPhones":["1"]}]}`,
		`{"value":[],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc"}`,
		`{"value":[{"id":"g","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u","@removed":{"reason":"deleted"}}]}]}`,
		`{"value":[{"id":"1","@removed":{"reason":"changed"}}],"VALUE":[{"id":"2"}]}`,
		`{"value":null}`, `null`, `{}`, `[]`, `{"value":5}`, `{"value":[1]}`, `{"value":[{}]} x`, `{"value":[{"accountEnabled":"yes"}]}`,
		`{"@odata.nextLink":null,"value":[{"id":"1"}],"extra":{"deep":[[[{}]]]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		type page = pageOf[User]
		var want page
		werr := json.Unmarshal(data, &want)
		got, gerr := decodePage[User](data, 1<<20)
		limited := errors.Is(gerr, ErrPageTooLarge) || errors.Is(gerr, ErrTooManyValues)
		switch {
		case werr == nil && gerr != nil && !limited:
			t.Fatalf("json.Unmarshal reads %q, the page decoder refuses it: %v", data, gerr)
		case werr != nil && gerr == nil:
			t.Fatalf("json.Unmarshal refuses %q (%v), the page decoder reads %+v", data, werr, got)
		case werr == nil && gerr == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("%q: the page decoder reads %+v, json.Unmarshal %+v", data, got, want)
		}
	})
}

// FuzzLinks feeds the checks on links Graph hands back (nextLink,
// deltaLink with their skip and delta tokens): a link is followed only to
// the Graph host, and nothing panics.
func FuzzLinks(f *testing.F) {
	const origin = "https://graph.microsoft.com"
	for _, seed := range []string{
		origin + "/v1.0/users?$skiptoken=X%2744537074%27",
		origin + "/v1.0/users/delta?$deltatoken=latest",
		origin + "/v1.0/groups/delta?$deltatoken=a%20b&$select=id,members",
		"https://graph.microsoft.com.evil.example/v1.0/users",
		"https://graph.microsoft.com:8443/v1.0/users",
		"http://graph.microsoft.com/v1.0/users",
		"//graph.microsoft.com/v1.0/users", "/v1.0/users", "", "%zz", "https://user@graph.microsoft.com/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, link string) {
		err := sameOrigin(origin, link)
		if err != nil {
			return
		}
		u, perr := parseURL(link)
		if perr != nil || u.Scheme != "https" || u.Host != "graph.microsoft.com" {
			t.Fatalf("%q accepted as a link to %s", link, origin)
		}
	})
}

// FuzzErrorAnswer feeds what a hostile Graph or login service may answer
// besides pages: error bodies, Retry-After and WWW-Authenticate headers.
// Nothing panics, a Retry-After is never negative nor endless, and a
// claims challenge is JSON.
func FuzzErrorAnswer(f *testing.F) {
	f.Add(429, []byte(`{"error":{"code":"TooManyRequests","message":"slow down","innerError":{"request-id":"r","date":"d"}}}`), "30", `Bearer realm="", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNjA0MTA2NjUxIn19fQ=="`)
	f.Add(503, []byte(`<html>down</html>`), "Wed, 21 Oct 2015 07:28:00 GMT", "")
	f.Add(500, []byte(`{"error":null}`), "1e300", `claims="not base64"`)
	f.Add(404, []byte(``), "-5", `claims="e30="`)
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter, wwwAuth string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := parseError(status, h, body, now)
		_ = e.Error()
		_ = IsDeltaExpired(e)
		if d := parseRetryAfter(retryAfter, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("Retry-After %q read as %s", retryAfter, d)
		}
		if c := claimsChallenge(wwwAuth, now); !json.Valid([]byte(c)) {
			t.Fatalf("claims %q from %q", c, wwwAuth)
		}
	})
}
