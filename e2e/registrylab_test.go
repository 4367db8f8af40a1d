package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The registry of the lab: distribution's registry, built from its Go
// module at this version, served from node2's network namespace.
const (
	registryModule  = "github.com/distribution/distribution/v3"
	registryVersion = "v3.1.2"
	registryNetns   = "swlab-node2"
	registryIP      = "10.213.0.12"
	registryHost    = registryIP + ":5000"
)

// labRegistry is a running registry with TLS and htpasswd auth, trusted by
// the lab's daemons.
type labRegistry struct {
	host         string // host:port, as image references name it
	user         string
	password     string
	dockerConfig string // a DOCKER_CONFIG directory whose config.json logs in to host
	client       *http.Client
}

// registryBinary builds distribution's registry in a throw-away module
// outside the repository (it is no dependency of swdeploy) and keeps it in
// the user's cache directory, so that only the first run pays for the
// build.
func registryBinary(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(cache, "swdeploy-e2e", "registry-"+registryVersion)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o100 != 0 {
		t.Logf("registry %s: cached %s", registryVersion, bin)
		return bin
	}
	start := time.Now()
	mod := t.TempDir()
	gocmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s (building the test registry): %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	gocmd("mod", "init", "swdeploy-e2e-registry")
	gocmd("get", registryModule+"/cmd/registry@"+registryVersion)
	tmp := filepath.Join(mod, "registry")
	gocmd("build", "-trimpath", "-ldflags=-s -w", "-o", tmp, registryModule+"/cmd/registry")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	// A copy next to the target, renamed: a concurrent or interrupted
	// build never leaves half a binary under the cached name.
	b, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	part := bin + ".part-" + randomHex(4)
	if err := os.WriteFile(part, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(part, bin); err != nil {
		os.Remove(part)
		t.Fatal(err)
	}
	t.Logf("registry %s: built in %.1fs, cached as %s", registryVersion, time.Since(start).Seconds(), bin)
	return bin
}

// startLabRegistry runs the registry binary in node2's network namespace
// on registryHost, with a fresh CA, a server certificate for the node's
// address and one random htpasswd user, until the test ends. The lab's
// daemons, which share the host's file system, trust the CA through
// /etc/docker/certs.d; the test's own client trusts it directly. The lab
// must be up.
func startLabRegistry(t *testing.T, bin string) *labRegistry {
	t.Helper()
	// The node's address must be reached through the lab's bridge, never
	// through a route off this machine.
	if out, err := exec.Command("ip", "route", "get", registryIP).Output(); err != nil || !strings.Contains(string(out), " dev swlab0 ") {
		t.Fatalf("ip route get %s: %s %v; want it through the lab's bridge swlab0", registryIP, out, err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}

	caPEM, certPEM, keyPEM := registryCerts(t, net.ParseIP(registryIP))
	reg := &labRegistry{host: registryHost, user: "swd-" + randomHex(4), password: randomHex(16)}
	hash, err := bcrypt.GenerateFromPassword([]byte(reg.password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "storage")
	if err := os.Mkdir(storage, 0o700); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
  secret: %s
  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: swdeploy-e2e
    path: %s
`, storage, reg.host, randomHex(16),
		write("server.crt", certPEM, 0o644), write("server.key", keyPEM, 0o600),
		write("htpasswd", []byte(reg.user+":"+string(hash)+"\n"), 0o600))
	configPath := write("config.yml", []byte(config), 0o600)

	// The lab's daemons trust the CA for this host only.
	certsDir := filepath.Join("/etc/docker/certs.d", reg.host)
	if err := os.MkdirAll(certsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(certsDir)
		os.Remove(filepath.Dir(certsDir)) // only if nothing else is in it
	})
	if err := os.WriteFile(filepath.Join(certsDir, "ca.crt"), caPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	logPath := filepath.Join(dir, "registry.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	// nsenter execs the registry, so the PID is the registry's own.
	cmd := exec.Command("nsenter", "--net=/var/run/netns/"+registryNetns, bin, "serve", configPath)
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("registry log:\n%s", lastLines(string(b), 40))
			}
		}
	})

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	reg.client = &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	reg.waitReady(t, exited, logPath)

	reg.dockerConfig = t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{
		reg.host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(reg.user + ":" + reg.password))},
	}})
	if err := os.WriteFile(filepath.Join(reg.dockerConfig, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return reg
}

// waitReady waits until the registry answers /v2/ over TLS with the CA: a
// 401 without credentials, a 200 with them.
func (r *labRegistry) waitReady(t *testing.T, exited <-chan error, logPath string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _, err := r.get("/v2/", false)
		if err == nil && code == http.StatusUnauthorized {
			break
		}
		select {
		case werr := <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("the registry exited: %v\n%s", werr, lastLines(string(b), 40))
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("the registry does not answer on %s: %d %v\n%s", r.host, code, err, lastLines(string(b), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _, err := r.get("/v2/", true); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v2/ as %s: %d %v", r.user, code, err)
	}
}

// get asks the registry's API, as the test's user or anonymously, and
// returns the status code and the response's header.
func (r *labRegistry) get(path string, login bool, accept ...string) (int, http.Header, error) {
	req, err := http.NewRequest(http.MethodGet, "https://"+r.host+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if login {
		req.SetBasicAuth(r.user, r.password)
	}
	for _, a := range accept {
		req.Header.Add("Accept", a)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// registryCerts makes a CA and a server certificate it signs for ip, in
// PEM: the CA's certificate, the server's certificate and its key.
func registryCerts(t *testing.T, ip net.IP) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		return n
	}
	caKey, key := newKey(), newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "swdeploy e2e registry CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: ip.String()},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{ip},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
