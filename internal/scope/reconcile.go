package scope

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults of MaxCursorAge.
const (
	// DefaultCursorAgeBlind is the most an incremental run may build on
	// the last full reconciliation for a source whose connector cannot
	// report deletions incrementally (a generic LDAP server, read by
	// modifyTimestamp): a user deleted there reaches the trash within a
	// day of scheduled runs.
	DefaultCursorAgeBlind = 24 * time.Hour
	// DefaultCursorAge is that for sources whose incremental reads report
	// deletions (Entra ID's delta, Active Directory's DirSync): a weekly
	// full reconciliation still catches what no cursor shows (an object
	// changed while a cursor was being replaced, a permission that hid
	// objects for a while), at the cost of one full read a week.
	DefaultCursorAge = 7 * 24 * time.Hour
	// CursorAgeOff never forces a full reconciliation.
	CursorAgeOff = "off"
)

// Bounds of MaxCursorAge.
const (
	minCursorAge = time.Hour
	maxCursorAge = 365 * 24 * time.Hour
)

// CursorAge is how long incremental runs may build on the source's last
// full reconciliation before the next run reconciles in full: MaxCursorAge,
// or the default for a source whose connector reports deletions
// incrementally or not. Zero means never. Validate has checked the text.
func (s Settings) CursorAge(reportsDeletions bool) time.Duration {
	switch d, err := ParseCursorAge(s.MaxCursorAge); {
	case err != nil || s.MaxCursorAge == "":
		if reportsDeletions {
			return DefaultCursorAge
		}
		return DefaultCursorAgeBlind
	default:
		return d
	}
}

// ParseCursorAge reads a MaxCursorAge: a Go duration ("36h", "90m"), a
// number of days ("7d"), or "off" (0). Empty is 0 too; Settings.CursorAge
// gives the default for it.
func ParseCursorAge(text string) (time.Duration, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "" || strings.EqualFold(text, CursorAgeOff):
		return 0, nil
	case strings.HasSuffix(text, "d"):
		n, err := strconv.Atoi(strings.TrimSuffix(text, "d"))
		if err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 24h or 7d, or off", text)
		}
		return checkCursorAge(text, time.Duration(n)*24*time.Hour)
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 24h or 7d, or off", text)
	}
	return checkCursorAge(text, d)
}

func checkCursorAge(text string, d time.Duration) (time.Duration, error) {
	if d < minCursorAge || d > maxCursorAge {
		return 0, fmt.Errorf("%q: between %s and %s, or off", text, fmtAge(minCursorAge), fmtAge(maxCursorAge))
	}
	return d, nil
}

// describeCursorAge says when the source is reconciled in full.
func (s Settings) describeCursorAge() string {
	if strings.EqualFold(strings.TrimSpace(s.MaxCursorAge), CursorAgeOff) {
		return "Full reconciliation: only when asked (--full) or when the source refuses the cursor."
	}
	if s.MaxCursorAge == "" {
		return fmt.Sprintf("Full reconciliation: at least every %s for a source whose incremental reads do not report deletions (generic LDAP), every %s for the others (Entra ID, Active Directory).",
			fmtAge(DefaultCursorAgeBlind), fmtAge(DefaultCursorAge))
	}
	return fmt.Sprintf("Full reconciliation: at least every %s.", fmtAge(s.CursorAge(true)))
}

// fmtAge writes whole days from two on as days.
func fmtAge(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	// "36h0m0s" is 36h, "1h30m0s" 1h30m (not 1h3), "1m0s" 1m.
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
