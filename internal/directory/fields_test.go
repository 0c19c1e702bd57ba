package directory

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// jsonFields maps the JSON names of a struct's fields (embedded structs
// flattened, as encoding/json does) to their Go names.
func jsonFields(t reflect.Type) map[string]string {
	out := map[string]string{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = f.Name
	}
	return out
}

// fill sets every field of a struct to a value of its own: a string field
// to its Go name, a list to one such value, a boolean to true.
func fill(v reflect.Value) {
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		switch f.Kind() {
		case reflect.Struct:
			fill(f)
		case reflect.String:
			f.SetString("value of " + sf.Name)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"value of " + sf.Name}))
		case reflect.Bool:
			f.SetBool(true)
		}
	}
}

// changed lists the Go names of the fields whose values differ.
func changed(a, b reflect.Value) []string {
	var out []string
	for i := range a.NumField() {
		if a.Field(i).Kind() == reflect.Struct {
			out = append(out, changed(a.Field(i), b.Field(i))...)
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			out = append(out, a.Type().Field(i).Name)
		}
	}
	return out
}

// TestFieldsAreTheStructTags: every JSON name of SourceUser's attributes
// (and enabled) is a UserField and the other way round, each constant is
// "User" + its Go field's name, and OverlayUser copies exactly that field;
// the same for groups. A renamed tag fails here, not silently in
// incremental runs.
func TestFieldsAreTheStructTags(t *testing.T) {
	checkFields(t, UserFields, OverlayUser)
	checkFields(t, GroupFields, OverlayGroup)
	if _, err := OverlayUser(SourceUser{}, SourceUser{}, []UserField{"title"}); err == nil {
		t.Error("OverlayUser of an unknown field: no error")
	}
	if _, err := OverlayGroup(SourceGroup{}, SourceGroup{}, []GroupField{"owner"}); err == nil {
		t.Error("OverlayGroup of an unknown field: no error")
	}
}

func checkFields[T any, F ~string](t *testing.T, fields []F, overlay func(T, T, []F) (T, error)) {
	t.Helper()
	var zero, patch T
	tags := jsonFields(reflect.TypeFor[T]())
	delete(tags, "external_id")
	fill(reflect.ValueOf(&patch).Elem())
	for _, f := range fields {
		goName, ok := tags[string(f)]
		if !ok {
			t.Errorf("%T %q is no JSON name of %T's attributes", f, f, zero)
			continue
		}
		delete(tags, string(f))
		got, err := overlay(zero, patch, []F{f})
		if err != nil {
			t.Errorf("overlay %q: %v", f, err)
		}
		if diff := changed(reflect.ValueOf(zero), reflect.ValueOf(got)); !slices.Equal(diff, []string{goName}) {
			t.Errorf("overlay %q changed %v, want only %s", f, diff, goName)
		}
	}
	for tag := range tags {
		t.Errorf("%T's attribute %q has no field constant: incremental runs would drop it", zero, tag)
	}
}

// TestOversized checks every attribute of a user and a group against its
// limit: a test of each field, so a field added without a check fails.
func TestOversized(t *testing.T) {
	big := strings.Repeat("x", MaxValueBytes+1)
	var u SourceUser
	fill(reflect.ValueOf(&u).Elem())
	if f, _ := u.Oversized(); f != "" {
		t.Fatalf("a user of small values: %s oversized", f)
	}
	v := reflect.ValueOf(&u.UserAttributes).Elem()
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		over := u
		fv := reflect.ValueOf(&over.UserAttributes).Elem().Field(i)
		switch fv.Kind() {
		case reflect.String:
			fv.SetString(big + strings.Repeat("x", MaxDNBytes))
		case reflect.Slice:
			fv.Set(reflect.ValueOf([]string{"ok", big}))
			if f, limit := over.Oversized(); f != name+"[1]" || !strings.Contains(limit, "over the limit of 2048") {
				t.Errorf("%s with a 2 KB value: Oversized = %q, %q", name, f, limit)
			}
			fv.Set(reflect.ValueOf(make([]string, MaxValues+1)))
		}
		if f, limit := over.Oversized(); f != name || limit == "" {
			t.Errorf("%s oversized: Oversized = %q, %q", name, f, limit)
		}
	}
	var g SourceGroup
	fill(reflect.ValueOf(&g).Elem())
	gv := reflect.ValueOf(&g.GroupAttributes).Elem()
	for i := range gv.NumField() {
		name, _, _ := strings.Cut(gv.Type().Field(i).Tag.Get("json"), ",")
		over := g
		fv := reflect.ValueOf(&over.GroupAttributes).Elem().Field(i)
		switch fv.Kind() {
		case reflect.String:
			fv.SetString(big + strings.Repeat("x", MaxDNBytes))
		case reflect.Slice:
			fv.Set(reflect.ValueOf(make([]string, MaxValues+1)))
		default:
			continue
		}
		if f, limit := over.Oversized(); f != name || limit == "" {
			t.Errorf("group %s oversized: Oversized = %q, %q", name, f, limit)
		}
	}
	mb := SourceUser{ExternalID: "u1", UserAttributes: UserAttributes{Username: "a@b.c", DisplayName: strings.Repeat("é", 1<<19)}}
	if f, limit := mb.Oversized(); f != "display_name" || limit != "1048576 bytes, over the limit of 2048" {
		t.Errorf("a 1 MB displayName: %q, %q", f, limit)
	}
}
