package cli

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strings"
)

// readSecret reads a credential from a file ("-" for standard input) or an
// environment variable. Secrets are never taken as flag values, where they
// would show in the process list and the shell's history.
func (a *app) readSecret(what, file, env string) ([]byte, error) {
	switch {
	case file != "" && env != "":
		return nil, usageErr("give the %s either as a file or as an environment variable, not both", what)
	case file == "-":
		data, err := io.ReadAll(io.LimitReader(a.stdin, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("read %s from standard input: %w", what, err)
		}
		return trimSecret(what, data)
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, usageErr("read %s: %v", what, err)
		}
		return trimSecret(what, data)
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok {
			return nil, usageErr("environment variable %s (the %s) is not set", env, what)
		}
		return trimSecret(what, []byte(v))
	}
	return nil, nil
}

func trimSecret(what string, data []byte) ([]byte, error) {
	data = bytes.TrimRight(data, "\r\n")
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, usageErr("the %s is empty", what)
	}
	return data, nil
}

// readCAFile reads PEM certificates to trust and checks that they parse.
func readCAFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", usageErr("read --ca-file: %v", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return "", usageErr("--ca-file %s holds no PEM certificate", path)
	}
	return strings.TrimSpace(string(data)) + "\n", nil
}
