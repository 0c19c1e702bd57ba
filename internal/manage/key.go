package manage

import (
	"context"
	"errors"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
)

// openSecret opens a sealed secret (of a source, a target, a webhook:
// what names it) with the master key, saying what to do when the key is
// not the one that sealed it.
func (m *Manager) openSecret(sealed []byte, what string) ([]byte, error) {
	box, err := m.box()
	if err != nil {
		return nil, err
	}
	plain, err := box.Open(sealed)
	if err != nil {
		return nil, newError(Unavailable, "the secret of %s cannot be opened: the master key differs from the one that sealed it (restore the key file, or set %s to the key that sealed it)", what, secret.EnvMasterKey).with(err)
	}
	return plain, nil
}

// openable says why src's secret does not open with the master key this
// process holds (nil when it does): a key rotated by another process
// since this one started, or a secret sealed under another key.
func (m *Manager) openable(src directory.Source) *Error {
	box, err := m.box()
	if err != nil {
		return AsError(err)
	}
	if _, err := box.Open(src.Secret); err != nil {
		return newError(Unavailable, "the secret of source %s does not open with this process's master key: the key was rotated since it started (restart it), or it is not the key that sealed the secret (set %s or the key file to that key)",
			src.Name, secret.EnvMasterKey).with(err)
	}
	return nil
}

// CheckKey reports whether the master key this process holds opens the
// database's secrets, trying one source that has one, found in one read:
// for a service's readiness, which must fail once another process rotated
// the key (dirsync key rotate) until this one restarts with the new key.
// Rotation seals every secret again in one transaction, so one secret
// tells for all.
func (m *Manager) CheckKey(ctx context.Context) error {
	src, err := m.d.Store.SealedSource(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if e := m.openable(src); e != nil {
		return e
	}
	return nil
}
