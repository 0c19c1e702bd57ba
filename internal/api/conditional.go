package api

import (
	"net/http"
	"strings"

	"github.com/dirsync/dirsync/internal/manage"
)

// Conditional requests (RFC 9110 section 13). A resource's ETag is its
// version as manage defines it (manage/version.go): a digest of its stored
// state, so that a sync run or the passing of time does not void an edit.
// GET answers 304 when If-None-Match names the current ETag. PATCH and
// DELETE of sources, users and webhooks take If-Match (one ETag, or *):
// manage checks it in the change's transaction and refuses a change made
// against an older version with 412, writing nothing. A route that cannot
// honour If-Match refuses it (400) rather than ignore it.

func etag(version string) string { return `"` + version + `"` }

// fresh sets the ETag and reports whether the client's copy is current,
// after answering 304 Not Modified for it.
func fresh(w http.ResponseWriter, r *request, version string) bool {
	w.Header().Set("ETag", etag(version))
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/") // weak comparison
		if t == "*" || t == etag(version) {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

// ifMatch reads If-Match into the version a change is made against: ""
// when absent, manage.AnyVersion for *.
func ifMatch(r *request) (string, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	switch {
	case v == "":
		return "", nil
	case v == "*":
		return manage.AnyVersion, nil
	case strings.HasPrefix(v, "W/"):
		// A weak tag never matches If-Match (strong comparison); none of
		// ours is weak, so it is a stale one.
		return "W/", nil
	case len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || strings.Contains(v[1:len(v)-1], `"`):
		return "", &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: "If-Match",
			Message: `If-Match must be one ETag this API gave ("..."), or *`}
	}
	return v[1 : len(v)-1], nil
}

// checkNoIfMatch refuses If-Match on a route that cannot honour it.
func checkNoIfMatch(r *http.Request) error {
	if r.Header.Get("If-Match") == "" {
		return nil
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: "If-Match",
		Message: "this route does not take If-Match: only PATCH and DELETE of sources, users and webhooks are conditional"}
}
