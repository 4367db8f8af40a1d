package stack

import (
	"slices"
	"strings"
	"testing"
)

// The upstream cache has a Redis of its own, bounded and evicting, so that
// the revocations' Redis never evicts (Redis evicts per instance).
func TestCacheRedisIsBoundedAndApart(t *testing.T) {
	dir := checkout(t, nil)
	for _, tt := range []struct {
		name    string
		environ []string
		max     string
	}{
		{"default", nil, "maxmemory 64mb"},
		{"configured", []string{"STARWARS_CACHE_MAXMEMORY=256mb"}, "maxmemory 256mb"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := mustLoad(t, Options{WorkDir: dir, Environ: tt.environ}).Project
			cache, ok := p.Services["cache"]
			if !ok {
				t.Fatal("no cache service")
			}
			script := strings.Join(cache.Command, " ")
			for _, line := range []string{tt.max, "maxmemory-policy allkeys-lru", "appendonly no", `save ""`, "requirepass $(cat /run/secrets/redis_password)"} {
				if !strings.Contains(script, line+"\n") {
					t.Errorf("cache command lacks %q:\n%s", line, script)
				}
			}
			if cache.Image != p.Services["redis"].Image || cache.User != "redis" || cache.HealthCheck == nil {
				t.Errorf("cache image %q user %q healthcheck %v: want redis's image, user redis, a healthcheck", cache.Image, cache.User, cache.HealthCheck)
			}
			if len(cache.Volumes) != 0 || len(cache.Ports) != 0 {
				t.Errorf("cache volumes %v ports %v, want none", cache.Volumes, cache.Ports)
			}
			if len(cache.Networks) != 1 || cache.Networks["internal-network"] == nil ||
				!slices.Equal(cache.Networks["internal-network"].Aliases, []string{"starwars-cache"}) {
				t.Errorf("cache networks %v, want internal-network alone, alias starwars-cache", cache.Networks)
			}

			redis := strings.Join(p.Services["redis"].Command, " ")
			if !strings.Contains(redis, "maxmemory-policy noeviction\n") || strings.Contains(redis, "maxmemory ") {
				t.Errorf("redis must never evict a revocation:\n%s", redis)
			}

			api := p.Services["api"]
			for k, want := range map[string]string{
				"STARWARS_CACHE_REDIS_HOST":          "starwars-cache",
				"STARWARS_CACHE_REDIS_PORT":          "6379",
				"STARWARS_CACHE_REDIS_PASSWORD_FILE": "/run/secrets/redis_password",
			} {
				if got := deref(api.Environment[k]); got != want {
					t.Errorf("api %s = %q, want %q", k, got, want)
				}
			}
			if d, ok := api.DependsOn["cache"]; !ok || d.Condition != "service_healthy" {
				t.Errorf("api depends on cache: %+v, want service_healthy", d)
			}
		})
	}
}
