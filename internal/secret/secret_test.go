package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("s3cr3t~value")
	sealed, err := b.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed value contains the plaintext")
	}
	again, _ := b.Seal(plain)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	got, err := b.Open(sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("a different key opened the secret")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := b.Open(sealed); err == nil {
		t.Fatal("a tampered secret opened")
	}
}

func TestKeyFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	if _, err := ReadKeyFile(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing key file: %v, want ErrNotExist", err)
	}
	k1, err := CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Fatalf("key directory mode %v, want 0700", di.Mode().Perm())
	}
	k2, err := ReadKeyFile(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("read gave another key (%v)", err)
	}
	if k3, err := CreateKeyFile(path); err != nil || !bytes.Equal(k1, k3) {
		t.Fatalf("creating an existing key file replaced the key (%v)", err)
	}
	os.Chmod(path, 0o644)
	if _, err := ReadKeyFile(path); err == nil {
		t.Fatal("a world-readable key file was accepted")
	}
}

func TestKeyFromEnv(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	if _, ok, err := KeyFromEnv(); ok || err != nil {
		t.Fatalf("unset: ok %v, %v", ok, err)
	}
	t.Setenv(EnvMasterKey, "0101010101010101010101010101010101010101010101010101010101010101")
	k, ok, err := KeyFromEnv()
	if !ok || err != nil || !bytes.Equal(k, bytes.Repeat([]byte{1}, 32)) {
		t.Fatalf("key %x, %v %v", k, ok, err)
	}
	t.Setenv(EnvMasterKey, "short")
	if _, _, err := KeyFromEnv(); err == nil {
		t.Fatal("a short key was accepted")
	}
}
