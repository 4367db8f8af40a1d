package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api/httpapi"
)

// TestSwaggerUIInBrowser loads /ui/ in headless Chromium from a server on
// loopback and checks that the API's operations are rendered. Every host
// name but the server's loopback address is made unresolvable, so the page
// passes only if it needs nothing from outside.
func TestSwaggerUIInBrowser(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Fatal("no chromium found: install the chromium package (apt-get install chromium)")
	}

	router, err := httpapi.NewRouter(bareDeps(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close below
	t.Cleanup(func() { srv.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
		"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
		"--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=15000",
		"--dump-dom", "http://"+ln.Addr().String()+"/ui/")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("chromium: %v\n%s", err, stderr)
	}
	dom := string(out)
	for _, want := range []string{
		"Star Wars API",
		"/users/v1/signup", "/users/v1/login", "/users/v1/logout", "/users/v1/generate_tokens",
		"/users/v1/email_verification", "/users/v1/{user_id}",
		"/character/v1/{character_id}", "/characters/v1/", "/films/v1/{film_id}", "/films/v1/",
		"/healthz", "/readyz", "/metrics",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if t.Failed() {
		if len(dom) > 4000 {
			dom = dom[:4000]
		}
		t.Logf("DOM:\n%s", dom)
	}
}
