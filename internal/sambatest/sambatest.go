// Package sambatest provisions and runs a real Samba Active Directory domain
// controller on a loopback address, for tests that must meet a real
// directory rather than a fake one: paging limits, range retrieval, DirSync,
// tombstones, AD's bind error codes and its TLS all behave as Samba (and so,
// closely, Windows) does.
//
// Each DC is a fresh domain CORP.EXAMPLE.COM in its own temporary directory,
// bound to its own address 127.0.0.X so that the tests of several packages
// (which go test runs at once) never collide. Only the LDAP server runs:
// DNS, Kerberos, SMB and the rest are switched off so that it starts fast.
//
// Measured on the 2-core development machine (Samba 4.17, Debian 12):
// provisioning takes 3.5 to 5 s of wall time (all CPU in samba-tool, peak
// RSS 131 MB); the daemon answers LDAPS about 0.5 s after it starts and
// holds 55 to 65 MB RSS; an LDAP add of a user costs about 3 ms with
// ldb:nosync (and 80 ms without, spent in fsync), so thousands of users are
// added over LDAP, never with samba-tool (about 0.2 s each).
//
// Samba needs root (it binds ports 389 and 636). Where samba is not
// installed, or the test is not root, Start skips the test and says how to
// install it:
//
//	apt-get install -y samba samba-ad-dc winbind ldap-utils krb5-user
package sambatest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Fixed names of the test domain.
const (
	Realm     = "CORP.EXAMPLE.COM"
	DNSDomain = "corp.example.com"
	NetBIOS   = "CORP"
	BaseDN    = "DC=corp,DC=example,DC=com"
	AdminDN   = "CN=Administrator,CN=Users," + BaseDN
	HostName  = "DC1"
)

// ErrUnavailable is returned by New when Samba cannot run here: not
// installed, or not running as root.
var ErrUnavailable = errors.New("sambatest: Samba AD DC unavailable")

// InstallHint is the command that installs what the harness needs.
const InstallHint = "DEBIAN_FRONTEND=noninteractive apt-get install -y samba samba-ad-dc winbind ldap-utils krb5-user"

// DC is a running Samba AD domain controller.
type DC struct {
	// Addr is the loopback address it listens on, 127.0.0.X.
	Addr string
	// URL is its LDAPS address, ldaps://127.0.0.X:636.
	URL string
	// PlainURL is its plain LDAP address, ldap://127.0.0.X:389, for StartTLS.
	PlainURL string
	// CAPEM is the CA that signed the DC's certificate, PEM encoded; CAFile
	// holds the same.
	CAPEM  []byte
	CAFile string
	// BaseDN is the domain's naming context.
	BaseDN        string
	AdminDN       string
	AdminPassword string
	// Dir is the provisioned directory (smb.conf in etc/, the database and
	// TLS files in private/).
	Dir string
	// ProvisionTime and StartTime are how long samba-tool provision took,
	// and how long the daemon took to answer LDAPS.
	ProvisionTime time.Duration
	StartTime     time.Duration

	cmd     *exec.Cmd
	lock    *os.File
	out     *syncBuffer
	done    chan struct{}
	ownsDir bool
	closed  sync.Once
}

// Options tune New.
type Options struct {
	// Dir is where to provision; empty means a new temporary directory that
	// Close removes.
	Dir string
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

// Start provisions and starts a DC for the test and stops it when the test
// ends. It skips the test when Samba is unavailable here.
func Start(t testing.TB) *DC {
	t.Helper()
	dc, err := New(context.Background(), Options{Dir: t.TempDir(), Logf: t.Logf})
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("%v (CI installs it: %s)", err, InstallHint)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	return dc
}

// Available reports whether a DC can run here, and why not.
func Available() error {
	for _, bin := range []string{"samba", "samba-tool"} {
		if _, err := lookPath(bin); err != nil {
			return fmt.Errorf("%w: %s is not installed", ErrUnavailable, bin)
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: samba must run as root to bind ports 389 and 636", ErrUnavailable)
	}
	return nil
}

// lookPath finds a binary on PATH or in the sbin directories, which a
// non-login root shell may not have on its PATH.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// New provisions a fresh domain and starts its DC. Close stops it.
func New(ctx context.Context, opts Options) (*DC, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dc := &DC{BaseDN: BaseDN, AdminDN: AdminDN, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			dc.Close()
		}
	}()
	dc.Dir = opts.Dir
	if dc.Dir == "" {
		d, err := os.MkdirTemp("", "sambatest-")
		if err != nil {
			return nil, fmt.Errorf("sambatest: %w", err)
		}
		dc.Dir, dc.ownsDir = d, true
	}
	addr, lock, err := claimAddress()
	if err != nil {
		return nil, err
	}
	dc.Addr, dc.lock = addr, lock
	dc.URL = "ldaps://" + addr + ":636"
	dc.PlainURL = "ldap://" + addr + ":389"
	dc.AdminPassword = "Adm1n!" + randomHex(8)

	if err := dc.provision(ctx); err != nil {
		return nil, err
	}
	// Samba generates a certificate with no subjectAltName, which Go (like
	// any current TLS stack) refuses to match against a host. Writing our own
	// CA and certificate where Samba looks for them makes it use those.
	if err := dc.writeTLS(); err != nil {
		return nil, err
	}
	if err := dc.start(ctx); err != nil {
		return nil, err
	}
	logf("sambatest: DC %s at %s: provisioned in %v, LDAPS answered after %v", Realm, dc.URL,
		dc.ProvisionTime.Round(time.Millisecond), dc.StartTime.Round(time.Millisecond))
	ok = true
	return dc, nil
}

// provision creates the domain in dc.Dir with samba-tool.
func (dc *DC) provision(ctx context.Context) error {
	sambaTool, _ := lookPath("samba-tool")
	// Every path Samba writes to is inside Dir, so that DCs never share a
	// pid file or a socket, and nothing is left behind in /run or /var.
	options := []string{
		"interfaces=" + dc.Addr + "/8",
		"bind interfaces only=yes",
		"server services=ldap",
		"ldb:nosync=true", // tests need no durability; fsync made each add cost 80 ms
		"pid directory=" + filepath.Join(dc.Dir, "run"),
		"ncalrpc dir=" + filepath.Join(dc.Dir, "run", "ncalrpc"),
		"winbindd socket directory=" + filepath.Join(dc.Dir, "run", "winbindd"),
		"ntp signd socket directory=" + filepath.Join(dc.Dir, "run", "ntp_signd"),
		"log file=" + filepath.Join(dc.Dir, "log", "samba.log"),
		"log level=1",
	}
	for _, d := range []string{"run", "log"} {
		if err := os.MkdirAll(filepath.Join(dc.Dir, d), 0o755); err != nil {
			return fmt.Errorf("sambatest: %w", err)
		}
	}
	args := []string{"domain", "provision",
		"--realm=" + Realm, "--domain=" + NetBIOS, "--host-name=" + HostName,
		"--adminpass=" + dc.AdminPassword, "--server-role=dc", "--dns-backend=NONE",
		"--targetdir=" + dc.Dir,
	}
	for _, o := range options {
		args = append(args, "--option="+o)
	}
	start := time.Now()
	prov := exec.CommandContext(ctx, sambaTool, args...)
	if out, err := prov.CombinedOutput(); err != nil {
		return fmt.Errorf("sambatest: samba-tool domain provision: %v\n%s", err, tail(out, 3000))
	}
	dc.ProvisionTime = time.Since(start)
	return nil
}

// start runs samba on the provisioned domain and waits until it answers
// over LDAPS.
func (dc *DC) start(ctx context.Context) error {
	samba, _ := lookPath("samba")
	began := time.Now()
	dc.out = &syncBuffer{}
	dc.cmd = exec.Command(samba, "-s", filepath.Join(dc.Dir, "etc", "smb.conf"), "-i", "-M", "single", "--debug-stdout")
	dc.cmd.Stdout, dc.cmd.Stderr = dc.out, dc.out
	// The DC dies with the test process, even when that is killed: no
	// orphaned domain controller holds an address after a crashed test.
	dc.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := dc.cmd.Start(); err != nil {
		return fmt.Errorf("sambatest: start samba: %w", err)
	}
	go func() {
		dc.cmd.Wait()
		close(dc.done)
	}()
	if err := dc.waitReady(ctx, 60*time.Second); err != nil {
		return err
	}
	dc.StartTime = time.Since(began)
	return nil
}

// Close stops the DC and releases its address. It is safe to call twice.
func (dc *DC) Close() error {
	dc.closed.Do(func() {
		if dc.cmd != nil && dc.cmd.Process != nil {
			// Terminate the process group: samba itself, and any helper it forked.
			syscall.Kill(-dc.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-dc.done:
			case <-time.After(5 * time.Second):
				syscall.Kill(-dc.cmd.Process.Pid, syscall.SIGKILL)
				<-dc.done
			}
		}
		if dc.lock != nil {
			// Closing releases the flock. The file stays: removing it could
			// let two processes lock two different files of the same name.
			dc.lock.Close()
		}
		if dc.ownsDir && dc.Dir != "" {
			os.RemoveAll(dc.Dir)
		}
	})
	return nil
}

// Output returns what samba printed so far, for a failing test's log.
func (dc *DC) Output() string { return dc.out.String() }

// TLSConfig trusts the DC's CA.
func (dc *DC) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(dc.CAPEM)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Dial returns an LDAPS connection bound as the domain administrator.
func (dc *DC) Dial() (*ldap.Conn, error) {
	conn, err := ldap.DialURL(dc.URL, ldap.DialWithTLSConfig(dc.TLSConfig()))
	if err != nil {
		return nil, fmt.Errorf("sambatest: dial %s: %w", dc.URL, err)
	}
	if err := conn.Bind(dc.AdminDN, dc.AdminPassword); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sambatest: bind as administrator: %w", err)
	}
	return conn, nil
}

func (dc *DC) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-dc.done:
			return fmt.Errorf("sambatest: samba exited before it answered: %v\n%s", dc.cmd.ProcessState, tail([]byte(dc.out.String()), 3000))
		case <-ctx.Done():
			return fmt.Errorf("sambatest: waiting for samba: %w", ctx.Err())
		default:
		}
		conn, err := dc.Dial()
		if err == nil {
			conn.Close()
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("sambatest: samba did not answer LDAPS within %v: %v\n%s", limit, last, tail([]byte(dc.out.String()), 3000))
}

// claimAddress picks a loopback address no other DC of this machine uses.
// A lock file per address, held for the DC's life, keeps concurrent test
// processes apart (the kernel drops the lock if a process dies); a trial
// listen on ports 389 and 636 skips addresses something else already holds.
func claimAddress() (string, *os.File, error) {
	// Start from an offset that differs between processes so that
	// concurrent packages do not all contend for the first address.
	first := int(os.Getpid() % 200)
	for i := range 200 {
		x := 20 + (first+i)%200
		addr := "127.0.0." + strconv.Itoa(x)
		path := filepath.Join(os.TempDir(), "dirsync-sambatest-"+addr+".lock")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return "", nil, fmt.Errorf("sambatest: lock file: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		if portsFree(addr) {
			return addr, f, nil
		}
		f.Close()
	}
	return "", nil, errors.New("sambatest: no free loopback address in 127.0.0.20-219")
}

func portsFree(addr string) bool {
	for _, port := range []string{"389", "636", "3268", "3269"} {
		l, err := net.Listen("tcp", net.JoinHostPort(addr, port))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// writeTLS writes a CA and a server certificate for the DC's address into
// private/tls, where Samba's default "tls certfile" settings point.
func (dc *DC) writeTLS() error {
	ca, caKey, caPEM, err := NewCA("sambatest CA " + dc.Addr)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("sambatest: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: HostName + "." + DNSDomain},
		DNSNames:     []string{HostName + "." + DNSDomain, DNSDomain},
		IPAddresses:  []net.IP{net.ParseIP(dc.Addr)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("sambatest: server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("sambatest: %w", err)
	}
	dir := filepath.Join(dc.Dir, "private", "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sambatest: %w", err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"ca.pem", caPEM, 0o644},
		{"cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644},
		// Samba refuses a key file that others can read.
		{"key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("sambatest: %w", err)
		}
	}
	dc.CAPEM = caPEM
	dc.CAFile = filepath.Join(dir, "ca.pem")
	return nil
}

// NewCA makes a self-signed CA. Tests use a second one to present the
// connector with a certificate it must not trust.
func NewCA(name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sambatest: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"dirsync tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sambatest: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sambatest: %w", err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Keep the last few hundred kilobytes only: samba logs for hours in a
	// long benchmark.
	if b.buf.Len() > 512<<10 {
		rest := b.buf.Bytes()[b.buf.Len()-256<<10:]
		b.buf = *bytes.NewBuffer(append([]byte(nil), rest...))
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
