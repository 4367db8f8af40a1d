package main

import (
	"fmt"

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
