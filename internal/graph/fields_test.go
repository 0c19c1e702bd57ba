package graph

import (
	"encoding/json"
	"slices"
	"testing"
)

// fieldsSeeds are objects whose top level a scan could misread: names and
// strings with escapes, quotes, braces and brackets, nested values, names
// beyond ASCII or invalid UTF-8, a name twice, white space everywhere.
var fieldsSeeds = []string{
	`{"id":"1","displayName":"Ann","userPrincipalName":"ann@x.com","accountEnabled":true,"businessPhones":[],"@odata.type":"#microsoft.graph.user"}`,
	`{}`, ` { } `, `null`,
	"{ \"a\" : 1 ,\n\t\"b\":[1,{\"c\":\"}]\"}],\r\n\"d\":{\"e\":[\"[\",\"{\"]} }",
	`{"q\"uote":"x\"}","back\\slash":"\\","\u0041bc":null,"members@delta":[{"id":"m","@removed":{"reason":"deleted"}}]}`,
	`{"name":"é","é":1,"\u00e9x":2.5e-3,"n":-0,"t":false}`,
	"{\"bad\xff\":1,\"ok\":\"\xfe\"}",
	`{"dup":1,"dup":2,"zz":3,"aa":4}`,
	`{"nested":{"deep":[[[{"x":"]]]"}]]]},"after":true}`,
	`[1,2]`, `"s"`, `{"a":1}x`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1`, `{"a":"unterminated}`,
}

// TestScanFieldsAsDecoded: of valid JSON, the scan lists the names a
// decoding into a map lists, or declines; it never lists others.
func TestScanFieldsAsDecoded(t *testing.T) {
	for _, s := range fieldsSeeds {
		checkFields(t, []byte(s))
	}
	if _, ok := scanFields([]byte(fieldsSeeds[0])); !ok {
		t.Errorf("the scan declined a plain user")
	}
}

func FuzzScanFields(f *testing.F) {
	for _, s := range fieldsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkFields)
}

func checkFields(t *testing.T, b []byte) {
	if !json.Valid(b) {
		return // fieldsOf's callers decoded b first: never so
	}
	got, ok := scanFields(b)
	if !ok {
		return // fieldsOf decodes it
	}
	want, err := fieldsOfMap(b)
	if err != nil {
		t.Fatalf("%q: the scan read %q, decoding failed: %v", b, got, err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%q: scanned %q, decoded %q", b, got, want)
	}
}
