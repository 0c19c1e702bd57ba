package scope

import (
	"fmt"
	"strings"
	"time"
)

// DefaultMaxRunTime bounds a run's total time when the source sets none:
// a full read of a large tenant under throttling takes an hour or two; a
// source that trickles or hangs is stopped well before the next day.
const DefaultMaxRunTime = 3 * time.Hour

// Bounds of MaxRunTime.
const (
	minRunTime = time.Minute
	maxRunTime = 48 * time.Hour
)

// RunTime is the longest a run of the source may take, read and apply
// together: MaxRunTime, or DefaultMaxRunTime. Validate has checked it.
func (s Settings) RunTime() time.Duration {
	d, err := ParseRunTime(s.MaxRunTime)
	if err != nil || d == 0 {
		return DefaultMaxRunTime
	}
	return d
}

// ParseRunTime reads a MaxRunTime: a Go duration ("90m", "4h"), between a
// minute and two days; empty is 0 (the default).
func ParseRunTime(text string) (time.Duration, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 90m or 4h", text)
	}
	if d < minRunTime || d > maxRunTime {
		return 0, fmt.Errorf("%q: between %s and %s", text, fmtAge(minRunTime), fmtAge(maxRunTime))
	}
	return d, nil
}

// describeRunTime says how long a run may take.
func (s Settings) describeRunTime() string {
	return fmt.Sprintf("Run time: a run still going after %s fails and applies nothing.", fmtAge(s.RunTime()))
}
