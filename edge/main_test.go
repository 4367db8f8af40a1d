package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(env(nil))
	if err != nil || c != defaultConfig() {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = loadConfig(env(map[string]string{
		"EDGE_LISTEN": "127.0.0.1:8080", "EDGE_BACKEND": "api:80", "EDGE_REFRESH": "2s",
		"EDGE_HEALTH_PATH": "/livez", "EDGE_LOG_LEVEL": "debug", "EDGE_DIAL_TIMEOUT": "",
	}))
	if err != nil || c.Listen != "127.0.0.1:8080" || c.Backend != "api:80" || c.Refresh != 2*time.Second ||
		c.HealthPath != "/livez" || c.LogLevel.String() != "DEBUG" || c.DialTimeout != time.Second {
		t.Errorf("overrides: %+v, %v", c, err)
	}
	_, err = loadConfig(env(map[string]string{
		"EDGE_LISTEN": "5003", "EDGE_BACKEND": "starwars-api", "EDGE_REFRESH": "0s",
		"EDGE_HEALTH_TIMEOUT": "fast", "EDGE_HEALTH_PATH": "healthz", "EDGE_LOG_LEVEL": "loud",
	}))
	for _, name := range []string{"EDGE_LISTEN", "EDGE_BACKEND", "EDGE_REFRESH", "EDGE_HEALTH_TIMEOUT", "EDGE_HEALTH_PATH", "EDGE_LOG_LEVEL"} {
		if err == nil || !strings.Contains(err.Error(), name+":") {
			t.Errorf("no error names %s: %v", name, err)
		}
	}
	for listen, want := range map[string]string{
		":5003":          "http://127.0.0.1:5003/edge/healthz",
		"0.0.0.0:5003":   "http://127.0.0.1:5003/edge/healthz",
		"[::]:5003":      "http://127.0.0.1:5003/edge/healthz",
		"10.1.2.3:80":    "http://10.1.2.3:80/edge/healthz",
		"localhost:5003": "http://localhost:5003/edge/healthz",
	} {
		if got := (config{Listen: listen}).probeURL(); got != want {
			t.Errorf("probeURL(%s) = %s, want %s", listen, got, want)
		}
	}
}

// TestRunAndHealthcheck serves with run, probes it as the image's
// HEALTHCHECK does, and stops it while a request is in flight: the request
// is answered, then run returns.
func TestRunAndHealthcheck(t *testing.T) {
	addrs := backendAddrs(t, 1)
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	a := startAPI(t, &fakeAPI{name: "A", addr: addrs[0], handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "slow answer")
	})})
	dns := newFakeDNS(a.addr)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"EDGE_LISTEN": ln.Addr().String(), "EDGE_BACKEND": "starwars-api:" + portOf(a.addr), "EDGE_REFRESH": "10ms"}
	cfg, err := loadConfig(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- run(ctx, cfg, testLogger(t), ln, dns.resolve) }()

	probe := func() (int, string) {
		var stderr bytes.Buffer
		return cli([]string{"-healthcheck"}, env(vars), &stderr), stderr.String()
	}
	waitFor(t, "the edge healthy", func() bool { code, _ := probe(); return code == 0 })
	a.down.Store(true)
	waitFor(t, "the edge unhealthy", func() bool { code, _ := probe(); return code == 1 })
	if _, out := probe(); !strings.Contains(out, "503") {
		t.Errorf("healthcheck output %q", out)
	}
	a.down.Store(false)

	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			answer <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answer <- string(b)
	}()
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the request did not reach the backend")
	}
	cancel() // SIGTERM
	select {
	case err := <-stopped:
		t.Fatalf("run returned before the in-flight request finished: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if got := <-answer; got != "slow answer" {
		t.Errorf("in-flight request got %q", got)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the edge still accepts connections after stopping")
	}
}

func TestCLIUsage(t *testing.T) {
	var stderr bytes.Buffer
	if code := cli([]string{"serve"}, env(nil), &stderr); code != 2 {
		t.Errorf("extra argument: exit %d", code)
	}
	if code := cli([]string{"-nope"}, env(nil), &stderr); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code := cli(nil, env(map[string]string{"EDGE_REFRESH": "soon"}), &stderr); code != 2 {
		t.Errorf("bad config: exit %d", code)
	}
}
