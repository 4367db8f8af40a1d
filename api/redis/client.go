package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Options locate a Redis server.
type Options struct {
	Addr     string
	Password string // empty for none
	DB       int
	// FailFast is for a server the caller can do without (the upstream
	// cache): one dial attempt and no retry, so that while it is down a
	// request does not wait on it longer than one dial.
	FailFast bool
}

// NewClient returns a client that connects when first used, for a server
// the caller can do without for a while (the upstream cache).
func NewClient(o Options) *goredis.Client {
	opt := &goredis.Options{
		Addr:         o.Addr,
		Password:     o.Password,
		DB:           o.DB,
		DialTimeout:  3 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
	}
	if o.FailFast {
		opt.MaxRetries = -1
		opt.DialerRetries = 1
		opt.DialTimeout = time.Second
	}
	return goredis.NewClient(opt)
}

// Connect returns a client once the server answers, retrying until ctx
// ends: at start-up Redis may still be loading its append-only file.
func Connect(ctx context.Context, o Options) (*goredis.Client, error) {
	rdb := NewClient(o)
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return rdb, nil
		}
		select {
		case <-ctx.Done():
			rdb.Close()
			return nil, fmt.Errorf("connect to redis at %s: %w", o.Addr, err)
		case <-time.After(time.Second):
		}
	}
}
