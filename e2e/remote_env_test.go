package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoints for the remote tests, all on 127.0.0.1 and all leading to this
// machine's engine: an OpenSSH server, a TLS-terminating forwarder, and
// listeners that refuse or hang.

// needTool skips a test without a tool, except in CI, where a missing
// tool is a missing install step and must fail.
func needTool(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (scripts/ci-deps.sh must install it)", path)
		}
		t.Skipf("%s is not installed", path)
	}
}

// sshServer is sshd run by the test on a loopback port, logging every
// connection and session, with a key pair only this test knows.
type sshServer struct {
	port     int
	dir      string
	key      string // the client's private key
	log      *lockedBuffer
	cmd      *exec.Cmd
	hostPort string
}

func startSSHD(t *testing.T) *sshServer {
	t.Helper()
	needTool(t, "/usr/sbin/sshd")
	needTool(t, "ssh")
	if os.Getuid() != 0 {
		t.Skip("sshd for the test runs as root")
	}
	dir := t.TempDir()
	for _, k := range []string{"hostkey", "key", "wrongkey"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	// The privilege separation directory sshd insists on.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	s := &sshServer{port: freePort(t), dir: dir, key: filepath.Join(dir, "key"), log: &lockedBuffer{}}
	s.hostPort = fmt.Sprintf("127.0.0.1:%d", s.port)
	config := fmt.Sprintf(`ListenAddress %s
HostKey %s/hostkey
PermitRootLogin prohibit-password
AuthorizedKeysFile %s/authorized_keys
StrictModes no
UsePAM no
PidFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
`, s.hostPort, dir, dir)
	cfg := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// Per-connection sshd processes keep the log pipe open after the
	// listener is gone: Wait must not wait for them.
	s.cmd.WaitDelay = 2 * time.Second
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stopMaster()
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.log.String(), "Server listening") {
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not start:\n%s", s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// stopMaster ends the multiplexing master swdeploy's ssh left lingering
// for this server (ControlPersist), where swdeploy keeps its sockets.
func (s *sshServer) stopMaster() {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("swdeploy-ssh-%d", os.Getuid()))
	exec.Command("ssh", "-F", "/dev/null", "-o", "ControlPath="+dir+"/%C", "-O", "exit",
		"-p", fmt.Sprint(s.port), "root@127.0.0.1").Run()
}

// url is the engine address through this server.
func (s *sshServer) url() string { return "ssh://root@" + s.hostPort }

// opts are the client's ssh options: the test's key and no known_hosts,
// ignoring the user's own ssh configuration.
func (s *sshServer) opts(key string, extra ...string) string {
	return strings.Join(append([]string{"-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR"}, extra...), " ")
}

// counts returns how many connections sshd authenticated and how many
// sessions it started since the log had mark bytes.
func (s *sshServer) counts(mark int) (connections, sessions int) {
	since := s.log.String()[mark:]
	return strings.Count(since, "Accepted publickey for root"), strings.Count(since, "Starting session:")
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, plus a second, unrelated CA with a client certificate of
// its own, each written as ca.pem, cert.pem and key.pem in a directory.
type pki struct {
	server     tls.Certificate
	clientCAs  *x509.CertPool
	good       string // ca.pem, cert.pem, key.pem: the right ones
	wrongCA    string // a ca.pem that did not sign the server's certificate
	noCert     string // ca.pem only
	otherCAKey string // a client certificate the server's CA did not sign
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	ca, caKey := newCert(t, nil, nil, "swdeploy test CA", true, 0)
	srv, srvKey := newCert(t, ca, caKey, "127.0.0.1", false, x509.ExtKeyUsageServerAuth)
	cli, cliKey := newCert(t, ca, caKey, "client", false, x509.ExtKeyUsageClientAuth)
	other, otherKey := newCert(t, nil, nil, "another CA", true, 0)
	otherCli, otherCliKey := newCert(t, other, otherKey, "client", false, x509.ExtKeyUsageClientAuth)

	p := &pki{clientCAs: x509.NewCertPool()}
	p.clientCAs.AddCert(ca)
	p.server = tls.Certificate{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey}
	p.good = writeCerts(t, filepath.Join(dir, "good"), ca, cli, cliKey)
	p.wrongCA = writeCerts(t, filepath.Join(dir, "wrong-ca"), other, cli, cliKey)
	p.noCert = writeCerts(t, filepath.Join(dir, "no-cert"), ca, nil, nil)
	p.otherCAKey = writeCerts(t, filepath.Join(dir, "other-client"), ca, otherCli, otherCliKey)
	return p
}

func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool, usage x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writeCerts(t *testing.T, dir string, ca, cert *x509.Certificate, key *ecdsa.PrivateKey) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", ca.Raw)
	if cert != nil {
		write("cert.pem", "CERTIFICATE", cert.Raw)
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		write("key.pem", "EC PRIVATE KEY", der)
	}
	return dir
}

// startTLSForwarder serves the local engine's socket over TLS on a loopback
// port, requiring a client certificate from the test's CA, as a dockerd
// with --tlsverify does.
func startTLSForwarder(t *testing.T, p *pki) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.clientCAs,
	})
	if err != nil {
		t.Fatal(err)
	}
	socket := strings.TrimPrefix(os.Getenv("DOCKER_HOST"), "unix://")
	if socket == "" || strings.Contains(socket, "://") {
		socket = "/var/run/docker.sock"
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go forward(c.(*tls.Conn), socket)
		}
	}()
	return l.Addr().String()
}

func forward(c *tls.Conn, socket string) {
	defer c.Close()
	if err := c.Handshake(); err != nil {
		// As dockerd's net/http server does to a client without TLS.
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		return
	}
	u, err := net.Dial("unix", socket)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); u.(*net.UnixConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, u); c.CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

// startSilentListener accepts connections and never says a word: an
// engine (or sshd) that hangs.
func startSilentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return l.Addr().String()
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int { return freePort(t) }
