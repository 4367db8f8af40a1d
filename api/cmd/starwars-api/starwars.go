package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/config"
	"github.com/fathat101/swdeploy/api/redis"
	"github.com/fathat101/swdeploy/api/swapi"
)

// newStarWars builds the data side: the upstream client, its Redis cache
// in front, and the query engine over both.
func newStarWars(cfg config.Config, rdb goredis.UniversalClient, reg prometheus.Registerer) (api.StarWars, error) {
	client, err := swapi.NewClient(swapi.ClientConfig{BaseURL: cfg.SwapiURL})
	if err != nil {
		return nil, fmt.Errorf("upstream client: %w", err)
	}
	cache, err := redis.NewCache(rdb, client, redis.CacheConfig{Prefix: cfg.Redis.Prefix + "swapi:", Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("upstream cache: %w", err)
	}
	svc, err := swapi.New(swapi.Config{Registerer: reg}, cache)
	if err != nil {
		return nil, fmt.Errorf("star wars service: %w", err)
	}
	return svc, nil
}

// cacheRedis returns the client of the upstream cache's Redis and whether
// the caller must close it: the revocations' client when the cache shares
// their Redis, else one of its own. The server does not wait for a cache
// Redis of its own: without it, it serves from the upstream, and /readyz
// does not ask it.
func cacheRedis(ctx context.Context, cfg config.Config, revocations *goredis.Client, logger *slog.Logger) (*goredis.Client, bool) {
	if cfg.CacheShared() {
		logger.Info("the upstream cache shares the revocations' Redis, so no memory bound can keep it from evicting them: " +
			"set STARWARS_CACHE_REDIS_HOST to give it one of its own")
		return revocations, false
	}
	c := cfg.CacheRedis
	rdb := redis.NewClient(redis.Options{Addr: c.Addr(), Password: c.Password.Reveal(), DB: c.DB, FailFast: true})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		logger.Warn("the cache Redis does not answer: serving from the upstream without a cache until it does",
			"addr", c.Addr(), "err", err)
	}
	return rdb, true
}
