package redis_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/redis"
)

// clock is a settable time for the throttle's arithmetic; Redis keeps
// its own time only for expiring keys.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newThrottle(t *testing.T, accountFailures, addressFailures int) (*redis.LoginThrottle, *clock) {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	c := &clock{now: time.Now()}
	return redis.NewLoginThrottle(rdb, prefix, redis.LoginLimits{
		AccountFailures: accountFailures, AddressFailures: addressFailures,
		Window: 15 * time.Minute, Delay: time.Second, MaxDelay: 10 * time.Second, Now: c.Now,
	}), c
}

// fail makes one failed attempt and returns the wait Begin asked for
// (0 when the attempt was counted).
func fail(t *testing.T, th *redis.LoginThrottle, account, address string) time.Duration {
	t.Helper()
	ctx := context.Background()
	wait, err := th.Begin(ctx, account, address)
	if err != nil {
		t.Fatal(err)
	}
	if wait == 0 {
		if err := th.Settle(ctx, account, address, api.LoginFailed); err != nil {
			t.Fatal(err)
		}
	}
	return wait
}

// TestLoginBudgetThenGrowingDelays: the budget's failures pass, then each
// further attempt waits Delay doubled per failure, capped at MaxDelay, and
// only once the wait is over; never a lock-out for good.
func TestLoginBudgetThenGrowingDelays(t *testing.T) {
	th, c := newThrottle(t, 3, 100)
	for i := range 3 {
		if w := fail(t, th, "luke@rebels.org", "10.0.0.1"); w != 0 {
			t.Fatalf("failure %d within the budget: wait %v", i+1, w)
		}
	}
	for _, want := range []time.Duration{1, 2, 4, 8, 10, 10, 10} {
		want *= time.Second
		if w := fail(t, th, "luke@rebels.org", "10.0.0.1"); w != want {
			t.Fatalf("beyond the budget: wait %v, want %v", w, want)
		}
		c.Add(want / 2)
		if w := fail(t, th, "luke@rebels.org", "10.0.0.1"); w != want/2 {
			t.Fatalf("half-way through the wait: wait %v, want %v", w, want/2)
		}
		c.Add(want / 2)
		if w := fail(t, th, "luke@rebels.org", "10.0.0.1"); w != 0 {
			t.Fatalf("after the wait of %v: still refused for %v", want, w)
		}
	}
	// A window after the last failure (and its delay), the count is gone.
	c.Add(15*time.Minute + 10*time.Second)
	for i := range 3 {
		if w := fail(t, th, "luke@rebels.org", "10.0.0.1"); w != 0 {
			t.Fatalf("failure %d after the window: wait %v", i+1, w)
		}
	}
}

// TestLoginSuccessResetsAccountOnly: a successful login resets its
// account's count and gives back the address's failure; a void attempt
// gives back both.
func TestLoginSuccessResetsAccountOnly(t *testing.T) {
	th, _ := newThrottle(t, 2, 3)
	ctx := context.Background()
	fail(t, th, "leia@rebels.org", "10.0.0.2")
	fail(t, th, "leia@rebels.org", "10.0.0.2")
	if w := fail(t, th, "leia@rebels.org", "10.0.0.2"); w == 0 {
		t.Fatal("third failure within a budget of two")
	}
	// The right password, from elsewhere, after the wait: both budgets
	// of that attempt come back.
	if w, err := th.Begin(ctx, "han@rebels.org", "10.0.0.2"); err != nil || w != 0 {
		t.Fatalf("other account, same address: wait %v, %v", w, err)
	}
	if err := th.Settle(ctx, "han@rebels.org", "10.0.0.2", api.LoginSucceeded); err != nil {
		t.Fatal(err)
	}
	for range 5 { // void attempts cost nothing
		if w, err := th.Begin(ctx, "han@rebels.org", "10.0.0.2"); err != nil || w != 0 {
			t.Fatalf("void attempt: wait %v, %v", w, err)
		}
		if err := th.Settle(ctx, "han@rebels.org", "10.0.0.2", api.LoginVoid); err != nil {
			t.Fatal(err)
		}
	}
	// The address has 2 failures of its 3: one more, then it waits.
	if w := fail(t, th, "han@rebels.org", "10.0.0.2"); w != 0 {
		t.Fatalf("address's third failure: wait %v", w)
	}
	if w := fail(t, th, "han@rebels.org", "10.0.0.3"); w != 0 {
		t.Fatalf("han from another address: wait %v", w)
	}
	if w := fail(t, th, "chewie@rebels.org", "10.0.0.2"); w != time.Second {
		t.Fatalf("a new account from a spent address: wait %v, want 1s", w)
	}

	// Leia's account still waits, whatever the address.
	if w, err := th.Begin(ctx, "leia@rebels.org", "10.0.0.9"); err != nil || w == 0 {
		t.Fatalf("leia is still within her delay: wait %v, %v", w, err)
	}
}

// TestLoginSuccessRestoresBudget: after a success the account has its
// whole budget again.
func TestLoginSuccessRestoresBudget(t *testing.T) {
	th, c := newThrottle(t, 2, 100)
	ctx := context.Background()
	fail(t, th, "leia@rebels.org", "10.0.0.2")
	fail(t, th, "leia@rebels.org", "10.0.0.2")
	c.Add(time.Second)
	if w, err := th.Begin(ctx, "leia@rebels.org", "10.0.0.2"); err != nil || w != 0 {
		t.Fatalf("after the wait: %v, %v", w, err)
	}
	if err := th.Settle(ctx, "leia@rebels.org", "10.0.0.2", api.LoginSucceeded); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if w := fail(t, th, "leia@rebels.org", "10.0.0.2"); w != 0 {
			t.Fatalf("failure %d after a success: wait %v", i+1, w)
		}
	}
}

// TestLoginBudgetUnderConcurrency: of many attempts at once, exactly the
// budget's are counted; the rest wait and never reach a password check.
func TestLoginBudgetUnderConcurrency(t *testing.T) {
	th, _ := newThrottle(t, 5, 1000)
	var counted, refused atomic.Int64
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			w, err := th.Begin(context.Background(), "luke@rebels.org", "10.0.0.4")
			switch {
			case err != nil:
				t.Error(err)
			case w == 0:
				counted.Add(1)
			default:
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if counted.Load() != 5 || refused.Load() != 55 {
		t.Errorf("counted %d, refused %d; want 5 and 55", counted.Load(), refused.Load())
	}
}

// TestLoginKeysExpireAndHideEmails: keys carry a TTL and no address of a
// user in clear.
func TestLoginKeysExpireAndHideEmails(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	th := redis.NewLoginThrottle(rdb, prefix, redis.LoginLimits{AccountFailures: 5, AddressFailures: 20,
		Window: time.Minute, Delay: time.Second, MaxDelay: time.Minute})
	fail(t, th, "Luke@Rebels.org", "10.0.0.5")
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for _, k := range keys {
		if strings.Contains(strings.ToLower(k), "luke") {
			t.Errorf("key %q names the account", k)
		}
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("key %q TTL %v", k, ttl)
		}
	}
}
