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

// Revocations implements api.Revocations. Keys, each expiring when what it
// revokes would have expired anyway, as the tokens' own claims say:
//
//	<prefix>jti:<jti>       a revoked token, until the token's exp
//	<prefix>fam:<family>    a revoked session, until its sess_exp
//	<prefix>user:<user_id>  the user's cut-off in Unix nanoseconds: tokens
//	                        issued at or before it are revoked; kept
//	                        api.MaxTokenAge past the cut-off, which no
//	                        token outlives
type Revocations struct {
	rdb    goredis.UniversalClient
	prefix string
	now    func() time.Time
	mem    *tracker // nil: every check asks Redis
}

var _ api.Revocations = (*Revocations)(nil)

// NewRevocations keeps revocations under prefix (e.g. "starwars:revoked:").
func NewRevocations(rdb goredis.UniversalClient, prefix string) *Revocations {
	return &Revocations{rdb: rdb, prefix: prefix, now: time.Now}
}

func (r *Revocations) jtiKey(id string) string { return r.prefix + "jti:" + id }

func (r *Revocations) familyKey(family string) string { return r.prefix + "fam:" + family }

func (r *Revocations) userKey(id int64) string {
	return r.prefix + "user:" + strconv.FormatInt(id, 10)
}

// ttl is how long a key must live to last until t, rounded up to Redis's
// millisecond; not positive when t is past.
func (r *Revocations) ttl(t time.Time) time.Duration {
	d := t.Sub(r.now())
	if d <= 0 {
		return d
	}
	return d.Round(time.Millisecond) + time.Millisecond
}

// Revoke marks id revoked until exp and reports, atomically (SET NX),
// whether it already was. A token past exp needs no entry.
func (r *Revocations) Revoke(ctx context.Context, id string, exp time.Time) (bool, error) {
	ttl := r.ttl(exp)
	if ttl <= 0 {
		return false, nil
	}
	set, err := r.rdb.SetNX(ctx, r.jtiKey(id), "1", ttl).Result()
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

// RevokeUser revokes every token of userID issued at or before at. The
// tokens are not at hand, but none lives longer than api.MaxTokenAge.
func (r *Revocations) RevokeUser(ctx context.Context, userID int64, at time.Time) error {
	ttl := r.ttl(at.Add(api.MaxTokenAge))
	if ttl <= 0 {
		return nil
	}
	err := raiseCutoff.Run(ctx, r.rdb, []string{r.userKey(userID)},
		strconv.FormatInt(at.UnixNano(), 10), ttl.Milliseconds()).Err()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return unavailable("revoke user tokens", err)
	}
	return nil
}

// RevokeFamily revokes every token of a session until end, its sess_exp,
// after which none of them is valid anyway.
func (r *Revocations) RevokeFamily(ctx context.Context, family string, end time.Time) error {
	ttl := r.ttl(end)
	if ttl <= 0 {
		return nil
	}
	if err := r.rdb.Set(ctx, r.familyKey(family), "1", ttl).Err(); err != nil {
		return unavailable("revoke session", err)
	}
	return nil
}

// Track keeps the entries that Revoked reads in memory, as long as Redis
// can tell this instance when any of them changes (see tracker), until ctx
// ends. o is the Redis server of rdb. Call it before the first Revoked.
func (r *Revocations) Track(ctx context.Context, o Options) {
	r.mem = newTracker(o, r.prefix)
	go r.mem.run(ctx, trackPing)
}

// Revoked reports whether c is revoked by id, by its user's cut-off or by
// its session family: from memory when tracked, else in one round trip.
func (r *Revocations) Revoked(ctx context.Context, c api.Claims) (bool, error) {
	var buf [3]string
	keys := append(buf[:0], r.jtiKey(c.ID), r.userKey(c.UserID))
	if c.Family != "" {
		keys = append(keys, r.familyKey(c.Family))
	}
	var seq uint64
	if r.mem != nil {
		var vals [3]any
		var hit bool
		if seq, hit = r.mem.lookup(keys, vals[:len(keys)]); hit {
			return r.decide(c, vals[:len(keys)])
		}
	}
	vals, err := r.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return false, unavailable("check revocation", err)
	}
	if r.mem != nil {
		r.mem.store(seq, keys, vals)
	}
	return r.decide(c, vals)
}

// decide answers Revoked from the values of its keys, as MGET gives them.
func (r *Revocations) decide(c api.Claims, vals []any) (bool, error) {
	if vals[0] != nil || (len(vals) > 2 && vals[2] != nil) {
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
