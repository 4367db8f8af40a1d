package redis_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/redis"
)

// counter counts the commands a client sends.
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *counter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// replica is one API instance's revocations: a client of its own on the
// shared Redis, tracked.
type replica struct {
	*redis.Revocations
	rdb  *goredis.Client
	sent *counter
}

func newReplica(t *testing.T, ctx context.Context, prefix string) replica {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.RedisAddr(), DB: testenv.RedisDB})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(ctx).Err(); err != nil { // a connection's set-up is not counted
		t.Fatal(err)
	}
	sent := &counter{}
	rdb.AddHook(sent)
	r := redis.NewRevocations(rdb, prefix)
	r.Track(ctx, redis.Options{Addr: testenv.RedisAddr(), DB: testenv.RedisDB})
	waitTracking(t, r)
	return replica{Revocations: r, rdb: rdb, sent: sent}
}

func waitTracking(t *testing.T, r *redis.Revocations) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); r.TrackingAddr() == ""; {
		if time.Now().After(deadline) {
			t.Fatal("revocations not tracked after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// revoked asks r about c and reports the answer and how many commands
// that sent to Redis.
func (r replica) revoked(t *testing.T, c api.Claims) (bool, int64) {
	t.Helper()
	before := r.sent.n.Load()
	revoked, err := r.Revoked(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return revoked, r.sent.n.Load() - before
}

// Two instances on one Redis: a check answered from memory costs no
// round trip, and a revocation through one instance is refused by the
// other on its very next check, by token, user and session alike.
func TestTrackedRevocationsAcrossInstances(t *testing.T) {
	_, prefix := testenv.Redis(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := newReplica(t, ctx, prefix), newReplica(t, ctx, prefix)
	now := time.Now()
	token := func(id string, user int64, fam string) api.Claims {
		return api.Claims{ID: id, UserID: user, Family: fam, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	byID, byUser, byFamily := token("t1", 101, "f1"), token("t2", 102, "f2"), token("t3", 103, "f3")
	for _, c := range []api.Claims{byID, byUser, byFamily} {
		if revoked, sent := b.revoked(t, c); revoked || sent != 1 {
			t.Fatalf("%s first check: revoked=%v, %d commands", c.ID, revoked, sent)
		}
		if revoked, sent := b.revoked(t, c); revoked || sent != 0 {
			t.Fatalf("%s again: revoked=%v, %d commands (want an answer from memory)", c.ID, revoked, sent)
		}
	}

	if _, err := a.Revoke(ctx, byID.ID, byID.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if revoked, _ := b.revoked(t, byID); !revoked {
		t.Error("token revoked on one instance accepted by the other")
	}
	if err := a.RevokeUser(ctx, byUser.UserID, now); err != nil {
		t.Fatal(err)
	}
	if revoked, _ := b.revoked(t, byUser); !revoked {
		t.Error("user's tokens revoked on one instance accepted by the other")
	}
	if err := a.RevokeFamily(ctx, byFamily.Family, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if revoked, _ := b.revoked(t, byFamily); !revoked {
		t.Error("session revoked on one instance accepted by the other")
	}
	// A token untouched by those is still answered from memory.
	other := token("t4", 104, "f4")
	b.revoked(t, other)
	if revoked, sent := b.revoked(t, other); revoked || sent != 0 {
		t.Errorf("other token: revoked=%v, %d commands", revoked, sent)
	}
}

// When the tracking connection drops, invalidations may be lost: memory
// is dropped with it, checks go to Redis until tracking is back.
func TestTrackedRevocationsAfterConnectionDrop(t *testing.T) {
	admin, prefix := testenv.Redis(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := newReplica(t, ctx, prefix)
	now := time.Now()
	c := api.Claims{ID: "t1", UserID: 201, Family: "f1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	b.revoked(t, c)
	if revoked, sent := b.revoked(t, c); revoked || sent != 0 {
		t.Fatalf("before the drop: revoked=%v, %d commands", revoked, sent)
	}

	addr := b.TrackingAddr()
	if n, err := admin.ClientKillByFilter(ctx, "ADDR", addr).Result(); err != nil || n != 1 {
		t.Fatalf("kill tracking connection %s: %d, %v", addr, n, err)
	}
	// Revoked while b cannot hear of it.
	if err := admin.Set(ctx, prefix+"jti:t1", "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if revoked, sent := b.revoked(t, c); !revoked || sent != 1 {
		t.Errorf("after the drop: revoked=%v, %d commands (want Redis asked)", revoked, sent)
	}

	// Back to memory once tracking is back, still right.
	for deadline := time.Now().Add(10 * time.Second); b.TrackingAddr() == "" || b.TrackingAddr() == addr; {
		if time.Now().After(deadline) {
			t.Fatal("tracking not back after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.revoked(t, c)
	if revoked, sent := b.revoked(t, c); !revoked || sent != 0 {
		t.Errorf("tracked again: revoked=%v, %d commands", revoked, sent)
	}
	if err := admin.Del(ctx, prefix+"jti:t1").Err(); err != nil {
		t.Fatal(err)
	}
	if revoked, _ := b.revoked(t, c); revoked {
		t.Error("deleted entry still read from memory")
	}
}

// Without a Redis to track, checks keep asking Redis.
func TestTrackingUnavailable(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	sent := &counter{}
	rdb.AddHook(sent)
	r := redis.NewRevocations(rdb, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // nothing listens there now
	r.Track(ctx, redis.Options{Addr: ln.Addr().String()})
	c := api.Claims{ID: "t1", UserID: 301, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	for range 3 {
		if revoked, err := r.Revoked(ctx, c); err != nil || revoked {
			t.Fatalf("revoked=%v err=%v", revoked, err)
		}
	}
	if n := sent.n.Load(); n != 3 {
		t.Errorf("%d commands for 3 checks, want 3", n)
	}
}
