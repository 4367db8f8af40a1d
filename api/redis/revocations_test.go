package redis_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/redis"
)

func TestRevokeOneToken(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	r := redis.NewRevocations(rdb, prefix)
	ctx := context.Background()
	now := time.Now()
	c := api.Claims{ID: "jti-1", UserID: 1, IssuedAt: now, ExpiresAt: now.Add(90 * time.Second)}
	other := api.Claims{ID: "jti-2", UserID: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}

	if revoked, err := r.Revoked(ctx, c); err != nil || revoked {
		t.Fatalf("fresh token revoked=%v err=%v", revoked, err)
	}
	already, err := r.Revoke(ctx, c.ID, c.ExpiresAt)
	if err != nil || already {
		t.Fatalf("first revoke: already=%v err=%v", already, err)
	}
	already, err = r.Revoke(ctx, c.ID, c.ExpiresAt)
	if err != nil || !already {
		t.Fatalf("second revoke: already=%v err=%v", already, err)
	}
	if revoked, _ := r.Revoked(ctx, c); !revoked {
		t.Error("revoked token not reported")
	}
	if revoked, _ := r.Revoked(ctx, other); revoked {
		t.Error("another token of the user reported revoked")
	}
	// The entry lives exactly as long as the token would have.
	ttl := rdb.PTTL(ctx, prefix+"jti:jti-1").Val()
	if ttl < 85*time.Second || ttl > 91*time.Second {
		t.Errorf("TTL %v, want about 90s", ttl)
	}
	// A token already past its expiry needs no entry.
	if already, err := r.Revoke(ctx, "gone", now.Add(-time.Second)); err != nil || already {
		t.Errorf("expired: already=%v err=%v", already, err)
	}
	if n := rdb.Exists(ctx, prefix+"jti:gone").Val(); n != 0 {
		t.Error("expired token stored")
	}
}

func TestRevokeIsAtomic(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	r := redis.NewRevocations(rdb, prefix)
	var first atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			already, err := r.Revoke(context.Background(), "contended", time.Now().Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if !already {
				first.Add(1)
			}
		})
	}
	wg.Wait()
	if first.Load() != 1 {
		t.Errorf("%d callers were first", first.Load())
	}
}

func TestRevokeUserSparesLaterTokensInTheSameSecond(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	r := redis.NewRevocations(rdb, prefix)
	ctx := context.Background()
	base := time.Now().Truncate(time.Second).Add(500 * time.Millisecond)
	before := api.Claims{ID: "a", UserID: 5, IssuedAt: base.Add(-time.Microsecond), ExpiresAt: base.Add(time.Hour)}
	at := api.Claims{ID: "b", UserID: 5, IssuedAt: base, ExpiresAt: base.Add(time.Hour)}
	after := api.Claims{ID: "c", UserID: 5, IssuedAt: base.Add(time.Microsecond), ExpiresAt: base.Add(time.Hour)}
	otherUser := api.Claims{ID: "d", UserID: 6, IssuedAt: base.Add(-time.Hour), ExpiresAt: base.Add(time.Hour)}

	if err := r.RevokeUser(ctx, 5, base); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		c    api.Claims
		want bool
	}{{before, true}, {at, true}, {after, false}, {otherUser, false}} {
		if got, err := r.Revoked(ctx, tt.c); err != nil || got != tt.want {
			t.Errorf("token %s: revoked=%v err=%v, want %v", tt.c.ID, got, err, tt.want)
		}
	}
	// The cut-off never moves back.
	if err := r.RevokeUser(ctx, 5, base.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Revoked(ctx, at); !got {
		t.Error("an earlier cut-off moved the later one back")
	}
	if err := r.RevokeUser(ctx, 5, base.Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Revoked(ctx, after); !got {
		t.Error("a later cut-off did not move forward")
	}
	// Kept as long as any token issued before it may live, whatever the
	// lifetimes configured now.
	if ttl := rdb.PTTL(ctx, prefix+"user:5").Val(); ttl < api.MaxTokenAge-time.Minute || ttl > api.MaxTokenAge+time.Second {
		t.Errorf("cut-off TTL %v", ttl)
	}
}

func TestRevokeFamily(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	r := redis.NewRevocations(rdb, prefix)
	ctx := context.Background()
	now := time.Now()
	end := now.Add(3 * time.Hour)
	// Issued after the revocation (the winner of a rotation race), still
	// of the family.
	later := api.Claims{ID: "later", UserID: 3, Family: "fam-1", IssuedAt: now.Add(time.Second), ExpiresAt: end, SessionEnd: end}
	sibling := api.Claims{ID: "sibling", UserID: 3, Family: "fam-2", IssuedAt: now, ExpiresAt: end, SessionEnd: end}
	if err := r.RevokeFamily(ctx, "fam-1", end); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Revoked(ctx, later); err != nil || !got {
		t.Errorf("token of the revoked family: revoked=%v err=%v", got, err)
	}
	if got, err := r.Revoked(ctx, sibling); err != nil || got {
		t.Errorf("token of another family: revoked=%v err=%v", got, err)
	}
	// Until the session's end, as the claims say.
	if ttl := rdb.PTTL(ctx, prefix+"fam:fam-1").Val(); ttl < 3*time.Hour-time.Minute || ttl > 3*time.Hour+time.Second {
		t.Errorf("family TTL %v, want about 3h", ttl)
	}
	if err := r.RevokeFamily(ctx, "gone", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, prefix+"fam:gone").Val(); n != 0 {
		t.Error("ended session stored")
	}
}

func TestRedisDown(t *testing.T) {
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	r := redis.NewRevocations(rdb, "x:")
	ctx := context.Background()
	if _, err := r.Revoked(ctx, api.Claims{ID: "x", UserID: 1}); api.ErrorCode(err) != api.CodeUnavailable {
		t.Errorf("Revoked: %v", err)
	}
	if _, err := r.Revoke(ctx, "x", time.Now().Add(time.Hour)); api.ErrorCode(err) != api.CodeUnavailable {
		t.Errorf("Revoke: %v", err)
	}
	if err := r.RevokeUser(ctx, 1, time.Now()); api.ErrorCode(err) != api.CodeUnavailable {
		t.Errorf("RevokeUser: %v", err)
	}
	if err := r.RevokeFamily(ctx, "f", time.Now().Add(time.Hour)); api.ErrorCode(err) != api.CodeUnavailable {
		t.Errorf("RevokeFamily: %v", err)
	}
	if err := r.Ping(ctx); api.ErrorCode(err) != api.CodeUnavailable {
		t.Errorf("Ping: %v", err)
	}
}

// TestRevocationsSurviveRestart runs a redis-server of its own with
// appendonly on, revokes, restarts it on the same directory, and checks.
func TestRevocationsSurviveRestart(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (%v): install it with scripts/services.sh", err)
	}
	dir := t.TempDir()
	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
			"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	stop := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}

	cmd := start()
	t.Cleanup(func() { stop(cmd) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb, err := redis.Connect(ctx, redis.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	r := redis.NewRevocations(rdb, "starwars:revoked:")
	now := time.Now()
	tok := api.Claims{ID: "persisted", UserID: 9, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	old := api.Claims{ID: "old", UserID: 10, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, err := r.Revoke(ctx, tok.ID, tok.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeUser(ctx, 10, now); err != nil {
		t.Fatal(err)
	}
	rdb.Close()

	stop(cmd)
	if _, err := os.Stat(filepath.Join(dir, "appendonlydir")); err != nil {
		t.Logf("append-only directory: %v", err)
	}
	cmd = start()

	rdb, err = redis.Connect(ctx, redis.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	r = redis.NewRevocations(rdb, "starwars:revoked:")
	for _, c := range []api.Claims{tok, old} {
		revoked, err := r.Revoked(ctx, c)
		if err != nil || !revoked {
			t.Errorf("after restart, token %s revoked=%v err=%v", c.ID, revoked, err)
		}
	}
	if ttl := rdb.PTTL(ctx, "starwars:revoked:jti:persisted").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL after restart %v", ttl)
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
