package entraemu

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFiles writes the server's CA certificate (PEM) to caOut and the sync
// app's credentials (JSON, naming caOut as ca_file) to credentialsOut, each
// with mode 0600 and replaced atomically. An empty path skips that file.
func (t *Tenant) WriteFiles(s *Server, caOut, credentialsOut string) error {
	if caOut != "" {
		abs, err := filepath.Abs(caOut)
		if err != nil {
			return fmt.Errorf("entraemu: write CA: %w", err)
		}
		if err := writeFileAtomic(abs, s.caPEM); err != nil {
			return fmt.Errorf("entraemu: write CA: %w", err)
		}
		s.mu.Lock()
		s.caFile = abs
		s.mu.Unlock()
	}
	if credentialsOut != "" {
		b, err := json.MarshalIndent(s.Credentials(), "", "  ")
		if err != nil {
			return fmt.Errorf("entraemu: write credentials: %w", err)
		}
		if err := writeFileAtomic(credentialsOut, append(b, '\n')); err != nil {
			return fmt.Errorf("entraemu: write credentials: %w", err)
		}
	}
	return nil
}

// writeFileAtomic writes through a temporary file in the same directory so
// a reader never sees half a file, and so the mode is 0600 from the start.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
