package redis_test

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/fathat101/swdeploy/api/redis"
)

// TestFailFastClient: a server that accepts and hangs up at once is asked
// once by a FailFast client, so that a cache Redis that is down costs a
// request one attempt, while the default client retries.
func TestFailFastClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	for _, tt := range []struct {
		failFast bool
		atMost   int64
		atLeast  int64
	}{{true, 1, 1}, {false, 100, 2}} {
		before := accepted.Load()
		rdb := redis.NewClient(redis.Options{Addr: ln.Addr().String(), FailFast: tt.failFast})
		if err := rdb.Get(t.Context(), "k").Err(); err == nil {
			t.Fatal("a server that hangs up answered")
		}
		rdb.Close()
		if n := accepted.Load() - before; n < tt.atLeast || n > tt.atMost {
			t.Errorf("FailFast=%v: %d connections for one command, want %d to %d", tt.failFast, n, tt.atLeast, tt.atMost)
		}
	}
}
