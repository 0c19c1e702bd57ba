package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKeyRotate is issue 10's point 9: "dirsync key rotate" seals every
// secret again under a new key (the old key then opens nothing), replaces
// the key file and keeps the old key beside it, never prints a key; with
// the key in DIRSYNC_MASTER_KEY it writes the new key to --new-key-file.
// A serve whose key does not open the secrets does not start (so it never
// reports ready, nor answers 202 to a sync).
func TestKeyRotate(t *testing.T) {
	e := newEnv(t)
	e.addSource("s")
	keyFile := strings.TrimSuffix(e.db, ".db") + ".key"
	oldKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	out := e.ok("key", "rotate")
	newKey, _ := os.ReadFile(keyFile)
	if bytes.Equal(newKey, oldKey) || len(bytes.TrimSpace(newKey)) == 0 {
		t.Fatal("the key file still holds the old key")
	}
	if kept, _ := os.ReadFile(keyFile + ".old"); !bytes.Equal(kept, oldKey) {
		t.Fatalf("the old key is not kept in %s.old", keyFile)
	}
	for _, k := range [][]byte{oldKey, newKey} {
		if strings.Contains(out, strings.TrimSpace(string(k))) {
			t.Fatalf("rotate printed a key:\n%s", out)
		}
	}
	if !strings.Contains(out, "Sealed 1 secret") || !strings.Contains(out, ".old") {
		t.Fatalf("rotate said:\n%s", out)
	}
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("new key file mode %v", fi.Mode().Perm())
	}
	e.ok("sync", "s")

	// The old key opens nothing any more: the secret was sealed again.
	os.WriteFile(keyFile, oldKey, 0o600)
	if out, errOut, code := e.run("source", "list"); code == 0 || !strings.Contains(errOut, "does not open the secrets") {
		t.Fatalf("the old key after a rotation: exit %d\n%s%s", code, out, errOut)
	}
	// Nor does serve start with it.
	e.serveRefused(t)
	os.WriteFile(keyFile, newKey, 0o600)

	// A second rotation while KEY.old is there is refused, changing nothing.
	if out, errOut, code := e.run("key", "rotate"); code == 0 || !strings.Contains(errOut, ".old") {
		t.Fatalf("rotate with %s.old there: exit %d\n%s%s", keyFile, code, out, errOut)
	}
	if now, _ := os.ReadFile(keyFile); !bytes.Equal(now, newKey) {
		t.Fatal("a refused rotation changed the key file")
	}

	// The key in DIRSYNC_MASTER_KEY: the new one goes to --new-key-file.
	env := e.env
	e.env = append(env, "DIRSYNC_MASTER_KEY="+strings.TrimSpace(string(newKey)))
	if _, errOut, code := e.run("key", "rotate"); code == 0 || !strings.Contains(errOut, "--new-key-file") {
		t.Fatalf("rotate from the environment without --new-key-file: exit %d\n%s", code, errOut)
	}
	dest := filepath.Join(e.dir, "next.key")
	out = e.ok("key", "rotate", "--new-key-file", dest)
	next, err := os.ReadFile(dest)
	if err != nil || strings.Contains(out, strings.TrimSpace(string(next))) || !strings.Contains(out, "DIRSYNC_MASTER_KEY") {
		t.Fatalf("rotate to %s: %v\n%s", dest, err, out)
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s mode %v", dest, fi.Mode().Perm())
	}
	if _, _, code := e.run("source", "list"); code == 0 {
		t.Fatal("the environment's old key still opens the secrets")
	}
	e.env = append(env, "DIRSYNC_MASTER_KEY="+strings.TrimSpace(string(next)))
	e.ok("sync", "s")
}

// serveRefused checks that serve, with a key that does not open the
// database's secrets, exits at once naming the key, never listening.
func (e *cliEnv) serveRefused(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--db", e.db, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = e.env
	var outBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatal("serve with a wrong key was still running after 60 s")
	}
	if err == nil || !strings.Contains(outBuf.String(), "does not open the secrets") || strings.Contains(outBuf.String(), "dirsync serving") {
		t.Fatalf("serve with a wrong key: %v\n%s", err, outBuf.String())
	}
}
