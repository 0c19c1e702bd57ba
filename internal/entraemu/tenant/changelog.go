package tenant

import (
	"slices"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// The change log is what delta queries read: one entry per change, in
// order. An entry's sequence number is its position: base + index + 1.

const (
	logCompactAt = 1 << 20 // entries before the change log is compacted
	logHardCap   = 4 << 20 // entries kept at most, whatever their age
)

// op is what a change log entry records.
type op uint8

const (
	opCreate op = iota
	opUpdate
	opSoftDelete
	opRestore
	opPurge
	opMemberAdd
	opMemberRemove
)

// change is one entry of the change log.
type change struct {
	at     int64 // unix seconds, for compaction
	id     string
	member string
	props  uint64
	kind   model.ObjKind // users or groups
	op     op
	mkind  model.ObjKind
}

type changeLog struct {
	entries []change
	base    uint64 // sequence number before entries[0]
	epoch   uint32 // bumped by ExpireDeltaTokens
}

func (l *changeLog) seq() uint64 { return l.base + uint64(len(l.entries)) }

func (d *Directory) record(c change) {
	c.at = d.clock.Now().Unix()
	d.log.entries = append(d.log.entries, c)
	if len(d.log.entries) >= logCompactAt {
		d.compactLog(d.clock.Now().Add(-DeltaTokenMaxAge))
	}
}

// compactLog drops entries no valid token can still need: those older than
// cutoff, and beyond a hard cap the oldest half. Tokens pointing before the
// kept part answer 410.
func (d *Directory) compactLog(cutoff time.Time) {
	l := &d.log
	n := 0
	for n < len(l.entries) && l.entries[n].at < cutoff.Unix() {
		n++
	}
	if len(l.entries)-n > logHardCap {
		n = len(l.entries) / 2
	}
	if n == 0 {
		return
	}
	l.base += uint64(n)
	l.entries = slices.Clone(l.entries[n:])
}

// CompactLog drops the change log's entries older than cutoff, as the
// directory does by itself once the log is long. Delta tokens from before
// the kept part answer 410 Gone.
func (d *Directory) CompactLog(cutoff time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.compactLog(cutoff)
}

// LogBounds returns the sequence numbers before the first kept entry of
// the change log and of its last entry.
func (d *Directory) LogBounds() (base, seq uint64) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.log.base, d.log.seq()
}

// ExpireDeltaTokens makes every delta and skip token issued so far answer
// 410 Gone (resyncRequired), as after tenant maintenance.
func (d *Directory) ExpireDeltaTokens() {
	d.mu.Lock()
	d.log.epoch++
	d.mu.Unlock()
}

// Seq is the sequence number of the last change.
func (v *View) Seq() uint64 { return v.d.log.seq() }

// LogBase is the sequence number before the first change still kept.
func (v *View) LogBase() uint64 { return v.d.log.base }

// Epoch counts the calls of ExpireDeltaTokens.
func (v *View) Epoch() uint32 { return v.d.log.epoch }

// Change sums up an object's changes in a window of the log.
type Change struct {
	Props   uint64 // properties changed
	Created bool   // created or restored: to be written in full
	Removed bool   // soft-deleted or purged at some point
	// Members are the members added or removed (groups), with their kinds.
	Members map[string]model.ObjKind
}

// Changes sums up the changes to objects of kind between the sequence
// numbers from (exclusive) and to (inclusive), by object id. from must not
// be before LogBase.
func (v *View) Changes(kind model.ObjKind, from, to uint64) map[string]*Change {
	l := &v.d.log
	out := map[string]*Change{}
	for _, c := range l.entries[from-l.base : to-l.base] {
		if c.kind != kind {
			continue
		}
		a := out[c.id]
		if a == nil {
			a = &Change{}
			out[c.id] = a
		}
		switch c.op {
		case opCreate, opRestore:
			a.Created = true
			a.Props |= c.props
		case opUpdate:
			a.Props |= c.props
		case opSoftDelete, opPurge:
			a.Removed = true
		case opMemberAdd, opMemberRemove:
			if a.Members == nil {
				a.Members = map[string]model.ObjKind{}
			}
			a.Members[c.member] = c.mkind
		}
	}
	return out
}
