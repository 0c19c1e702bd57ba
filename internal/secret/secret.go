// Package secret seals the credentials dirsync keeps (client secrets,
// private keys, bind passwords, webhook secrets) so that the database never
// holds them in the clear.
//
// Sealing is AES-256-GCM from the standard library: it is small and central
// enough to write here, and a library would add nothing but a dependency.
// The key comes from DIRSYNC_MASTER_KEY (32 bytes, base64 or hex) or from a
// key file, generated with mode 0600 on first use; package factory decides
// which, and refuses to make a new key for a database that holds secrets
// sealed under another.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvMasterKey names the environment variable that holds the master key.
const EnvMasterKey = "DIRSYNC_MASTER_KEY"

// version prefixes every sealed value so the scheme can change later.
const version = 1

// Box seals and opens secrets with one key.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret: master key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext. Empty plaintext seals to empty, so "no secret"
// stays visible as such.
func (b *Box) Seal(plaintext []byte) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, nil
	}
	nonce := make([]byte, b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secret: nonce: %w", err)
	}
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, plaintext, nil), nil
}

// Open decrypts what Seal produced.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	ns := b.aead.NonceSize()
	if sealed[0] != version || len(sealed) < 1+ns+b.aead.Overhead() {
		return nil, errors.New("secret: sealed value is malformed")
	}
	plain, err := b.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], nil)
	if err != nil {
		return nil, errors.New("secret: cannot decrypt: the master key differs from the one that sealed this secret")
	}
	return plain, nil
}

// KeyFromEnv returns the master key in DIRSYNC_MASTER_KEY; ok is false
// when the variable is not set (or empty).
func KeyFromEnv() (key []byte, ok bool, err error) {
	v := strings.TrimSpace(os.Getenv(EnvMasterKey))
	if v == "" {
		return nil, false, nil
	}
	if key, err = decodeKey(v); err != nil {
		return nil, true, fmt.Errorf("secret: %s: %w", EnvMasterKey, err)
	}
	return key, true, nil
}

// ReadKeyFile reads the master key from a key file. A missing file is an
// error that wraps os.ErrNotExist; a file others may read is refused.
func ReadKeyFile(keyFile string) ([]byte, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("secret: read key file: %w", err)
	}
	key, err := decodeKey(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("secret: key file %s: %w", keyFile, err)
	}
	if fi, err := os.Stat(keyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret: key file %s is readable by others (mode %v); chmod 600 it", keyFile, fi.Mode().Perm())
	}
	return key, nil
}

// CreateKeyFile writes a new random master key to keyFile (mode 0600, in a
// directory created with mode 0700) and returns it. When another process
// created the file first, it returns that process's key.
func CreateKeyFile(keyFile string) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secret: generate key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	// O_EXCL: two processes starting at once must not write two keys.
	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return ReadKeyFile(keyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("secret: create key file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("secret: write key file: %w", err)
	}
	return key, f.Close()
}

func decodeKey(s string) ([]byte, error) {
	if len(s) == 64 {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(k) != 32 {
		return nil, errors.New("want 32 bytes as base64 or 64 hex digits")
	}
	return k, nil
}

// NewKey returns a new random master key.
func NewKey() ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secret: generate key: %w", err)
	}
	return key, nil
}

// WriteNewKeyFile writes key to a key file that must not exist yet (mode
// 0600, in a directory created with mode 0700), synced to disk: a key
// that a database's secrets are about to be sealed under must survive a
// crash.
func WriteNewKeyFile(keyFile string, key []byte) error {
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("secret: create key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(keyFile)
		return fmt.Errorf("secret: write key file: %w", err)
	}
	return nil
}
