package api

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/dirsync/dirsync/internal/manage"
)

// FuzzListQuery feeds a listing's query string, as a client may send it,
// to what reads it before the store: unknown parameters, the limit, the
// states, a cursor and the listing's own checks (the search's bound and
// control characters). Whatever the input, no panic, and every refusal is
// a 4xx naming a field.
func FuzzListQuery(f *testing.F) {
	for _, seed := range []string{"", "limit=10&after=abc", "limit=-1", "limit=99999999999999999999", "state=active,weird",
		"search=%00", "search=" + url.QueryEscape("%_'\";--"), "after=%FF%FE", "cursor=x", "state=&state=trash", "limit=1e3",
		"search=a&search=b", "%zz", "a=b=c&&&", "tag=" + url.QueryEscape("\x7f")} {
		f.Add(seed)
	}
	s := &Server{}
	allowed := append(append([]string{}, userFilters...), pageParams...)
	f.Fuzz(func(t *testing.T, raw string) {
		hr := &http.Request{Method: "GET", URL: &url.URL{Path: "/api/v1/users", RawQuery: raw}}
		r := &request{Request: hr}
		check := func(err error) {
			if err == nil {
				return
			}
			e := s.answer(hr, err)
			if e == nil || e.Status >= 500 {
				t.Fatalf("%q: %v answered %+v", raw, err, e)
			}
		}
		check(checkQuery(hr, allowed))
		_, _, err := listQuery(r)
		check(err)
		_, err = cursorParam(r, "after")
		check(err)
		search := hr.URL.Query().Get("search")
		if err := manage.CheckSearch(search); err == nil && len(search) > manage.MaxSearch {
			t.Fatalf("a search of %d bytes passed", len(search))
		} else {
			check(err)
		}
	})
}
