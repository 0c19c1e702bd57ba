package api

import (
	"net/http"
	"testing"

	"github.com/dirsync/dirsync/internal/manage"
)

// TestStatusTable: every kind of use-case error has its HTTP status and
// code; a code of the use case's own refines the kind's.
func TestStatusTable(t *testing.T) {
	want := map[manage.Kind]int{
		manage.NotFound:        http.StatusNotFound,
		manage.Invalid:         http.StatusBadRequest,
		manage.Conflict:        http.StatusConflict,
		manage.Forbidden:       http.StatusForbidden,
		manage.Unauthenticated: http.StatusUnauthorized,
		manage.Busy:            http.StatusConflict,
		manage.Stopped:         http.StatusConflict,
		manage.SourceFailed:    http.StatusBadGateway,
		manage.Unsupported:     http.StatusNotImplemented,
		manage.Unavailable:     http.StatusServiceUnavailable,
		manage.Gone:            http.StatusGone,
	}
	if len(want) != len(kindStatus) {
		t.Fatalf("the table has %d kinds, the test %d", len(kindStatus), len(want))
	}
	for kind, status := range want {
		if got := StatusOf(kind); got != status {
			t.Errorf("%s: %d, want %d", kind, got, status)
		}
		e := fromManage(&manage.Error{Kind: kind, Message: "m", Field: "f"})
		if e.Status != status || e.Code == "" || e.Message != "m" {
			t.Errorf("%s: %+v", kind, e)
		}
	}
	if e := fromManage(&manage.Error{Kind: manage.Conflict, Code: manage.CodeSyncedAttribute, Message: "m"}); e.Code != CodeSyncedAttribute {
		t.Errorf("refined code: %+v", e)
	}
	if e := fromManage(&manage.Error{Kind: manage.Invalid, Message: "m"}); e.Code != CodeBadRequest {
		t.Errorf("invalid without a field: %+v", e)
	}
	if StatusOf("nonsense") != http.StatusInternalServerError {
		t.Error("an unknown kind is not a 500")
	}
}
