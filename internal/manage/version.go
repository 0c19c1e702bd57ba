package manage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// A resource's version is a digest of the state stored for it: what its
// administrators and its source write, not what is computed when it is
// shown (a source's status and next runs, a webhook's delivery state), so
// that a sync run or the passing of time does not void an edit. Front ends
// show it (the API as ETag) and may make a change conditional on it: a
// change made against a version that is no longer current is refused with
// a Conflict of code CodePreconditionFailed, and nothing is written. The
// check runs in the change's transaction, so no other change slips in
// between.

// AnyVersion, as a change's version, makes it unconditional on the
// object's state (HTTP's If-Match: *); so does "".
const AnyVersion = "*"

func digest(parts ...any) string {
	b, err := json.Marshal(parts)
	if err != nil {
		panic("manage: version of an unmarshalable value: " + err.Error()) // only plain data gets here
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// UserVersion is the version of a user as stored.
func UserVersion(u directory.User) string {
	normalizeUser(&u)
	return digest("user", u)
}

// GroupVersion is the version of a group as stored.
func GroupVersion(g directory.Group) string {
	normalizeGroup(&g)
	return digest("group", g)
}

// WebhookVersion is the version of a subscription: what an administrator
// sets.
func WebhookVersion(h Webhook) string {
	return digest("webhook", h.ID, h.URL, h.EventTypes, h.Enabled)
}

// sourceVersion is the version of a source: its stored settings, sealed
// secret and schedule.
func (m *Manager) sourceVersion(ctx context.Context, rd store.Reader, src directory.Source) (string, error) {
	sc, _, err := m.storedSchedule(ctx, rd, src)
	if err != nil {
		return "", err
	}
	return digest("source", src.ID, src.Name, src.Description, src.Kind, src.Enabled, src.Config, src.Secret, src.Settings, sc), nil
}

// checkVersion refuses a change made against a version that is not the
// current one.
func checkVersion(what, want, current string) error {
	if want == "" || want == AnyVersion || want == current {
		return nil
	}
	return &Error{Kind: Conflict, Code: CodePreconditionFailed,
		Message: what + " changed since the version this change was made against: read it again and redo the change"}
}

// checkSourceVersion refuses a change of the source made against a
// version that is not its current one.
func (m *Manager) checkSourceVersion(ctx context.Context, tx store.Reader, actor Actor, id, want string) error {
	if want == "" || want == AnyVersion {
		return nil
	}
	src, err := tx.Source(ctx, actor.AccountID, id)
	if err != nil {
		return err
	}
	current, err := m.sourceVersion(ctx, tx, src)
	if err != nil {
		return err
	}
	return checkVersion("source "+src.Name, want, current)
}
