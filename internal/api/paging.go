package api

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/manage"
)

// Every listing pages the same way (manage/paging.go says what a page and
// a cursor are): limit (default manage.DefaultLimit, at most
// manage.MaxLimit) and after, an opaque cursor. The answer holds the items
// under the listing's name and, unless it is the last page, next: the URL
// of the next page, the same request with after set, also given as a Link
// header (RFC 8288). The events feed has no last page: it gives next while
// events wait and poll, where to continue, once the reader is caught up.

// pageParams are the query parameters of every paged listing.
var pageParams = []string{"limit", "after"}

func limitParam(r *request) (int, error) {
	return manage.ParseLimit(r.URL.Query().Get("limit"))
}

// pageQuery reads limit and after.
func pageQuery(r *request) (manage.PageQuery, error) {
	limit, err := limitParam(r)
	return manage.PageQuery{After: r.URL.Query().Get("after"), Limit: limit}, err
}

// checkQuery refuses query parameters the route does not take, naming
// them: a client that spells one wrong (cursor for after, page_size for
// limit) must not loop on the first page or read unfiltered data.
func checkQuery(r *http.Request, allowed []string) error {
	var unknown []string
	for k := range r.URL.Query() {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	want := "this route takes no query parameters"
	if len(allowed) > 0 {
		want = "this route takes " + strings.Join(allowed, ", ")
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeUnknownParameter, Field: unknown[0],
		Message: "unknown query parameter " + strings.Join(unknown, ", ") + ": " + want}
}

// pageURL is the URL of the request with after set to the cursor.
func pageURL(r *request, param, cursor string) string {
	q := r.URL.Query()
	q.Set(param, cursor)
	return (&url.URL{Path: r.URL.Path, RawQuery: q.Encode()}).String()
}

// writePage answers a page of a listing: the items under name, and the
// next page's URL in the body and a Link header unless next is "".
func writePage(w http.ResponseWriter, r *request, name string, items any, next string, extra map[string]any) error {
	body := map[string]any{name: items}
	for k, v := range extra {
		body[k] = v
	}
	if next != "" {
		u := pageURL(r, "after", next)
		body["next"] = u
		w.Header().Set("Link", "<"+u+`>; rel="next"`)
	}
	return writeJSON(w, http.StatusOK, body)
}

// cursorParam reads a page cursor of a listing whose cursors are the
// store's (enrollments, mail): base64url of a sort key and an id
// separated by a NUL; one that is not is the caller's mistake, and must
// not reach the store (which reports it as any error).
func cursorParam(r *request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || !bytes.Contains(b, []byte{0}) {
		return "", badField(name, "%s is not a cursor this API returned", name)
	}
	return v, nil
}
