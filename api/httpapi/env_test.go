package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/auth"
	"github.com/fathat101/swdeploy/api/httpapi"
	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/mysql"
	"github.com/fathat101/swdeploy/api/redis"
)

// cheapArgon2 keeps the many signups and logins fast; the production
// parameters are tested in package auth.
var cheapArgon2 = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

var testKeys = map[api.TokenType]auth.Key{
	api.TokenAccess:   {Secret: []byte("test-access-secret-0123456789"), Lifetime: 10 * time.Hour},
	api.TokenRefresh:  {Secret: []byte("test-refresh-secret-0123456789"), Lifetime: 24 * time.Hour},
	api.TokenEmail:    {Secret: []byte("test-email-secret-0123456789"), Lifetime: time.Hour},
	api.TokenPassword: {Secret: []byte("test-password-secret-0123456789"), Lifetime: time.Hour},
}

const (
	adminEmail    = "admin@starwars.local"
	adminPassword = "Admin-pass1"
)

// mailbox records verification links instead of sending them.
type mailbox struct {
	mu    sync.Mutex
	links map[string][]string
	fail  bool
}

func (m *mailbox) SendVerification(_ context.Context, email, link string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("smtp: connection refused")
	}
	m.links[email] = append(m.links[email], link)
	return nil
}

func (m *mailbox) last(t testing.TB, email string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.links[email]
	if len(l) == 0 {
		t.Fatalf("no verification link for %s", email)
	}
	return l[len(l)-1]
}

func (m *mailbox) setFail(v bool) {
	m.mu.Lock()
	m.fail = v
	m.mu.Unlock()
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a running server over real MariaDB and Redis, with a fake
// StarWars and a recording mailer.
type env struct {
	t        testing.TB
	srv      *httptest.Server
	store    *mysql.Store
	accounts *api.Accounts
	tokens   *auth.Tokens
	past     *auth.Tokens // same secrets, clock two days back: mints expired tokens
	mail     *mailbox
	logs     *syncBuffer
	sw       *fakeStarWars
	hasher   *auth.Argon2
	ready    map[string]error
	readyMu  sync.Mutex
	adminID  int64
	draining atomic.Bool
	// revocations is what Accounts revokes through; it can fail on demand.
	revocations *faultyRevocations
}

// envOptions change a test server; the zero value suits most tests.
type envOptions struct {
	sink io.Writer // the server log; nil keeps it for failed tests
	// login is the failed-login budget; zero means one no test reaches.
	login redis.LoginLimits
	// proxies are the trusted proxies (none by default).
	proxies []string
	// hashing is the hasher's concurrency and queue; zero means 4 and
	// 100, more than the concurrent tests send.
	hashing [2]int
}

func newEnv(t testing.TB) *env { return newEnvWith(t, envOptions{}) }

// newBenchEnv logs to nowhere: a benchmark's millions of lines would only
// measure a growing buffer.
func newBenchEnv(b *testing.B) *env { return newEnvWith(b, envOptions{sink: io.Discard}) }

func newEnvWith(t testing.TB, o envOptions) *env {
	t.Helper()
	sink := o.sink
	store, _ := testenv.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb, prefix := testenv.Redis(t)

	e := &env{t: t, store: store, mail: &mailbox{links: map[string][]string{}}, logs: &syncBuffer{},
		sw: newFakeStarWars(), ready: map[string]error{}}
	var err error
	e.tokens, err = auth.NewTokens(auth.TokensConfig{Issuer: "starwars-api", Keys: testKeys})
	if err != nil {
		t.Fatal(err)
	}
	e.past, _ = auth.NewTokens(auth.TokensConfig{Issuer: "starwars-api", Keys: testKeys,
		Now: func() time.Time { return time.Now().Add(-48 * time.Hour) }})
	revocations := redis.NewRevocations(rdb, prefix)
	if o.login.AccountFailures == 0 {
		o.login = redis.LoginLimits{AccountFailures: 1000, AddressFailures: 1000, Window: time.Minute, Delay: time.Second, MaxDelay: time.Minute}
	}
	throttle := redis.NewLoginThrottle(rdb, prefix+"login:", o.login)
	if o.hashing == [2]int{} {
		o.hashing = [2]int{4, 100}
	}
	e.hasher = auth.NewArgon2(cheapArgon2, o.hashing[0], o.hashing[1])
	proxies, err := httpapi.NewTrustedProxies(o.proxies, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As the server runs: checks answered from memory once Redis tracks them.
	trackCtx, stopTracking := context.WithCancel(context.Background())
	t.Cleanup(stopTracking)
	revocations.Track(trackCtx, redis.Options{Addr: testenv.RedisAddr(), DB: testenv.RedisDB})
	if sink == nil {
		sink = e.logs
	}
	logger := slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.revocations = &faultyRevocations{Revocations: revocations}
	e.accounts = api.NewAccounts(api.AccountsDeps{
		Store: store, Tokens: e.tokens, Revocations: e.revocations,
		Hasher: e.hasher, Mailer: e.mail, Logger: logger,
	})
	if err := e.accounts.EnsureAdmin(ctx, adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	admin, err := store.UserByEmail(ctx, adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	e.adminID = admin.ID

	reg := prometheus.NewRegistry()
	router, err := httpapi.NewRouter(httpapi.Deps{
		Accounts: e.accounts, StarWars: e.sw, Logger: logger,
		Throttle: throttle, Hashing: e.hasher, Proxies: proxies,
		Ready: []httpapi.Check{
			{Name: "mysql", Ping: e.readyCheck("mysql", store.Ping)},
			{Name: "redis", Ping: e.readyCheck("redis", revocations.Ping)},
		},
		Registerer: reg, Gatherer: reg,
		Draining: e.draining.Load,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(router)
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// readyCheck lets a test pretend a dependency is down.
func (e *env) readyCheck(name string, real func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		e.readyMu.Lock()
		err := e.ready[name]
		e.readyMu.Unlock()
		if err != nil {
			return err
		}
		return real(ctx)
	}
}

func (e *env) setDown(name string, err error) {
	e.readyMu.Lock()
	e.ready[name] = err
	e.readyMu.Unlock()
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) str(k string) string {
	s, _ := r.body[k].(string)
	return s
}

func (r response) num(k string) int64 {
	f, _ := r.body[k].(float64)
	return int64(f)
}

// req describes one request; zero fields take sensible defaults.
type req struct {
	method      string
	path        string
	body        string
	contentType string // "application/json" when body is set and this is empty; "-" for none
	token       string // sent as Bearer when set
	header      map[string]string
}

func (e *env) do(r req) response {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.body != "" {
		switch r.contentType {
		case "":
			hr.Header.Set("Content-Type", "application/json")
		case "-":
		default:
			hr.Header.Set("Content-Type", r.contentType)
		}
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	return e.send(hr)
}

func (e *env) send(hr *http.Request) response {
	e.t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s: invalid JSON %q: %v", hr.Method, hr.URL.Path, raw, err)
		}
	}
	return out
}

func jsonBody(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func creds(email, password string) string {
	return jsonBody(map[string]string{"email": email, "password": password})
}

// signup creates a user and, when verify is set, follows the mailed link.
func (e *env) signup(email, password string, verify bool) int64 {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/users/v1/signup", body: creds(email, password)})
	if r.status != 200 {
		e.t.Fatalf("signup %s: %d %s", email, r.status, r.raw)
	}
	if verify {
		e.verify(strings.ToLower(email))
	}
	u, err := e.store.UserByEmail(context.Background(), strings.ToLower(email))
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

func (e *env) verify(email string) {
	e.t.Helper()
	link := e.mail.last(e.t, email)
	if r := e.do(req{method: "GET", path: link}); r.status != 200 {
		e.t.Fatalf("verify %s: %d %s", email, r.status, r.raw)
	}
}

type session struct {
	access, refresh string
	userID          int64
}

func (e *env) login(email, password string) session {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/users/v1/login", body: creds(email, password)})
	if r.status != 200 {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.raw)
	}
	return session{access: r.str("token"), refresh: r.str("refresh_token"), userID: r.num("user_id")}
}

// user signs up, verifies and logs in a fresh basic user.
func (e *env) user(name string) session {
	e.t.Helper()
	email := name + "@rebels.org"
	e.signup(email, "Secret123", true)
	return e.login(email, "Secret123")
}

func (e *env) admin() session {
	e.t.Helper()
	return e.login(adminEmail, adminPassword)
}

func (e *env) rotate(s session, oldAccess string) response {
	e.t.Helper()
	return e.do(req{method: "GET", path: "/users/v1/generate_tokens?old_access_token=" + url.QueryEscape(oldAccess), token: s.refresh})
}

// expect checks status and error code ("" for a success).
func expect(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d (body %s)", what, r.status, status, r.raw)
		return
	}
	if code == "" {
		return
	}
	if r.str("status") != "error" || r.str("message") != code {
		t.Errorf("%s: body %s, want error %s", what, r.raw, code)
	}
}

// bareDeps are a router's dependencies for tests of routes that reach no
// account: empty accounts, yet a real throttle and hasher.
func bareDeps(t testing.TB) httpapi.Deps {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	reg := prometheus.NewRegistry()
	return httpapi.Deps{
		Accounts: api.NewAccounts(api.AccountsDeps{}), StarWars: newFakeStarWars(),
		Throttle: redis.NewLoginThrottle(rdb, prefix, redis.LoginLimits{AccountFailures: 5, AddressFailures: 20,
			Window: time.Minute, Delay: time.Second, MaxDelay: time.Minute}),
		Hashing:    auth.NewArgon2(cheapArgon2, 1, 0),
		Registerer: reg, Gatherer: reg,
	}
}
