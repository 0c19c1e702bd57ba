package factory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
)

// Rotation is what a master key rotation did.
type Rotation struct {
	// Resealed counts the values sealed again under the new key.
	Resealed int
	// KeyFile holds the new key: the key file in use, or with the key
	// from DIRSYNC_MASTER_KEY the file the caller named.
	KeyFile string
	// OldKeyFile keeps the old key, beside the key file, until the user
	// removes it; "" when the old key came from DIRSYNC_MASTER_KEY.
	OldKeyFile string
	// FromEnv says the old key came from DIRSYNC_MASTER_KEY, which the
	// user must now set to the new key's file content.
	FromEnv bool
}

// RotateKey seals every secret of the database again under a new master
// key, in one transaction, and puts the new key where the old one was.
//
// The new key reaches the disk before the transaction commits, and the
// key file is replaced by a rename after it, so a crash at any point
// leaves a key that opens the database: before the commit the old one (in
// the key file), after it the new one (in KEY.new until the rename). The
// old key stays in KEY.old. With the key in DIRSYNC_MASTER_KEY the new
// key goes to newKeyFile (required, never printed), and the user sets the
// variable from it.
func RotateKey(ctx context.Context, p *Parts, newKeyFile string) (Rotation, error) {
	if p.Box == nil {
		return Rotation{}, &manage.Error{Kind: manage.Unavailable, Message: "no master key is loaded, so there is nothing to rotate: the database holds no secrets yet"}
	}
	r := Rotation{FromEnv: p.KeyFile == ""}
	var staged string // where the new key is written before the commit
	switch {
	case r.FromEnv && newKeyFile == "":
		return r, &manage.Error{Kind: manage.Invalid, Field: "new-key-file", Message: fmt.Sprintf(
			"the master key comes from %s: give --new-key-file PATH, where the new key is written (it is never printed)", secret.EnvMasterKey)}
	case r.FromEnv:
		staged, r.KeyFile = newKeyFile, newKeyFile
	case newKeyFile != "":
		return r, &manage.Error{Kind: manage.Invalid, Field: "new-key-file", Message: fmt.Sprintf(
			"--new-key-file is for a key in %s; the key file %s is replaced in place (the old key kept as %s.old)", secret.EnvMasterKey, p.KeyFile, p.KeyFile)}
	default:
		staged, r.KeyFile, r.OldKeyFile = p.KeyFile+".new", p.KeyFile, p.KeyFile+".old"
		for _, f := range []string{r.OldKeyFile, staged} {
			if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
				return r, &manage.Error{Kind: manage.Conflict, Field: "key_file", Message: fmt.Sprintf(
					"%s is there from an earlier rotation: check that no backup needs it (keep it elsewhere if one does), remove it, and rotate again", f)}
			}
		}
	}
	key, err := secret.NewKey()
	if err != nil {
		return r, err
	}
	box, err := secret.New(key)
	if err != nil {
		return r, err
	}
	if err := secret.WriteNewKeyFile(staged, key); err != nil {
		return r, &manage.Error{Kind: manage.Invalid, Field: "new-key-file", Message: rootCause(err), Err: err}
	}
	err = p.Store.Update(ctx, func(tx store.Tx) error {
		r.Resealed, err = tx.ResealSecrets(ctx, func(sealed []byte) ([]byte, error) {
			plain, err := p.Box.Open(sealed)
			if err != nil {
				return nil, errors.New("a secret does not open with the current key; nothing was changed")
			}
			return box.Seal(plain)
		})
		return err
	})
	if err != nil {
		os.Remove(staged)
		return r, fmt.Errorf("rotate the master key: %w", err)
	}
	p.Box = box
	if r.FromEnv {
		return r, nil
	}
	return r, replaceKeyFile(p.KeyFile, staged, r.OldKeyFile)
}

// replaceKeyFile keeps the key file as old (a hard link, else a copy) and
// renames staged over it.
func replaceKeyFile(keyFile, staged, old string) error {
	if err := os.Link(keyFile, old); err != nil {
		data, rerr := os.ReadFile(keyFile)
		if rerr == nil {
			rerr = os.WriteFile(old, data, 0o600)
		}
		if rerr != nil {
			return fmt.Errorf("the secrets are sealed under the new key, in %s; keeping the old key as %s failed (%v): move %s to %s now", staged, old, rerr, staged, keyFile)
		}
	}
	if err := os.Rename(staged, keyFile); err != nil {
		return fmt.Errorf("the secrets are sealed under the new key, in %s, which could not replace %s (%v): move it there now", staged, keyFile, err)
	}
	if d, err := os.Open(filepath.Dir(keyFile)); err == nil {
		d.Sync() // the rename, on disk
		d.Close()
	}
	return nil
}
