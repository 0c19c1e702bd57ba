package sqlstore

import (
	"reflect"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
)

// A run recorded before skip codes keeps its counts by message; one
// recorded with them reads back its reasons, warnings and the counts by
// message they make.
func TestReadSkips(t *testing.T) {
	var old directory.Run
	if err := readSkips(`{"device":3,"no email address":1}`, &old); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"device": 3, "no email address": 1}; !reflect.DeepEqual(old.Skips, want) || old.SkipReasons != nil {
		t.Errorf("old run: skips %v, reasons %v; want %v and none", old.Skips, old.SkipReasons, want)
	}
	var r directory.Run
	r.Skip(directory.SkipNonDirectoryMember, "device", 2)
	r.Skip(directory.SkipNoEmail, "no email address", 1)
	r.Warn(directory.WarnInvalidPhone, "mobile_phone not imported: not a valid phone number", 1)
	args, err := runArgs(&r)
	if err != nil {
		t.Fatal(err)
	}
	var got directory.Run
	if err := readSkips(args[11].(string), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.SkipReasons, r.SkipReasons) || !reflect.DeepEqual(got.Warnings, r.Warnings) || !reflect.DeepEqual(got.Skips, r.Skips) {
		t.Errorf("read back %+v / %+v / %v\nwant %+v / %+v / %v", got.SkipReasons, got.Warnings, got.Skips, r.SkipReasons, r.Warnings, r.Skips)
	}
}
