package client_test

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/api/client"
)

// TestOperationsInDocument: every operation the client calls is one of
// the OpenAPI document, and the document describes every route the
// server serves (openapi_test.go checks that side): the client cannot
// call what the server does not document.
func TestOperationsInDocument(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(client.Operations) < 20 {
		t.Fatalf("only %d operations", len(client.Operations))
	}
	seen := map[client.Operation]bool{}
	for _, op := range client.Operations {
		if seen[op] {
			t.Errorf("%s %s listed twice", op.Method, op.Path)
		}
		seen[op] = true
		p := doc.Paths.Value(op.Path)
		if p == nil || p.GetOperation(op.Method) == nil {
			t.Errorf("the client calls %s %s, which openapi.json does not describe", op.Method, op.Path)
		}
	}
}

// TestPathParameters: parameters are escaped into the template in order,
// and a missing one is an error, not a request to a wrong path.
func TestPathParameters(t *testing.T) {
	c := client.New("http://127.0.0.1:1", "")
	_, err := c.Do(t.Context(), client.Request{Op: client.OpGetUser})
	if err == nil || client.StatusOf(err) != 0 {
		t.Fatalf("missing parameter: %v", err)
	}
}
