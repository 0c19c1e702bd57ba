package engine

import (
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
)

// skipTally counts what a read did not import, by reason, each object
// once: a device in three groups is one device skipped. Its owner's mutex
// guards it.
type skipTally struct {
	seen    map[string]bool
	reasons directory.Reasons
}

// refuse counts an object (or membership) the run refused for a value
// over its size limit.
func (t *skipTally) refuse(reason string) {
	t.reasons.Add(directory.SkipAttributeTooLong, reason, 1)
}

// skip counts an object a connector reported it could not import.
func (t *skipTally) skip(sk connector.Skipped) {
	if sk.ExternalID != "" {
		key := sk.Kind + "\x00" + sk.ExternalID
		if t.seen[key] {
			return
		}
		if t.seen == nil {
			t.seen = map[string]bool{}
		}
		t.seen[key] = true
	}
	code := sk.Code
	if code == "" {
		code = directory.SkipOther
	}
	t.reasons.Add(code, sk.Reason, 1)
}

// countRead counts in the run what its read did not import.
func countRead(run *directory.Run, read directory.Reasons) {
	for _, r := range read {
		run.Skip(r.Code, r.Message, r.Count)
	}
}
