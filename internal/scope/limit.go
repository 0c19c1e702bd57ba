package scope

import (
	"fmt"
	"strconv"
)

// Deletion limit defaults.
const (
	DefaultMaxObjects = 500
	DefaultMaxPercent = 20
)

// DeletionLimit stops a run that would disable or delete more than
// MaxObjects objects or more than MaxPercent percent of the source's
// objects: exactly the limit is allowed, one more is not. Zero fields take
// the defaults, 500 and 20%. It guards against a wrong filter, an outage
// read as "everyone left" or a renamed OU; a run that exceeds it applies
// nothing until confirmed.
type DeletionLimit struct {
	MaxObjects int `json:"max_objects,omitempty"`
	MaxPercent int `json:"max_percent,omitempty"`
}

// Objects is the object limit, with the default filled in.
func (d DeletionLimit) Objects() int {
	if d.MaxObjects <= 0 {
		return DefaultMaxObjects
	}
	return d.MaxObjects
}

// Percent is the percentage limit, with the default filled in.
func (d DeletionLimit) Percent() int {
	if d.MaxPercent <= 0 {
		return DefaultMaxPercent
	}
	return d.MaxPercent
}

// Exceeds reports whether a run that would disable or delete n of total
// objects breaks the limit, with a message saying so either way. total is
// what the directory holds from the source before the run, not what the
// source reports now: a source that suddenly reports nothing would
// otherwise make any loss look like 0% of 0. With total 0, any n exceeds.
func (d DeletionLimit) Exceeds(n, total int) (bool, string) {
	maxN, maxP := d.Objects(), d.Percent()
	if n <= 0 {
		return false, fmt.Sprintf("nothing to disable or delete (limit %d objects or %d%%)", maxN, maxP)
	}
	// Integer comparison, so that exactly maxP percent is allowed whatever
	// the rounding: n/total > maxP/100  <=>  n*100 > maxP*total.
	overN := n > maxN
	overP := int64(n)*100 > int64(maxP)*int64(total)
	what := fmt.Sprintf("would disable or delete %d of %d objects", n, total)
	if total > 0 {
		what += " (" + percent(n, total, maxP) + ")"
	}
	switch {
	case overN && overP:
		return true, fmt.Sprintf("%s: more than the limits of %d objects and %d%%", what, maxN, maxP)
	case overN:
		return true, fmt.Sprintf("%s: more than the limit of %d objects", what, maxN)
	case overP:
		return true, fmt.Sprintf("%s: more than the limit of %d%%", what, maxP)
	}
	return false, fmt.Sprintf("%s: within the limits of %d objects and %d%%", what, maxN, maxP)
}

// percent shows n/total as a percentage with one decimal, or more when one
// would round an excess down to the limit itself ("20.0%" for 20.01%).
func percent(n, total, limit int) string {
	p := float64(n) * 100 / float64(total)
	over := int64(n)*100 > int64(limit)*int64(total)
	for prec := 1; ; prec++ {
		s := strconv.FormatFloat(p, 'f', prec, 64)
		shown, _ := strconv.ParseFloat(s, 64)
		if prec == 6 || !over || shown > float64(limit) {
			return s + "%"
		}
	}
}
