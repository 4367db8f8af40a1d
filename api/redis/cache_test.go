package redis_test

import (
	"bytes"
	"context"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/redis"
	"github.com/fathat101/swdeploy/api/swapi"
	"github.com/fathat101/swdeploy/api/swapi/local"
)

// cacheDataDir is the SWAPI data set built into package local.
var cacheDataDir = local.Data

// cacheRecorder logs the calls made to an Upstream: the fetch plan is
// judged on them, as the server's own log can make concurrent requests look
// sequential when the HTTP transport reuses a freed connection for a
// request whose dial is slow.
type cacheRecorder struct {
	next redis.Upstream
	mu   sync.Mutex
	log  []testenv.Served
}

func (r *cacheRecorder) Get(ctx context.Context, path string) ([]byte, error) {
	start := time.Now()
	defer func() {
		r.mu.Lock()
		r.log = append(r.log, testenv.Served{Path: path, Start: start, End: time.Now()})
		r.mu.Unlock()
	}()
	return r.next.Get(ctx, path)
}

func (r *cacheRecorder) calls() []testenv.Served {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// stack is the data side as main wires it: Service -> Cache -> Client.
type stack struct {
	up    *testenv.Upstream
	calls *cacheRecorder // calls from the cache to the upstream client
	rdb   *goredis.Client
	cache *redis.Cache
	sw    *swapi.Service
	reg   *prometheus.Registry

	prefix string // of every key the cache writes
}

func newStack(t testing.TB, opt local.Options, cc redis.CacheConfig, sc swapi.Config) *stack {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	st := &stack{up: testenv.StartUpstream(t, cacheDataDir, opt), rdb: rdb, reg: prometheus.NewRegistry()}
	client, err := swapi.NewClient(swapi.ClientConfig{BaseURL: st.up.URL + "/api/", RequestTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cc.Prefix = prefix + "swapi:"
	st.prefix = cc.Prefix
	cc.Registerer = st.reg
	st.calls = &cacheRecorder{next: client}
	if st.cache, err = redis.NewCache(rdb, st.calls, cc); err != nil {
		t.Fatal(err)
	}
	sc.Registerer = st.reg
	if st.sw, err = swapi.New(sc, st.cache); err != nil {
		t.Fatal(err)
	}
	return st
}

// counter reads a counter from the stack's registry.
func (st *stack) counter(t testing.TB, name string) float64 {
	t.Helper()
	mfs, err := st.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// keys counts the keys the cache has written.
func (st *stack) keys(t testing.TB) int {
	t.Helper()
	keys, err := st.rdb.Keys(t.Context(), st.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func cacheCode(err error) string { return api.ErrorCode(err) }

func TestCacheUnknownIDsAboveTheCollection(t *testing.T) {
	st := newStack(t, local.Options{}, redis.CacheConfig{}, swapi.Config{})
	ctx := t.Context()
	// Warm: a list over the whole collection (9 pages, 9 keys).
	if _, err := st.sw.People(ctx, url.Values{"sort_by": {"name"}}); err != nil {
		t.Fatal(err)
	}
	calls, keys := st.up.Count(), st.keys(t)
	for id := 84; id < 184; id++ {
		if _, err := st.sw.Person(ctx, strconv.Itoa(id), nil); cacheCode(err) != api.CodeNotFound {
			t.Fatalf("person %d: %v, want not-found", id, err)
		}
	}
	if n := st.up.Count() - calls; n != 0 {
		t.Errorf("100 unknown ids above the collection: %d upstream requests, want 0", n)
	}
	if n := st.keys(t) - keys; n != 0 {
		t.Errorf("100 unknown ids above the collection: %d new Redis keys, want 0", n)
	}
}

func TestCacheUnknownIDsCold(t *testing.T) {
	st := newStack(t, local.Options{}, redis.CacheConfig{}, swapi.Config{})
	ctx := t.Context()
	for id := 1000; id < 1100; id++ {
		if _, err := st.sw.Person(ctx, strconv.Itoa(id), nil); cacheCode(err) != api.CodeNotFound {
			t.Fatalf("person %d: %v, want not-found", id, err)
		}
	}
	// The first id is asked; its 404 reads the 9 people pages once to
	// learn where the collection ends, and the other 99 are answered
	// without the upstream or Redis.
	if n := st.up.Count(); n != 1+9 {
		t.Errorf("100 unknown ids, cold: %d upstream requests, want 10", n)
	}
	if n := st.keys(t); n != 1+9 {
		t.Errorf("100 unknown ids, cold: %d Redis keys, want 10 (one 404, 9 pages)", n)
	}
}

func TestCacheNotFoundIsShortLived(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  redis.CacheConfig
		max  time.Duration
	}{
		{"default", redis.CacheConfig{}, redis.DefaultNotFoundTTL},
		{"configured", redis.CacheConfig{NotFoundTTL: 10 * time.Second}, 10 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newStack(t, local.Options{}, tt.cfg, swapi.Config{ResponseTTL: -1})
			ctx := t.Context()
			if _, err := st.cache.Get(ctx, "people/17/"); cacheCode(err) != api.CodeNotFound {
				t.Fatalf("people/17/: %v, want not-found", err)
			}
			ttl := st.rdb.PTTL(ctx, st.prefix+"people/17/").Val()
			if ttl <= 0 || ttl > tt.max {
				t.Errorf("the cached 404 expires in %v, want at most %v", ttl, tt.max)
			}
			// Still cached within its lifetime.
			if _, err := st.cache.Get(ctx, "people/17/"); cacheCode(err) != api.CodeNotFound || st.up.Count() != 1 {
				t.Errorf("second read: %v after %d upstream requests, want a cached 404", err, st.up.Count())
			}
		})
	}
	if redis.DefaultNotFoundTTL > time.Minute {
		t.Errorf("DefaultNotFoundTTL %v, want a minute at most", redis.DefaultNotFoundTTL)
	}
}

func TestCacheRepeatedReadsSkipUpstream(t *testing.T) {
	// No in-process response cache: every call reaches Redis.
	st := newStack(t, local.Options{}, redis.CacheConfig{TTL: time.Hour}, swapi.Config{ResponseTTL: -1})
	ctx := t.Context()
	reads := []func() ([]byte, error){
		func() ([]byte, error) { return st.sw.Films(ctx, nil) },
		func() ([]byte, error) { return st.sw.Film(ctx, "2", nil) },
		func() ([]byte, error) { return st.sw.Person(ctx, "1", nil) },
		func() ([]byte, error) { return st.sw.People(ctx, url.Values{"max_items": {"82"}}) },
		func() ([]byte, error) { return st.sw.People(ctx, url.Values{"sort_by": {"height"}}) },
	}
	first := make([][]byte, len(reads))
	for i, read := range reads {
		body, err := read()
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		first[i] = body
	}
	if _, err := st.sw.Person(ctx, "17", nil); cacheCode(err) != api.CodeNotFound {
		t.Fatalf("person 17: %v", err)
	}
	cold := st.up.Count()
	if cold != 1+1+1+9+1 {
		t.Errorf("%d upstream requests to fill the cache, want 13 (films, film, person, 9 pages, a 404)", cold)
	}
	for range 3 {
		for i, read := range reads {
			body, err := read()
			if err != nil || !bytes.Equal(body, first[i]) {
				t.Fatalf("cached read %d differs (%v)", i, err)
			}
		}
		if _, err := st.sw.Person(ctx, "17", nil); cacheCode(err) != api.CodeNotFound {
			t.Fatalf("cached 404: %v", err)
		}
	}
	if n := st.up.Count(); n != cold {
		t.Errorf("%d upstream requests after the cache was warm, want none", n-cold)
	}
	if hits := st.counter(t, "starwars_upstream_cache_hits_total"); hits == 0 {
		t.Error("no cache hits counted")
	}
	if misses := st.counter(t, "starwars_upstream_cache_misses_total"); misses != float64(cold) {
		t.Errorf("%v misses counted, want %d", misses, cold)
	}
	// The copy lives for the stale horizon, not just the TTL.
	keys := st.rdb.Keys(ctx, "*swapi:films/?page=1").Val()
	if len(keys) != 1 {
		t.Fatalf("films page key: %v", keys)
	}
	if ttl := st.rdb.PTTL(ctx, keys[0]).Val(); ttl < 6*24*time.Hour {
		t.Errorf("films page expires in %v, want the stale horizon", ttl)
	}
}

func TestCacheServesStaleWhenUpstreamFails(t *testing.T) {
	// A TTL of 1ns makes every copy stale at once: each read asks the
	// upstream, and falls back on the copy when it fails.
	st := newStack(t, local.Options{}, redis.CacheConfig{TTL: time.Nanosecond}, swapi.Config{ResponseTTL: -1})
	ctx := t.Context()
	films, err := st.sw.Films(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	person, err := st.sw.Person(ctx, "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.sw.Person(ctx, "17", nil); cacheCode(err) != api.CodeNotFound {
		t.Fatal(err)
	}
	before := st.up.Count()
	if _, err := st.sw.Films(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if st.up.Count() != before+1 {
		t.Fatal("a stale copy was served while the upstream worked")
	}

	st.up.Fail.Store(true)
	if body, err := st.sw.Films(ctx, nil); err != nil || !bytes.Equal(body, films) {
		t.Errorf("films with the upstream failing: %v", err)
	}
	if body, err := st.sw.Person(ctx, "1", nil); err != nil || !bytes.Equal(body, person) {
		t.Errorf("person with the upstream failing: %v", err)
	}
	if _, err := st.sw.Person(ctx, "17", nil); cacheCode(err) != api.CodeNotFound {
		t.Errorf("cached 404 with the upstream failing: %v", err)
	}
	if _, err := st.sw.Person(ctx, "2", nil); cacheCode(err) != api.CodeUpstreamError {
		t.Errorf("uncached person with the upstream failing: %v, want upstream-error", err)
	}
	st.up.Fail.Store(false)

	st.up.Stall.Store(int64(5 * time.Second))
	if body, err := st.sw.Films(ctx, nil); err != nil || !bytes.Equal(body, films) {
		t.Errorf("films with the upstream stalled: %v", err)
	}
	if _, err := st.sw.Person(ctx, "3", nil); cacheCode(err) != api.CodeUpstreamTimeout {
		t.Errorf("uncached person with the upstream stalled: %v, want upstream-timeout", err)
	}
	st.up.Stall.Store(0)
	if stale := st.counter(t, "starwars_upstream_cache_stale_total"); stale != 4 {
		t.Errorf("%v stale copies counted, want 4", stale)
	}
}

func TestCacheCollapsesConcurrentMisses(t *testing.T) {
	st := newStack(t, local.Options{Latency: 30 * time.Millisecond}, redis.CacheConfig{}, swapi.Config{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := st.cache.Get(t.Context(), "people/1/"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := st.up.Count(); n != 1 {
		t.Errorf("%d upstream requests for 20 concurrent misses, want 1", n)
	}
}

func TestCacheWithoutRedis(t *testing.T) {
	up := testenv.StartUpstream(t, cacheDataDir, local.Options{})
	// Nothing listens on port 1: every Redis call fails fast.
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	client, err := swapi.NewClient(swapi.ClientConfig{BaseURL: up.URL + "/api/"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cache, err := redis.NewCache(rdb, client, redis.CacheConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	body, err := cache.Get(t.Context(), "films/1/")
	if err != nil || !bytes.Contains(body, []byte(`"A New Hope"`)) {
		t.Errorf("with Redis down: %v %.40s", err, body)
	}
	// Readiness does not depend on the cache: the failures show here.
	st := &stack{reg: reg}
	if n := st.counter(t, "starwars_upstream_cache_errors_total"); n != 2 {
		t.Errorf("%v cache errors counted, want 2 (the read and the write)", n)
	}
}

func TestCacheColdListIsOneRoundTrip(t *testing.T) {
	// Each page takes 150 ms: a margin over the scheduling delays of a
	// loaded machine, where Redis lookups precede each upstream call.
	st := newStack(t, local.Options{Latency: 150 * time.Millisecond}, redis.CacheConfig{}, swapi.Config{})
	// "Cold" means nothing cached, not a cold connection pool: open the
	// Redis connections that the nine concurrent lookups will use, so that
	// dialling them does not skew the timeline.
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() { st.rdb.Get(t.Context(), "warm-up") })
	}
	wg.Wait()
	if _, err := st.sw.People(t.Context(), url.Values{"max_items": {"82"}}); err != nil {
		t.Fatal(err)
	}
	log := st.calls.calls()
	latest := log[0].Start
	earliest := log[0].End
	for _, r := range log {
		latest = later(latest, r.Start)
		earliest = earlier(earliest, r.End)
	}
	// One round trip: every page was asked for before any was answered.
	if len(log) != 9 || latest.After(earliest) {
		t.Errorf("%d calls; last started %v after the first answer", len(log), latest.Sub(earliest))
	}
	if n := st.up.Count(); n != 9 {
		t.Errorf("the upstream served %d requests, want 9", n)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func TestNewCacheRejectsDuplicateMetrics(t *testing.T) {
	rdb, _ := testenv.Redis(t)
	reg := prometheus.NewRegistry()
	up := testenv.StartUpstream(t, cacheDataDir, local.Options{})
	client, _ := swapi.NewClient(swapi.ClientConfig{BaseURL: up.URL + "/api/"})
	if _, err := redis.NewCache(rdb, client, redis.CacheConfig{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := redis.NewCache(rdb, client, redis.CacheConfig{Registerer: reg}); err == nil {
		t.Error("registering the counters twice went unnoticed")
	}
}

// benchStack is a warm stack for the cached-read benchmarks.
func benchStack(b *testing.B, sc swapi.Config) *stack {
	st := newStack(b, local.Options{}, redis.CacheConfig{}, sc)
	return st
}

func benchRead(b *testing.B, read func(context.Context) ([]byte, error)) {
	ctx := context.Background()
	if _, err := read(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := read(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCachedFilms is GET /films/v1/ as served: in-process response
// cache in front of Redis.
func BenchmarkCachedFilms(b *testing.B) {
	st := benchStack(b, swapi.Config{})
	benchRead(b, func(ctx context.Context) ([]byte, error) { return st.sw.Films(ctx, url.Values{}) })
}

// BenchmarkCachedPerson is GET /character/v1/1 as served.
func BenchmarkCachedPerson(b *testing.B) {
	st := benchStack(b, swapi.Config{})
	benchRead(b, func(ctx context.Context) ([]byte, error) { return st.sw.Person(ctx, "1", url.Values{}) })
}

// BenchmarkRedisFilms and BenchmarkRedisPerson skip the in-process cache:
// one Redis GET per upstream page, then rendering.
func BenchmarkRedisFilms(b *testing.B) {
	st := benchStack(b, swapi.Config{ResponseTTL: -1})
	benchRead(b, func(ctx context.Context) ([]byte, error) { return st.sw.Films(ctx, url.Values{}) })
}

func BenchmarkRedisPerson(b *testing.B) {
	st := benchStack(b, swapi.Config{ResponseTTL: -1})
	benchRead(b, func(ctx context.Context) ([]byte, error) { return st.sw.Person(ctx, "1", url.Values{}) })
}
