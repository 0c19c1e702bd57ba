package cli

import "testing"

func TestCountOf(t *testing.T) {
	for n, want := range map[int]string{0: "0 users", 1: "1 user", 2: "2 users"} {
		if got := countOf(n, "user"); got != want {
			t.Errorf("countOf(%d): %q, want %q", n, got, want)
		}
	}
}
