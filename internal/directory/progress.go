package directory

import "time"

// RunProgress is how far a run in progress has got, recorded as it goes
// (every second or two) for the console's run page and the API: what it
// read from the source so far, then how far its apply is.
type RunProgress struct {
	// Phase is "read" while the source is read, "apply" after.
	Phase string `json:"phase"`
	// Users, Groups and Members count the source objects read so far
	// (Members: direct memberships).
	Users   int `json:"users"`
	Groups  int `json:"groups"`
	Members int `json:"members"`
	// Requests counts the requests to the source so far (pages read).
	Requests int `json:"requests"`
	// Step is the part of the apply last finished ("groups", "users",
	// "memberships"...), and Applied what the apply did up to it: its
	// counts so far.
	Step    string `json:"step,omitempty"`
	Applied Counts `json:"applied"`
	// At is when this was recorded.
	At time.Time `json:"at"`
}
