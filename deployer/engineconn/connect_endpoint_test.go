package engineconn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dockerConfig makes a docker config directory with the given contexts
// (name -> host) and, if current is set, config.json's currentContext.
func dockerConfig(t *testing.T, current string, contexts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, host := range contexts {
		meta := filepath.Join(dir, "contexts", "meta", contextID(name))
		if err := os.MkdirAll(meta, 0o700); err != nil {
			t.Fatal(err)
		}
		body := `{"Name":"` + name + `","Metadata":{},"Endpoints":{"docker":{"Host":"` + host + `","SkipTLSVerify":false}}}`
		if err := os.WriteFile(filepath.Join(meta, "meta.json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if current != "" {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{},"currentContext":"`+current+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEndpointPrecedence follows the docker CLI: --context, then -H, then
// DOCKER_HOST, then DOCKER_CONTEXT, then currentContext, then the socket.
func TestEndpointPrecedence(t *testing.T) {
	cfg := dockerConfig(t, "cur", map[string]string{
		"cur": "tcp://current.example:2375", "env": "ssh://deploy@env.example", "flag": "unix:///run/flag.sock",
	})
	base := []string{"DOCKER_CONFIG=" + cfg}
	for _, tc := range []struct {
		name    string
		opts    ConnectOptions
		env     []string
		host    string
		context string
	}{
		{"currentContext", ConnectOptions{}, nil, "tcp://current.example:2375", "cur"},
		{"DOCKER_CONTEXT over currentContext", ConnectOptions{}, []string{"DOCKER_CONTEXT=env"}, "ssh://deploy@env.example", "env"},
		{"DOCKER_HOST over DOCKER_CONTEXT", ConnectOptions{}, []string{"DOCKER_CONTEXT=env", "DOCKER_HOST=tcp://h.example"}, "tcp://h.example:2375", ""},
		{"-H over DOCKER_HOST", ConnectOptions{Host: "ssh://me@flag.example:2222"}, []string{"DOCKER_HOST=tcp://h.example"}, "ssh://me@flag.example:2222", ""},
		{"--context over everything", ConnectOptions{Context: "flag"}, []string{"DOCKER_CONTEXT=env", "DOCKER_HOST=tcp://h.example"}, "unix:///run/flag.sock", "flag"},
		{"--context default means the environment", ConnectOptions{Context: "default"}, []string{"DOCKER_HOST=tcp://h.example:1234"}, "tcp://h.example:1234", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep, err := resolveEndpoint(tc.opts, newConnectEnv(append(append([]string{}, base...), tc.env...)))
			if err != nil {
				t.Fatal(err)
			}
			if ep.Host != tc.host || ep.Context != tc.context {
				t.Errorf("got %s (context %q), want %s (context %q)", ep.Host, ep.Context, tc.host, tc.context)
			}
		})
	}
	ep, err := resolveEndpoint(ConnectOptions{}, newConnectEnv([]string{"DOCKER_CONFIG=" + t.TempDir()}))
	if err != nil || ep.Host != "unix:///var/run/docker.sock" {
		t.Errorf("nothing set: %v %v, want the local socket", ep, err)
	}
}

func TestEndpointErrors(t *testing.T) {
	cfg := dockerConfig(t, "", nil)
	for _, tc := range []struct {
		opts ConnectOptions
		env  []string
		want string
	}{
		{ConnectOptions{Host: "tcp://a:1", Context: "x"}, nil, "conflicting options: either specify --host or --context, not both"},
		{ConnectOptions{Context: "missing"}, nil, `docker context "missing" not found`},
		{ConnectOptions{Host: "ftp://h"}, nil, "unsupported scheme ftp://"},
		{ConnectOptions{Host: "h:2375"}, nil, "want unix:///path, tcp://host:port or ssh://[user@]host[:port]"},
		{ConnectOptions{Host: "ssh://u:secret@h"}, nil, "passwords in the address are not supported"},
		{ConnectOptions{Host: "ssh://-oProxyCommand=x"}, nil, `host name "-oProxyCommand=x" starts with "-"`},
		{ConnectOptions{Host: "ssh://-oProxyCommand=x@h"}, nil, `user name "-oProxyCommand=x" starts with "-"`},
		{ConnectOptions{Host: "tcp://h"}, []string{"DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + writeFile(t, "ca.pem", "not a certificate")}, "TLS certificates in"},
	} {
		_, err := resolveEndpoint(tc.opts, newConnectEnv(append([]string{"DOCKER_CONFIG=" + cfg}, tc.env...)))
		if _, ok := err.(*ConfigError); !ok || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v %v: got %v, want a ConfigError with %q", tc.opts, tc.env, err, tc.want)
		}
	}
}

// writeFile writes one file into a new directory and returns the directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEnvTLS(t *testing.T) {
	cfg := t.TempDir()
	env := func(kv ...string) connectEnv { return newConnectEnv(append([]string{"DOCKER_CONFIG=" + cfg}, kv...)) }
	for _, tc := range []struct {
		env        connectEnv
		host       string
		tls, skip  bool
		wantHostIs string
	}{
		{env(), "tcp://h", false, false, "tcp://h:2375"},
		{env("DOCKER_TLS_VERIFY=1"), "tcp://h", true, false, "tcp://h:2376"},
		// As with the docker CLI, any value turns verification on.
		{env("DOCKER_TLS_VERIFY=0"), "tcp://h", true, false, "tcp://h:2376"},
		{env("DOCKER_TLS=1"), "tcp://h:9999", true, true, "tcp://h:9999"},
		// Sockets and ssh ignore TLS settings.
		{env("DOCKER_TLS_VERIFY=1"), "unix:///var/run/docker.sock", false, false, "unix:///var/run/docker.sock"},
		{env("DOCKER_TLS_VERIFY=1"), "ssh://u@h", false, false, "ssh://u@h"},
	} {
		ep, err := resolveEndpoint(ConnectOptions{Host: tc.host}, tc.env)
		if err != nil {
			t.Fatalf("%s %v: %v", tc.host, tc.env, err)
		}
		if (ep.TLS != nil) != tc.tls || (ep.TLS != nil && ep.TLS.InsecureSkipVerify != tc.skip) || ep.Host != tc.wantHostIs {
			t.Errorf("%s %v: host %s, tls %v", tc.host, tc.env, ep.Host, ep.TLS != nil)
		}
	}
}

func TestContextTLSFiles(t *testing.T) {
	cfg := dockerConfig(t, "", map[string]string{"secure": "tcp://127.0.0.1:2376", "skip": "tcp://127.0.0.1:2376"})
	// A context whose files are not certificates fails, naming the context.
	bad := filepath.Join(cfg, "contexts", "tls", contextID("secure"), "docker")
	if err := os.MkdirAll(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "ca.pem"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := resolveEndpoint(ConnectOptions{Context: "secure"}, newConnectEnv([]string{"DOCKER_CONFIG=" + cfg}))
	if err == nil || !strings.Contains(err.Error(), `docker context "secure"`) {
		t.Errorf("bad ca.pem: %v", err)
	}
	// Without files a tcp context is plain.
	ep, err := resolveEndpoint(ConnectOptions{Context: "skip"}, newConnectEnv([]string{"DOCKER_CONFIG=" + cfg}))
	if err != nil || ep.TLS != nil {
		t.Errorf("context without TLS files: %v %v", ep.TLS, err)
	}
}
