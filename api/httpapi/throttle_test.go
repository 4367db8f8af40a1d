package httpapi_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/httpapi"
	"github.com/fathat101/swdeploy/api/redis"
)

// testClock is the throttle's clock in these tests.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func limits(account, address int, c *testClock) redis.LoginLimits {
	return redis.LoginLimits{AccountFailures: account, AddressFailures: address,
		Window: 15 * time.Minute, Delay: time.Second, MaxDelay: time.Minute, Now: c.Now}
}

func (e *env) loginAs(email, password string, header map[string]string) response {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/users/v1/login", body: creds(email, password), header: header})
}

// expectThrottled checks a 429 with the contract's body and a Retry-After
// of want whole seconds.
func expectThrottled(t *testing.T, what string, r response, want int) {
	t.Helper()
	expect(t, what, r, 429, api.CodeTooManyRequests)
	if string(r.raw) != `{"status":"error","message":"too-many-requests"}` {
		t.Errorf("%s: body %s", what, r.raw)
	}
	if got, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || got != want {
		t.Errorf("%s: Retry-After %q, want %d", what, r.header.Get("Retry-After"), want)
	}
}

// TestLoginAccountBudget: past an account's budget of failures, logins to
// it answer 429 with Retry-After, even with the right password and without
// running a password hash; the wait doubles per failure; other accounts
// log in; a success resets the budget.
func TestLoginAccountBudget(t *testing.T) {
	c := newTestClock()
	e := newEnvWith(t, envOptions{login: limits(3, 100, c)})
	e.signup("vader@empire.org", "Secret123", true)
	e.signup("tarkin@empire.org", "Secret123", true)

	// Spellings of one address share one budget.
	for _, email := range []string{"vader@empire.org", "Vader@Empire.org", "VADER@EMPIRE.ORG"} {
		expect(t, "wrong password within the budget", e.loginAs(email, "Wrong1234", nil), 404, api.CodeNotFound)
	}
	// No hashing place is free: a refused attempt must not need one.
	var releases []func()
	for {
		release, err := e.hasher.Admit()
		if err != nil {
			break
		}
		releases = append(releases, release)
	}
	expectThrottled(t, "right password beyond the budget", e.loginAs("vader@empire.org", "Secret123", nil), 1)
	expectThrottled(t, "other spelling beyond the budget", e.loginAs("Vader@empire.ORG", "Wrong1234", nil), 1)
	for _, release := range releases {
		release()
	}
	e.login("tarkin@empire.org", "Secret123") // another account is unaffected

	c.Add(time.Second)
	expect(t, "after the wait", e.loginAs("vader@empire.org", "Wrong1234", nil), 404, api.CodeNotFound)
	expectThrottled(t, "next failure waits longer", e.loginAs("vader@empire.org", "Secret123", nil), 2)
	c.Add(2 * time.Second)
	e.login("vader@empire.org", "Secret123")
	for range 3 {
		expect(t, "budget restored by the success", e.loginAs("vader@empire.org", "Wrong1234", nil), 404, api.CodeNotFound)
	}
	expectThrottled(t, "spent again", e.loginAs("vader@empire.org", "Secret123", nil), 1)
}

// TestLoginAddressBudget: failures from one client address across many
// accounts are budgeted too; a client's X-Forwarded-For counts only when
// its peer is a trusted proxy.
func TestLoginAddressBudget(t *testing.T) {
	t.Run("untrusted peer", func(t *testing.T) {
		e := newEnvWith(t, envOptions{login: limits(100, 3, newTestClock())})
		e.signup("luke@rebels.org", "Secret123", true)
		for i := range 3 {
			xff := map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i+1)}
			expect(t, "spray within the budget", e.loginAs("u"+strconv.Itoa(i)+"@rebels.org", "Wrong1234", xff), 404, api.CodeNotFound)
		}
		// The peer's budget is spent whatever address the client claims.
		expectThrottled(t, "new account, spent address", e.loginAs("luke@rebels.org", "Secret123",
			map[string]string{"X-Forwarded-For": "198.51.100.7"}), 1)
		expectThrottled(t, "no header", e.loginAs("luke@rebels.org", "Secret123", nil), 1)
	})
	for name, proxies := range map[string][]string{"trusted by name": {"localhost"}, "trusted by CIDR": {"127.0.0.0/8", "::1"}} {
		t.Run(name, func(t *testing.T) {
			e := newEnvWith(t, envOptions{login: limits(100, 3, newTestClock()), proxies: proxies})
			e.signup("luke@rebels.org", "Secret123", true)
			spent := map[string]string{"X-Forwarded-For": "203.0.113.1"}
			for i := range 3 {
				expect(t, "spray within the budget", e.loginAs("u"+strconv.Itoa(i)+"@rebels.org", "Wrong1234", spent), 404, api.CodeNotFound)
			}
			expectThrottled(t, "the spent client", e.loginAs("luke@rebels.org", "Secret123", spent), 1)
			// A client cannot pick its address by prepending one: the proxy's
			// entry, the last, counts.
			expectThrottled(t, "spoof prepended", e.loginAs("luke@rebels.org", "Secret123",
				map[string]string{"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}), 1)
			if r := e.loginAs("luke@rebels.org", "Secret123", map[string]string{"X-Forwarded-For": "203.0.113.2"}); r.status != 200 {
				t.Errorf("another client: %d %s", r.status, r.raw)
			}
			if r := e.loginAs("luke@rebels.org", "Secret123", nil); r.status != 200 {
				t.Errorf("the proxy itself: %d %s", r.status, r.raw)
			}
		})
	}
}

// TestHashingQueueFull: with every hashing place taken, login and signup
// answer 503 at once instead of waiting; a 503 login costs no budget.
func TestHashingQueueFull(t *testing.T) {
	e := newEnvWith(t, envOptions{login: limits(1, 100, newTestClock()), hashing: [2]int{1, 1}})
	e.signup("leia@rebels.org", "Secret123", true)
	var releases []func()
	for range 2 { // the slot and the queue's one place
		release, err := e.hasher.Admit()
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	for range 3 {
		expect(t, "login, queue full", e.loginAs("leia@rebels.org", "Wrong1234", nil), 503, api.CodeUnavailable)
	}
	expect(t, "signup, queue full", e.do(req{method: "POST", path: "/users/v1/signup", body: creds("han@rebels.org", "Secret123")}), 503, api.CodeUnavailable)
	releases[0]()
	expect(t, "login with a place free", e.loginAs("leia@rebels.org", "Wrong1234", nil), 404, api.CodeNotFound)
	e.signup("han@rebels.org", "Secret123", false)
	releases[1]()
}

// TestOpenAPIDocumentsThrottling: the published document lists the 429
// (with Retry-After) and 503 answers of login and the 503 of signup.
func TestOpenAPIDocumentsThrottling(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	type operation struct {
		Responses map[string]struct {
			Headers map[string]any `yaml:"headers"`
		} `yaml:"responses"`
	}
	var login, signup operation
	loginNode, signupNode := doc.Paths["/users/v1/login"]["post"], doc.Paths["/users/v1/signup"]["post"]
	if err := loginNode.Decode(&login); err != nil {
		t.Fatal(err)
	}
	if err := signupNode.Decode(&signup); err != nil {
		t.Fatal(err)
	}
	if _, ok := login.Responses["429"].Headers["Retry-After"]; !ok {
		t.Error("login: 429 with Retry-After not documented")
	}
	if _, ok := login.Responses["503"]; !ok {
		t.Error("login: 503 not documented")
	}
	if _, ok := signup.Responses["503"]; !ok {
		t.Error("signup: 503 not documented")
	}
}
