package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fathat101/swdeploy/api"
)

// LoginLimits is the failed-login budget (see config.Login).
type LoginLimits struct {
	AccountFailures int
	AddressFailures int
	Window          time.Duration
	Delay           time.Duration
	MaxDelay        time.Duration
	// Now is the clock, time.Now when nil. Replicas pass their own times,
	// so their clocks should agree to well within Delay.
	Now func() time.Time
}

// LoginThrottle implements api.LoginThrottle. Keys, hashes of the failure
// count n and the time of the last counted attempt (Unix ms):
//
//	<prefix>account:<sha256 of the normalised email>
//	<prefix>address:<client address>
//
// Each key expires once its count is forgotten; an attacker's keys cost
// Redis memory for a window at most.
type LoginThrottle struct {
	rdb    goredis.UniversalClient
	prefix string
	limits LoginLimits
}

var _ api.LoginThrottle = (*LoginThrottle)(nil)

// NewLoginThrottle keeps login budgets under prefix (e.g. "starwars:login:").
func NewLoginThrottle(rdb goredis.UniversalClient, prefix string, l LoginLimits) *LoginThrottle {
	if l.Now == nil {
		l.Now = time.Now
	}
	return &LoginThrottle{rdb: rdb, prefix: prefix, limits: l}
}

func (t *LoginThrottle) keys(account, address string) []string {
	sum := sha256.Sum256([]byte(account))
	return []string{t.prefix + "account:" + hex.EncodeToString(sum[:]), t.prefix + "address:" + address}
}

// beginAttempt refuses the attempt when either key is within its delay,
// and otherwise counts it on both, in one step, so that concurrent
// attempts see each other. With n failures counted and n at or over the
// budget, the next attempt waits delay(n) = Delay * 2^(n-budget), at most
// MaxDelay, after the last one. A count is forgotten Window after that.
//
// KEYS: account, address. ARGV: now (ms), account budget, address budget,
// window, delay, max delay (ms). Returns the wait in ms, 0 when counted.
var beginAttempt = goredis.NewScript(`
local now, window, base, maxd = tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local function delay(n, budget)
  if n < budget then return 0 end
  return math.min(base * 2 ^ math.min(n - budget, 40), maxd)
end
local counts, wait = {}, 0
for i = 1, 2 do
  local budget = tonumber(ARGV[1 + i])
  local v = redis.call('HMGET', KEYS[i], 'n', 'last')
  local n, last = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  local d = delay(n, budget)
  if now - last >= window + d then
    n = 0
  elseif n >= budget and last + d > now then
    wait = math.max(wait, last + d - now)
  end
  counts[i] = n
end
if wait > 0 then return math.ceil(wait) end
for i = 1, 2 do
  local n = counts[i] + 1
  redis.call('HSET', KEYS[i], 'n', n, 'last', string.format('%d', now))
  redis.call('PEXPIRE', KEYS[i], string.format('%d', window + delay(n, tonumber(ARGV[1 + i]))))
end
return 0`)

// settleAttempt returns counted failures: KEYS[1] (the account) is reset
// when ARGV[1] is "reset", else given back like KEYS[2] (the address).
var settleAttempt = goredis.NewScript(`
for i, k in ipairs(KEYS) do
  if i == 1 and ARGV[1] == 'reset' then
    redis.call('DEL', k)
  else
    local n = tonumber(redis.call('HGET', k, 'n') or '0')
    if n > 0 then redis.call('HSET', k, 'n', n - 1) end
  end
end
return 0`)

// Begin implements api.LoginThrottle.
func (t *LoginThrottle) Begin(ctx context.Context, account, address string) (time.Duration, error) {
	l := t.limits
	ms, err := beginAttempt.Run(ctx, t.rdb, t.keys(account, address),
		l.Now().UnixMilli(), l.AccountFailures, l.AddressFailures,
		l.Window.Milliseconds(), l.Delay.Milliseconds(), l.MaxDelay.Milliseconds()).Int64()
	if err != nil {
		return 0, &api.Error{Code: api.CodeUnavailable, Message: "redis: count login attempt", Err: err}
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Settle implements api.LoginThrottle.
func (t *LoginThrottle) Settle(ctx context.Context, account, address string, outcome api.LoginOutcome) error {
	mode := "return"
	switch outcome {
	case api.LoginFailed:
		return nil
	case api.LoginSucceeded:
		mode = "reset"
	}
	if err := settleAttempt.Run(ctx, t.rdb, t.keys(account, address), mode).Err(); err != nil && err != goredis.Nil {
		return &api.Error{Code: api.CodeUnavailable, Message: "redis: settle login attempt", Err: err}
	}
	return nil
}
