package api_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/auth"
	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/mysql"
	"github.com/fathat101/swdeploy/api/redis"
)

// rig is one MariaDB database and one Redis key space that several
// Accounts, configured differently (as old and new instances during a
// rollout), share.
type rig struct {
	store  *mysql.Store
	rdb    *goredis.Client
	prefix string
	hasher *auth.Argon2
}

func newRig(t *testing.T) rig {
	t.Helper()
	store, _ := testenv.Store(t)
	rdb, prefix := testenv.Redis(t)
	return rig{store: store, rdb: rdb, prefix: prefix,
		hasher: auth.NewArgon2(auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, 0)}
}

// lifetimes gives every token type the same secret as every other rig
// instance and the given lifetimes.
func lifetimes(access, refresh, other time.Duration) map[api.TokenType]auth.Key {
	return map[api.TokenType]auth.Key{
		api.TokenAccess:   {Secret: []byte("rig-access-secret-0123456789"), Lifetime: access},
		api.TokenRefresh:  {Secret: []byte("rig-refresh-secret-0123456789"), Lifetime: refresh},
		api.TokenEmail:    {Secret: []byte("rig-email-secret-0123456789"), Lifetime: other},
		api.TokenPassword: {Secret: []byte("rig-password-secret-0123456789"), Lifetime: other},
	}
}

type instance struct {
	keys   map[api.TokenType]auth.Key
	maxAge time.Duration    // the session max age, default when zero
	now    func() time.Time // time.Now when nil
}

func (r rig) accounts(t *testing.T, in instance) *api.Accounts {
	t.Helper()
	tokens, err := auth.NewTokens(auth.TokensConfig{Issuer: "starwars-api", Keys: in.keys, Now: in.now})
	if err != nil {
		t.Fatal(err)
	}
	return api.NewAccounts(api.AccountsDeps{
		Store: r.store, Tokens: tokens, Revocations: redis.NewRevocations(r.rdb, r.prefix),
		Hasher: r.hasher, Mailer: nopMailer{}, SessionMaxAge: in.maxAge, Now: in.now,
	})
}

// user stores a verified basic user with password Secret123.
func (r rig) user(t *testing.T, email string) api.User {
	t.Helper()
	hash, err := r.hasher.Hash(context.Background(), "Secret123")
	if err != nil {
		t.Fatal(err)
	}
	u, err := r.store.CreateUser(context.Background(), api.User{Email: email, PasswordHash: hash, Role: api.RoleBasic, EmailVerified: true, Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// forget deletes the keys that Redis would have expired within d: it
// stands for d passing, without the wait.
func (r rig) forget(t *testing.T, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	iter := r.rdb.Scan(ctx, 0, r.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if ttl := r.rdb.PTTL(ctx, iter.Val()).Val(); ttl >= 0 && ttl <= d {
			r.rdb.Del(ctx, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}

type nopMailer struct{}

func (nopMailer) SendVerification(context.Context, string, string) error { return nil }

// TestRevocationsOutliveAShortenedLifetime: tokens issued under long
// lifetimes, revoked by an instance configured with short ones, stay
// revoked for as long as they themselves live.
func TestRevocationsOutliveAShortenedLifetime(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	long := r.accounts(t, instance{keys: lifetimes(10*time.Hour, 24*time.Hour, time.Hour)})
	short := r.accounts(t, instance{keys: lifetimes(time.Hour, time.Hour, time.Hour), maxAge: time.Hour})
	admin := api.User{ID: 1 << 40, Role: api.RoleAdmin}

	// Logout on the short instance.
	r.user(t, "leaving@rebels.org")
	s, err := long.Login(ctx, "leaving@rebels.org", "Secret123")
	if err != nil {
		t.Fatal(err)
	}
	c, err := short.Authenticate(ctx, s.Access)
	if err != nil {
		t.Fatal(err)
	}
	if err := short.Logout(ctx, c); err != nil {
		t.Fatal(err)
	}
	// Disabling (all of a user's tokens) on the short instance; the user is
	// then enabled behind the API's back, so that only the revocation counts.
	u := r.user(t, "disabled@rebels.org")
	d, err := long.Login(ctx, "disabled@rebels.org", "Secret123")
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	if _, err := short.UpdateUser(ctx, admin, u.ID, api.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.UpdateUser(ctx, u.ID, api.UserUpdate{Disabled: &no}); err != nil {
		t.Fatal(err)
	}

	// Two hours on, the short lifetime is over; the tokens are not.
	r.forget(t, 2*time.Hour)
	if _, err := long.Rotate(ctx, s.Refresh, s.Access); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("logged-out refresh token after the short lifetime: %v", err)
	}
	if _, err := long.Authenticate(ctx, d.Access); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("disabled user's access token after the short lifetime: %v", err)
	}
}

// clock is a settable offset from the real time (Redis TTLs run on the
// real one, so tests only move it forward).
type clock struct{ offset time.Duration }

func (c *clock) now() time.Time { return time.Now().Add(c.offset) }

func TestSessionMaxAge(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	keys := lifetimes(10*time.Hour, 24*time.Hour, time.Hour)
	clk := &clock{}
	a := r.accounts(t, instance{keys: keys, maxAge: time.Hour, now: clk.now})
	r.user(t, "luke@rebels.org")

	s, err := a.Login(ctx, "luke@rebels.org", "Secret123")
	if err != nil {
		t.Fatal(err)
	}
	clk.offset = 30 * time.Minute
	next, err := a.Rotate(ctx, s.Refresh, s.Access)
	if err != nil {
		t.Fatalf("rotation within the max age: %v", err)
	}
	// An hour after login the session is over, rotated or not.
	clk.offset = 61 * time.Minute
	if _, err := a.Rotate(ctx, next.Refresh, next.Access); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("rotation past the max age: %v", err)
	}
	if _, err := a.Authenticate(ctx, next.Access); err == nil {
		t.Error("access token accepted past the session's max age")
	}
}

// TestSessionMaxAgeCountsFromLogin: rotations carry the login time, so an
// instance configured with a shorter max age ends sessions by their login
// time, not by their last rotation.
func TestSessionMaxAgeCountsFromLogin(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	keys := lifetimes(10*time.Hour, 24*time.Hour, time.Hour)
	clk := &clock{}
	week := r.accounts(t, instance{keys: keys, now: clk.now})
	short := r.accounts(t, instance{keys: keys, maxAge: 90 * time.Minute, now: clk.now})
	r.user(t, "leia@rebels.org")

	s, err := week.Login(ctx, "leia@rebels.org", "Secret123")
	if err != nil {
		t.Fatal(err)
	}
	control, err := week.Login(ctx, "leia@rebels.org", "Secret123")
	if err != nil {
		t.Fatal(err)
	}
	clk.offset = time.Hour
	next, err := week.Rotate(ctx, s.Refresh, s.Access)
	if err != nil {
		t.Fatal(err)
	}
	clk.offset = 2 * time.Hour
	if _, err := short.Rotate(ctx, next.Refresh, next.Access); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("rotation 2h after login with a 90m max age: %v", err)
	}
	if _, err := short.Authenticate(ctx, next.Access); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("access token 2h after login with a 90m max age: %v", err)
	}
	// The week-long instance still rotates (the refusal above was not reuse).
	if _, err := week.Rotate(ctx, control.Refresh, control.Access); err != nil {
		t.Errorf("rotation within the max age: %v", err)
	}
}
