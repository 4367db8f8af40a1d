package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fathat101/swdeploy/api"
)

// Revocations implements api.Revocations. Keys:
//
//	<prefix>jti:<jti>       a revoked token, expiring with the token
//	<prefix>user:<user_id>  the user's cut-off in Unix nanoseconds: tokens
//	                        issued at or before it are revoked
type Revocations struct {
	rdb    goredis.UniversalClient
	prefix string
	// cutoffTTL is the longest token lifetime: after it, every token a
	// cut-off could concern has expired anyway.
	cutoffTTL time.Duration
	now       func() time.Time
}

var _ api.Revocations = (*Revocations)(nil)

// NewRevocations keeps revocations under prefix (e.g. "starwars:revoked:").
// longestLifetime is the longest lifetime of any token type.
func NewRevocations(rdb goredis.UniversalClient, prefix string, longestLifetime time.Duration) *Revocations {
	return &Revocations{rdb: rdb, prefix: prefix, cutoffTTL: longestLifetime, now: time.Now}
}

func (r *Revocations) jtiKey(id string) string { return r.prefix + "jti:" + id }

func (r *Revocations) userKey(id int64) string {
	return r.prefix + "user:" + strconv.FormatInt(id, 10)
}

// Revoke marks id revoked until exp and reports, atomically (SET NX),
// whether it already was. A token past exp needs no entry.
func (r *Revocations) Revoke(ctx context.Context, id string, exp time.Time) (bool, error) {
	ttl := exp.Sub(r.now())
	if ttl <= 0 {
		return false, nil
	}
	set, err := r.rdb.SetNX(ctx, r.jtiKey(id), "1", ttl.Round(time.Millisecond)+time.Millisecond).Result()
	if err != nil {
		return false, unavailable("revoke token", err)
	}
	return !set, nil
}

// raiseCutoff moves a user's cut-off forward only, so that two concurrent
// revocations cannot move it back.
var raiseCutoff = goredis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 0`)

// RevokeUser revokes every token of userID issued at or before at.
func (r *Revocations) RevokeUser(ctx context.Context, userID int64, at time.Time) error {
	err := raiseCutoff.Run(ctx, r.rdb, []string{r.userKey(userID)},
		strconv.FormatInt(at.UnixNano(), 10), r.cutoffTTL.Milliseconds()).Err()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return unavailable("revoke user tokens", err)
	}
	return nil
}

// Revoked reports whether c is revoked by id or by its user's cut-off, in
// one round trip.
func (r *Revocations) Revoked(ctx context.Context, c api.Claims) (bool, error) {
	vals, err := r.rdb.MGet(ctx, r.jtiKey(c.ID), r.userKey(c.UserID)).Result()
	if err != nil {
		return false, unavailable("check revocation", err)
	}
	if vals[0] != nil {
		return true, nil
	}
	if s, ok := vals[1].(string); ok {
		cutoff, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return false, fmt.Errorf("malformed cut-off for user %d", c.UserID)
		}
		return c.IssuedAt.UnixNano() <= cutoff, nil
	}
	return false, nil
}

// Ping reports whether Redis answers, for readiness.
func (r *Revocations) Ping(ctx context.Context) error {
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

func unavailable(op string, err error) error {
	return &api.Error{Code: api.CodeUnavailable, Message: "redis " + op, Err: err}
}
