package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/fathat101/swdeploy/api"
)

// Upstream fetches an upstream path; swapi.Client is one. It is the method
// set of swapi.Fetcher, declared here so that the adapters do not import
// each other, and Cache is one too, so that it wraps transparently.
type Upstream interface {
	Get(ctx context.Context, path string) ([]byte, error)
}

// CacheConfig configures Cache. Zero fields take the defaults.
type CacheConfig struct {
	// Prefix starts every key. Default "swapi:".
	Prefix string
	// TTL is how long a copy is served without asking the upstream.
	// Default 1h.
	TTL time.Duration
	// StaleTTL is how long a copy is kept to be served, however old, when
	// the upstream fails. At least TTL. Default 7 days.
	StaleTTL time.Duration
	// NotFoundTTL is how long an upstream 404 is kept. Default
	// DefaultNotFoundTTL.
	NotFoundTTL time.Duration
	// Registerer receives the hit, miss, stale and error counters; nil
	// registers nothing.
	Registerer prometheus.Registerer
}

// Cache keeps upstream answers in Redis: bodies, and 404s so that a burst
// of requests for one unknown id does not reach the upstream either. Each
// key holds one entry that records when it was fetched; younger than TTL it
// is served as is, older it is refreshed from the upstream, and served
// anyway when the upstream fails (502/504). A body expires after StaleTTL,
// a 404 after NotFoundTTL: every made-up path makes one, so they must not
// last. Redis being down degrades to asking the upstream every time rather
// than failing requests.
type Cache struct {
	rdb    goredis.UniversalClient
	next   Upstream
	cfg    CacheConfig
	now    func() time.Time
	flight singleflight.Group
	hits   prometheus.Counter
	misses prometheus.Counter
	stale  prometheus.Counter
	errs   prometheus.Counter
}

// DefaultNotFoundTTL is how long an upstream 404 is kept by default: long
// enough to absorb a burst of requests for one unknown path, short enough
// that made-up paths do not pile up in Redis.
const DefaultNotFoundTTL = time.Minute

// NewCache returns a Cache in front of next.
func NewCache(rdb goredis.UniversalClient, next Upstream, cfg CacheConfig) (*Cache, error) {
	if rdb == nil || next == nil {
		return nil, errors.New("new cache: nil redis client or upstream")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "swapi:"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = time.Hour
	}
	if cfg.StaleTTL <= 0 {
		cfg.StaleTTL = 7 * 24 * time.Hour
	}
	cfg.StaleTTL = max(cfg.StaleTTL, cfg.TTL)
	if cfg.NotFoundTTL <= 0 {
		cfg.NotFoundTTL = DefaultNotFoundTTL
	}
	c := &Cache{
		rdb: rdb, next: next, cfg: cfg, now: time.Now,
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starwars_upstream_cache_hits_total",
			Help: "Upstream (SWAPI) reads answered from the Redis cache.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starwars_upstream_cache_misses_total",
			Help: "Upstream (SWAPI) reads that went to the upstream: nothing cached, an expired copy, or Redis unavailable.",
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starwars_upstream_cache_stale_total",
			Help: "Expired cached copies served because the upstream failed.",
		}),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starwars_upstream_cache_errors_total",
			Help: "Failed reads and writes of the Redis cache (each costs an upstream call at most; /readyz does not check the cache).",
		}),
	}
	if cfg.Registerer != nil {
		for _, m := range []prometheus.Collector{c.hits, c.misses, c.stale, c.errs} {
			if err := cfg.Registerer.Register(m); err != nil {
				return nil, fmt.Errorf("register cache metrics: %w", err)
			}
		}
	}
	return c, nil
}

// An entry is a kind byte, the fetch time in Unix milliseconds (8 bytes,
// big-endian), then the body.
const (
	kindBody     = 'b'
	kindNotFound = 'n'
	headerLen    = 9
)

type entry struct {
	kind    byte
	fetched time.Time
	body    []byte
}

func decodeEntry(b []byte) (entry, bool) {
	if len(b) < headerLen || (b[0] != kindBody && b[0] != kindNotFound) {
		return entry{}, false
	}
	ms := int64(binary.BigEndian.Uint64(b[1:headerLen]))
	return entry{kind: b[0], fetched: time.UnixMilli(ms), body: b[headerLen:]}, true
}

func encodeEntry(kind byte, at time.Time, body []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(body))
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:headerLen], uint64(at.UnixMilli()))
	return append(b, body...)
}

// ttl is how long the entry is served without asking the upstream.
func (e entry) ttl(cfg CacheConfig) time.Duration {
	if e.kind == kindNotFound {
		return min(cfg.TTL, cfg.NotFoundTTL)
	}
	return cfg.TTL
}

func (e entry) result(path string) ([]byte, error) {
	if e.kind == kindNotFound {
		return nil, api.Errorf(api.CodeNotFound, "upstream %s: 404 (cached)", path)
	}
	return e.body, nil
}

// Get answers path from Redis when the copy is fresh, else from the
// upstream, else from the stale copy.
func (c *Cache) Get(ctx context.Context, path string) ([]byte, error) {
	key := c.cfg.Prefix + path
	cached, have := c.load(ctx, key)
	if have && c.now().Sub(cached.fetched) < cached.ttl(c.cfg) {
		c.hits.Inc()
		return cached.result(path)
	}
	c.misses.Inc()
	body, err := c.refresh(ctx, key, path)
	if err == nil || !have || api.ErrorCode(err) == api.CodeNotFound {
		return body, err
	}
	c.stale.Inc()
	return cached.result(path)
}

// load reads an entry; any Redis failure reads as nothing cached.
func (c *Cache) load(ctx context.Context, key string) (entry, bool) {
	b, err := c.rdb.Get(ctx, key).Bytes()
	if err != nil {
		if !errors.Is(err, goredis.Nil) {
			c.errs.Inc()
		}
		return entry{}, false
	}
	return decodeEntry(b)
}

// refresh asks the upstream once for all concurrent callers of a path and
// stores the answer. The shared call keeps the first caller's deadline but
// not its cancellation, so that one client leaving does not fail the
// others; each caller stops waiting when its own context ends.
func (c *Cache) refresh(ctx context.Context, key, path string) ([]byte, error) {
	ch := c.flight.DoChan(path, func() (any, error) {
		fctx := context.WithoutCancel(ctx)
		if d, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			fctx, cancel = context.WithDeadline(fctx, d)
			defer cancel()
		}
		body, err := c.next.Get(fctx, path)
		switch {
		case err == nil:
			c.store(fctx, key, encodeEntry(kindBody, c.now(), body), c.cfg.StaleTTL)
		case api.ErrorCode(err) == api.CodeNotFound:
			c.store(fctx, key, encodeEntry(kindNotFound, c.now(), nil), c.cfg.NotFoundTTL)
		}
		return body, err
	})
	select {
	case r := <-ch:
		body, _ := r.Val.([]byte)
		return body, r.Err
	case <-ctx.Done():
		code := api.CodeUpstreamError
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			code = api.CodeUpstreamTimeout
		}
		return nil, &api.Error{Code: code, Message: "upstream " + path, Err: ctx.Err()}
	}
}

// store writes an entry; a failure only costs a later upstream call.
func (c *Cache) store(ctx context.Context, key string, value []byte, ttl time.Duration) {
	if err := c.rdb.Set(ctx, key, value, ttl).Err(); err != nil {
		c.errs.Inc()
	}
}
