package config

import (
	"strings"
	"testing"
	"time"
)

var table = []Setting{
	{Flag: "listen", Env: "X_LISTEN", Key: "listen", Default: "127.0.0.1:8080"},
	{Flag: "workers", Env: "X_WORKERS", Key: "workers", Default: "2", Type: Int},
	{Flag: "grace", Env: "X_GRACE", Key: "grace", Default: "60s", Type: Duration},
	{Flag: "to", Env: "X_TO", Key: "smtp.to", Type: List},
	{Env: "X_PASSWORD"},
}

func sources(flags, env map[string]string, file string) Sources {
	return Sources{
		Flag:     func(n string) (string, bool) { v, ok := flags[n]; return v, ok },
		Env:      func(n string) (string, bool) { v, ok := env[n]; return v, ok && v != "" },
		File:     []byte(file),
		FileName: "dirsync.json",
	}
}

// TestLayering: flag, then environment, then file, then default, for
// every setting the same way; each value says where it came from.
func TestLayering(t *testing.T) {
	file := `{"listen": "file:1", "workers": 4, "grace": "10s", "smtp": {"to": ["a@x.example", "b@x.example"]}}`
	v, err := Resolve(sources(map[string]string{"listen": "flag:1"}, map[string]string{"X_LISTEN": "env:1", "X_WORKERS": "3", "X_PASSWORD": "pw"}, file), table)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"listen": "flag:1", "workers": "3", "grace": "10s", "X_PASSWORD": "pw"} {
		if got := v.String(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if v.Source("listen") != "--listen" || v.Source("workers") != "X_WORKERS" || v.Source("grace") != "grace in dirsync.json" {
		t.Errorf("sources: %s %s %s", v.Source("listen"), v.Source("workers"), v.Source("grace"))
	}
	if v.Int("workers") != 3 || v.Duration("grace") != 10*time.Second || strings.Join(v.List("to"), " ") != "a@x.example b@x.example" {
		t.Errorf("typed: %d %v %v", v.Int("workers"), v.Duration("grace"), v.List("to"))
	}
	d, _ := Resolve(sources(nil, nil, ""), table)
	if d.String("listen") != "127.0.0.1:8080" || d.Duration("grace") != time.Minute || d.Source("listen") != "default" {
		t.Errorf("defaults: %q %v", d.String("listen"), d.Duration("grace"))
	}
	d.Set("listen", "other")
	v.Set("listen", "other")
	if d.String("listen") != "other" || v.String("listen") != "flag:1" {
		t.Error("Set overrides a default only")
	}
}

// TestBadValuesNameTheirSource: a bad value says where it came from; an
// unknown file key is refused, naming the known ones.
func TestBadValuesNameTheirSource(t *testing.T) {
	for _, c := range []struct {
		flags, env map[string]string
		file, want string
	}{
		{map[string]string{"workers": "0"}, nil, "", `--workers: "0" is not a positive whole number`},
		{nil, map[string]string{"X_GRACE": "soon"}, "", `X_GRACE: "soon" is not a duration`},
		{nil, nil, `{"grace": "-5s"}`, "grace in dirsync.json"},
		{nil, nil, `{"listn": "x"}`, `unknown key "listn" (known: grace, listen, smtp.to, workers)`},
		{nil, nil, `[1]`, "not a JSON object"},
	} {
		_, err := Resolve(sources(c.flags, c.env, c.file), table)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v %s: %v, want %q", c.flags, c.env, c.file, err, c.want)
		}
	}
	if d, err := ParseDuration("7d"); err != nil || d != 7*24*time.Hour {
		t.Errorf("7d: %v %v", d, err)
	}
}
