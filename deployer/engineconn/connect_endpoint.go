package engineconn

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/go-connections/tlsconfig"
)

// endpoint is the engine to talk to and how, resolved with the docker CLI's
// rules so that a user's DOCKER_HOST, contexts and certificates work as they
// do with `docker`.
type endpoint struct {
	Host    string      // unix:///var/run/docker.sock, tcp://h:2376, ssh://u@h:22/path
	TLS     *tls.Config // nil for a plain connection
	Context string      // the docker context it came from; "" for the default
}

// ConfigError is a connection setting that cannot work as given: a context
// that does not exist, a malformed address, unreadable certificates. It is
// the user's to fix before any connection is tried.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

func configErrorf(format string, args ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// defaultContext is the docker CLI's name for "no context: flags and
// environment".
const defaultContext = "default"

// resolveEndpoint picks the engine as the docker CLI does: --context, then
// -H, then DOCKER_HOST, then DOCKER_CONTEXT, then config.json's
// currentContext, then the local socket.
func resolveEndpoint(opts ConnectOptions, env connectEnv) (endpoint, error) {
	if opts.Host != "" && opts.Context != "" {
		return endpoint{}, configErrorf("conflicting options: either specify --host or --context, not both")
	}
	dir := configDir(env)
	name, err := contextName(opts, env, dir)
	if err != nil {
		return endpoint{}, err
	}
	if name != defaultContext {
		return loadContext(dir, name)
	}
	host := opts.Host
	if host == "" {
		host = env.get("DOCKER_HOST")
	}
	if host == "" {
		host = defaultHost
	}
	tlsCfg, err := envTLS(env, dir)
	if err != nil {
		return endpoint{}, err
	}
	host, err = normalizeHost(host, tlsCfg != nil)
	if err != nil {
		return endpoint{}, err
	}
	if !usesTLS(host) {
		tlsCfg = nil
	}
	return endpoint{Host: host, TLS: tlsCfg}, nil
}

// defaultHost is the engine's local socket.
const defaultHost = "unix:///var/run/docker.sock"

func contextName(opts ConnectOptions, env connectEnv, dir string) (string, error) {
	switch {
	case opts.Context != "":
		return opts.Context, nil
	case opts.Host != "", env.get("DOCKER_HOST") != "":
		return defaultContext, nil
	case env.get("DOCKER_CONTEXT") != "":
		return env.get("DOCKER_CONTEXT"), nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return defaultContext, nil
	}
	if err != nil {
		return "", configErrorf("read docker config: %v", err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", configErrorf("read docker config %s: %v", filepath.Join(dir, "config.json"), err)
	}
	if cfg.CurrentContext == "" {
		return defaultContext, nil
	}
	return cfg.CurrentContext, nil
}

// configDir is the docker CLI's configuration directory.
func configDir(env connectEnv) string {
	if d := env.get("DOCKER_CONFIG"); d != "" {
		return d
	}
	home := env.get("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

// contextMeta is the part of a context's meta.json swdeploy reads.
type contextMeta struct {
	Name      string `json:"Name"`
	Endpoints map[string]struct {
		Host          string `json:"Host"`
		SkipTLSVerify bool   `json:"SkipTLSVerify"`
	} `json:"Endpoints"`
}

// contextID is the directory name the docker CLI stores a context under.
func contextID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func loadContext(dir, name string) (endpoint, error) {
	id := contextID(name)
	metaPath := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(metaPath)
	if errors.Is(err, os.ErrNotExist) {
		return endpoint{}, configErrorf("docker context %q not found (no %s; create it with `docker context create`)", name, metaPath)
	}
	if err != nil {
		return endpoint{}, configErrorf("docker context %q: %v", name, err)
	}
	var meta contextMeta
	if err := json.Unmarshal(b, &meta); err != nil {
		return endpoint{}, configErrorf("docker context %q: %s: %v", name, metaPath, err)
	}
	ep, ok := meta.Endpoints["docker"]
	if !ok || ep.Host == "" {
		return endpoint{}, configErrorf("docker context %q has no docker endpoint", name)
	}
	tlsDir := filepath.Join(dir, "contexts", "tls", id, "docker")
	cfg, err := contextTLS(tlsDir, ep.SkipTLSVerify)
	if err != nil {
		return endpoint{}, configErrorf("docker context %q: %v", name, err)
	}
	host, err := normalizeHost(ep.Host, cfg != nil)
	if err != nil {
		return endpoint{}, configErrorf("docker context %q: %v", name, err)
	}
	if !usesTLS(host) {
		cfg = nil
	}
	return endpoint{Host: host, TLS: cfg, Context: name}, nil
}

// contextTLS builds the TLS configuration of a context's docker endpoint
// from the files `docker context create --docker ca=...,cert=...,key=...`
// stored; nil when it has none and verification is not skipped.
func contextTLS(dir string, skipVerify bool) (*tls.Config, error) {
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	opts := tlsconfig.Options{InsecureSkipVerify: skipVerify, ExclusiveRootPools: true}
	if fileExists(ca) {
		opts.CAFile = ca
	}
	if fileExists(cert) && fileExists(key) {
		opts.CertFile, opts.KeyFile = cert, key
	}
	if opts.CAFile == "" && opts.CertFile == "" && !skipVerify {
		return nil, nil
	}
	cfg, err := tlsconfig.Client(opts)
	if err != nil {
		return nil, fmt.Errorf("tls files in %s: %w", dir, err)
	}
	return cfg, nil
}

// envTLS applies DOCKER_TLS, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as the
// docker CLI does: any non-empty DOCKER_TLS_VERIFY turns verification on
// (even "0"), certificates default to the config directory, and missing
// client files mean no client certificate.
func envTLS(env connectEnv, dir string) (*tls.Config, error) {
	verify := env.get("DOCKER_TLS_VERIFY") != ""
	if !verify && env.get("DOCKER_TLS") == "" {
		return nil, nil
	}
	certPath := env.get("DOCKER_CERT_PATH")
	if certPath == "" {
		certPath = dir
	}
	ca, cert, key := filepath.Join(certPath, "ca.pem"), filepath.Join(certPath, "cert.pem"), filepath.Join(certPath, "key.pem")
	opts := tlsconfig.Options{InsecureSkipVerify: !verify, ExclusiveRootPools: true}
	if fileExists(ca) {
		opts.CAFile = ca
	}
	if fileExists(cert) {
		opts.CertFile = cert
	}
	if fileExists(key) {
		opts.KeyFile = key
	}
	cfg, err := tlsconfig.Client(opts)
	if err != nil {
		return nil, configErrorf("TLS certificates in %s: %v", certPath, err)
	}
	return cfg, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// normalizeHost checks an engine address and gives a tcp:// one the docker
// CLI's default port.
func normalizeHost(host string, withTLS bool) (string, error) {
	scheme, rest, ok := strings.Cut(host, "://")
	if !ok || rest == "" {
		return "", configErrorf("engine address %q: want unix:///path, tcp://host:port or ssh://[user@]host[:port]", host)
	}
	switch scheme {
	case "unix", "npipe":
		return host, nil
	case "ssh":
		if _, err := parseSSHURL(host); err != nil {
			return "", configErrorf("engine address %q: %v", host, err)
		}
		return host, nil
	case "tcp":
		u, err := url.Parse("tcp://" + rest)
		if err != nil || u.Hostname() == "" {
			return "", configErrorf("engine address %q: no host name", host)
		}
		if u.Port() == "" {
			port := "2375"
			if withTLS {
				port = "2376"
			}
			u.Host = net.JoinHostPort(u.Hostname(), port)
		}
		return "tcp://" + u.Host + strings.TrimSuffix(u.Path, "/"), nil
	}
	return "", configErrorf("engine address %q: unsupported scheme %s:// (want unix, tcp or ssh)", host, scheme)
}

// usesTLS reports whether TLS settings apply to the address: sockets and
// ssh carry their own protection.
func usesTLS(host string) bool { return strings.HasPrefix(host, "tcp://") }

// connectEnv looks variables up in a given environment rather than the
// process's, so that tests and embedders control it.
type connectEnv map[string]string

func newConnectEnv(kv []string) connectEnv {
	if kv == nil {
		kv = os.Environ()
	}
	env := connectEnv{}
	for _, s := range kv {
		if k, v, ok := strings.Cut(s, "="); ok {
			env[k] = v
		}
	}
	return env
}

func (e connectEnv) get(k string) string { return e[k] }

// list returns the environment in os/exec's form.
func (e connectEnv) list() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}
