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
}

// Connect returns a client once the server answers, retrying until ctx
// ends: at start-up Redis may still be loading its append-only file.
func Connect(ctx context.Context, o Options) (*goredis.Client, error) {
	rdb := goredis.NewClient(&goredis.Options{
		Addr:         o.Addr,
		Password:     o.Password,
		DB:           o.DB,
		DialTimeout:  3 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
	})
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
