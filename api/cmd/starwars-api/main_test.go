package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/fathat101/swdeploy/api/config"
	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/swapi/local"
)

// TestMain lets a test run this binary's main() in a child process: the
// real entry point, signals included.
func TestMain(m *testing.M) {
	if os.Getenv("STARWARS_TEST_RUN_MAIN") == "1" {
		os.Args = append(os.Args[:1], strings.Fields(os.Getenv("STARWARS_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

func lookupFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte(`{"status":"ok"}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	var stderr bytes.Buffer
	if code := cli([]string{"healthcheck"}, lookupFrom(map[string]string{"STARWARS_API_PORT": port}), &stderr); code != 0 {
		t.Errorf("healthy server: exit %d (%s)", code, stderr.String())
	}
	if code := cli([]string{"healthcheck"}, lookupFrom(map[string]string{"STARWARS_API_PORT": port, "STARWARS_API_HOST": "0.0.0.0"}), &stderr); code != 0 {
		t.Errorf("server on all addresses: exit %d", code)
	}
	srv.Close()
	stderr.Reset()
	if code := cli([]string{"healthcheck"}, lookupFrom(map[string]string{"STARWARS_API_PORT": port}), &stderr); code != 1 {
		t.Errorf("no server: exit %d", code)
	}
	if !strings.Contains(stderr.String(), "unhealthy") {
		t.Errorf("stderr %q", stderr.String())
	}
	if code := cli([]string{"bogus"}, lookupFrom(nil), io.Discard); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}

func TestMissingSecretStopsStartUp(t *testing.T) {
	env := baseEnv(t, "127.0.0.1:1", "x", "http://127.0.0.1:1/api/")
	delete(env, "STARWARS_JWT_REFRESH_SECRET")
	var stderr bytes.Buffer
	if code := cli(nil, lookupFrom(env), &stderr); code != 1 {
		t.Fatalf("exit %d", code)
	}
	out := strings.TrimSpace(stderr.String())
	if strings.Count(out, "\n") != 0 || !strings.Contains(out, "STARWARS_JWT_REFRESH_SECRET") {
		t.Errorf("want one line naming the secret, got %q", out)
	}
}

// baseEnv is a complete configuration for the test services.
func baseEnv(t *testing.T, mysqlAddr, database, swapiURL string) map[string]string {
	t.Helper()
	cfg, err := mysql.ParseDSN(testenv.MySQLServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	if mysqlAddr == "" {
		mysqlAddr = cfg.Addr
	}
	mh, mp, _ := net.SplitHostPort(mysqlAddr)
	rh, rp, _ := net.SplitHostPort(testenv.RedisAddr())
	return map[string]string{
		"STARWARS_API_HOST":            "127.0.0.1",
		"STARWARS_API_PORT":            strconv.Itoa(freePort(t)),
		"STARWARS_MYSQL_HOST":          mh,
		"STARWARS_MYSQL_PORT":          mp,
		"STARWARS_MYSQL_USER":          cfg.User,
		"STARWARS_MYSQL_PASSWORD":      cfg.Passwd,
		"STARWARS_MYSQL_DATABASE":      database,
		"STARWARS_REDIS_HOST":          rh,
		"STARWARS_REDIS_PORT":          rp,
		"STARWARS_REDIS_DB":            strconv.Itoa(testenv.RedisDB),
		"STARWARS_SWAPI_URL":           swapiURL,
		"STARWARS_JWT_ACCESS_SECRET":   "main-test-access-secret-0123",
		"STARWARS_JWT_REFRESH_SECRET":  "main-test-refresh-secret-0123",
		"STARWARS_JWT_EMAIL_SECRET":    "main-test-email-secret-0123",
		"STARWARS_JWT_PASSWORD_SECRET": "main-test-password-secret-0123",
		"STARWARS_ADMIN_EMAIL":         "admin@starwars.local",
		"STARWARS_ADMIN_PASSWORD":      "Admin-pass1",
		"STARWARS_SHUTDOWN_TIMEOUT":    "20s",
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// heldUpstream serves the built-in SWAPI data set on loopback, holding every
// answer until release is called: arrived is closed when the first request
// reaches it, so a test knows a request is in flight in the API.
func heldUpstream(t *testing.T) (url string, arrived <-chan struct{}, release func()) {
	t.Helper()
	ds, err := local.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	h := local.NewHandler(ds, local.Options{})
	in, held := make(chan struct{}), make(chan struct{})
	var inOnce, releaseOnce sync.Once
	release = func() { releaseOnce.Do(func() { close(held) }) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inOnce.Do(func() { close(in) })
		<-held
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(release) // runs first: Close waits for held requests
	return srv.URL + "/api/", in, release
}

// TestServerBinary runs main() in a child process against the test
// MariaDB and Redis: it migrates, creates the admin, serves, and on
// SIGTERM lets an in-flight request finish before exiting 0.
func TestServerBinary(t *testing.T) {
	dsn := testenv.MySQL(t)
	dbCfg, _ := mysql.ParseDSN(dsn)
	upstream, arrived, release := heldUpstream(t)
	env := baseEnv(t, "", dbCfg.DBName, upstream)
	_, prefix := testenv.Redis(t) // a key space of its own, so nothing is cached yet
	env["STARWARS_REDIS_PREFIX"] = prefix
	base := "http://127.0.0.1:" + env["STARWARS_API_PORT"]

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STARWARS_TEST_RUN_MAIN=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logs strings.Builder
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logsDone := make(chan struct{})
	shuttingDown := make(chan struct{})
	go func() {
		defer close(logsDone)
		var once sync.Once
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			logMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if strings.Contains(sc.Text(), `"msg":"shutting down`) {
				once.Do(func() { close(shuttingDown) })
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { <-logsDone; exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			logMu.Lock()
			t.Logf("server log:\n%s", logs.String())
			logMu.Unlock()
		}
	})

	// Ready within a while: migrations, admin, listener.
	waitReady(t, base)

	// The healthcheck subcommand, as a container runs it.
	hc := exec.Command(os.Args[0], "-test.run=^$")
	hc.Env = append(os.Environ(), "STARWARS_TEST_RUN_MAIN=1", "STARWARS_TEST_ARGS=healthcheck", "STARWARS_API_PORT="+env["STARWARS_API_PORT"])
	if out, err := hc.CombinedOutput(); err != nil {
		t.Errorf("healthcheck: %v %s", err, out)
	}

	token := login(t, base, "admin@starwars.local", "Admin-pass1")

	// A request in flight (held at the upstream) when SIGTERM arrives, and
	// still held once the server has begun shutting down.
	type result struct {
		status int
		body   string
		err    error
	}
	inFlight := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/films/v1/1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			inFlight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		inFlight <- result{status: resp.StatusCode, body: string(b)}
	}()
	select {
	case <-arrived:
	case r := <-inFlight:
		t.Fatalf("request answered without reaching the upstream: %d %s %v", r.status, r.body, r.err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-shuttingDown:
	case err := <-exited:
		t.Fatalf("server exited with a request in flight: %v", err)
	}
	release()

	r := <-inFlight
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, "A New Hope") {
		t.Errorf("in-flight request: %d %s %v", r.status, r.body, r.err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	for _, want := range []string{`"msg":"admin created"`, `"msg":"serving"`, `"msg":"shutting down`, `"msg":"stopped"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	for _, secret := range []string{"main-test-access-secret-0123", "Admin-pass1", env["STARWARS_MYSQL_PASSWORD"] + `"`} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains secret %q", secret)
		}
	}
	// New connections are refused after shutdown.
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after exit")
	}
}

func login(t *testing.T, base, email, password string) string {
	t.Helper()
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
	resp, err := http.Post(base+"/users/v1/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.Token == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return out.Token
}

// syncBuffer is a log sink for a server running in this process.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitReady polls /readyz until it answers 200, for at most 30 s.
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCacheRedisDown runs the server with a cache Redis of its own that
// does not answer: it starts, is ready (the cache is not a dependency of
// /readyz), serves from the upstream, counts the cache's failures, and
// writes no cache entry into the revocations' Redis.
func TestCacheRedisDown(t *testing.T) {
	dsn := testenv.MySQL(t)
	dbCfg, _ := mysql.ParseDSN(dsn)
	upstream, _, release := heldUpstream(t)
	release() // answers at once
	env := baseEnv(t, "", dbCfg.DBName, upstream)
	rdb, prefix := testenv.Redis(t)
	env["STARWARS_REDIS_PREFIX"] = prefix
	env["STARWARS_CACHE_REDIS_HOST"] = "127.0.0.1"
	env["STARWARS_CACHE_REDIS_PORT"] = "1" // nothing listens there
	cfg, err := config.Load(lookupFrom(env), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil)), ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	waitReady(t, base) // the cache Redis is not a dependency of /readyz
	token := login(t, base, "admin@starwars.local", "Admin-pass1")
	req, _ := http.NewRequest("GET", base+"/films/v1/1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "A New Hope") {
		t.Fatalf("film 1 with the cache Redis down: %d %s", resp.StatusCode, body)
	}

	if keys := rdb.Keys(t.Context(), prefix+"swapi:*").Val(); len(keys) != 0 {
		t.Errorf("cache entries in the revocations' Redis: %v", keys)
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^starwars_upstream_cache_errors_total [1-9]`).Match(metrics) {
		t.Error("/metrics counts no cache errors")
	}
	if !strings.Contains(logs.String(), "the cache Redis does not answer") {
		t.Error("no warning about the cache Redis in the log")
	}
}
