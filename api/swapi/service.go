package swapi

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/fathat101/swdeploy/api"
)

// Config configures Service. Zero fields take the defaults.
type Config struct {
	// Timeout bounds one call end to end, every upstream round included;
	// keep it below the HTTP server's write timeout. Default 10s.
	Timeout time.Duration
	// ResponseTTL is how long a rendered response is reused in process
	// before the Fetcher (and its Redis cache) is asked again. Default 5s;
	// negative turns the in-process cache off.
	ResponseTTL time.Duration
	// ResponseCacheSize bounds the number of rendered responses kept.
	// Default 1024.
	ResponseCacheSize int
	// SpeculativePages is how many list pages may be requested at once
	// before the collection's count is known. Default 10 (100 objects).
	SpeculativePages int
	// MaxPages caps the upstream pages read for one list. Default 100.
	MaxPages int
	// IDBoundTTL is how long the largest id of a collection, learned from
	// a complete read of it, answers "not found" for any id above it
	// without asking the upstream. Default 1h; negative turns it off.
	IDBoundTTL time.Duration
	// Registerer receives the response cache counters; nil registers
	// nothing.
	Registerer prometheus.Registerer
}

// Service implements api.StarWars over a Fetcher.
//
// The returned bodies may be shared between calls: callers must not modify
// them.
type Service struct {
	cfg     Config
	fetcher Fetcher
	people  *kind
	films   *kind
	counts  map[string]*atomic.Int64 // last count seen per collection; read-only map
	bounds  bounds                   // largest id per collection; read-only map
	cache   *responseCache
	decoded pageMemo
	flight  singleflight.Group
	hits    prometheus.Counter
	misses  prometheus.Counter
}

var _ api.StarWars = (*Service)(nil)

// New returns a Service that reads the upstream through f.
func New(cfg Config, f Fetcher) (*Service, error) {
	if f == nil {
		return nil, fmt.Errorf("swapi: nil fetcher")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.ResponseTTL == 0 {
		cfg.ResponseTTL = 5 * time.Second
	}
	if cfg.ResponseCacheSize <= 0 {
		cfg.ResponseCacheSize = 1024
	}
	if cfg.SpeculativePages <= 0 {
		cfg.SpeculativePages = 10
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 100
	}
	if cfg.IDBoundTTL == 0 {
		cfg.IDBoundTTL = time.Hour
	}
	s := &Service{
		cfg:     cfg,
		fetcher: f,
		people:  peopleKind(),
		films:   filmsKind(),
		cache:   newResponseCache(cfg.ResponseTTL, cfg.ResponseCacheSize),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starwars_response_cache_hits_total",
			Help: "Star Wars responses served from the in-process cache of rendered responses.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starwars_response_cache_misses_total",
			Help: "Star Wars responses built from the upstream fetcher (and its Redis cache).",
		}),
	}
	s.counts = map[string]*atomic.Int64{s.people.path: {}, s.films.path: {}}
	s.bounds = bounds{s.people.path: {}, s.films.path: {}}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.hits, s.misses} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register swapi metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Person answers GET /character/v1/{id}.
func (s *Service) Person(ctx context.Context, id string, query url.Values) ([]byte, error) {
	return s.one(ctx, s.people, id, query)
}

// Film answers GET /films/v1/{id}.
func (s *Service) Film(ctx context.Context, id string, query url.Values) ([]byte, error) {
	return s.one(ctx, s.films, id, query)
}

// People answers GET /characters/v1/.
func (s *Service) People(ctx context.Context, query url.Values) ([]byte, error) {
	lq, err := parseListQuery(s.people, query)
	if err != nil {
		return nil, err
	}
	want := lq.maxItems
	if lq.needsAll() {
		want = all
	}
	return s.cached(ctx, lq.cacheKey(s.people), func(ctx context.Context) ([]byte, error) {
		objs, err := s.collect(ctx, s.people, want)
		if err != nil {
			return nil, err
		}
		return s.renderList(s.people, selectObjects(objs, lq), lq.opts)
	})
}

// Films answers GET /films/v1/: the whole collection; only options apply.
func (s *Service) Films(ctx context.Context, query url.Values) ([]byte, error) {
	opts, err := parseOptions(s.films, query)
	if err != nil {
		return nil, err
	}
	key := s.films.path + "|o=" + strconv.FormatUint(uint64(opts), 10)
	return s.cached(ctx, key, func(ctx context.Context) ([]byte, error) {
		objs, err := s.collect(ctx, s.films, all)
		if err != nil {
			return nil, err
		}
		return s.renderList(s.films, objs, opts)
	})
}

// one answers a single object. An id that is not a positive integer is
// simply not found: it never reaches the upstream, so it cannot smuggle a
// path ("../") or query into the upstream URL. Nor does an id above the
// collection's largest (see bounds).
func (s *Service) one(ctx context.Context, k *kind, id string, query url.Values) ([]byte, error) {
	opts, err := parseOptions(k, query)
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseUint(id, 10, 31)
	if err != nil || n == 0 {
		return nil, api.Errorf(api.CodeNotFound, "%s id %q", k.path, id)
	}
	if s.bounds.beyond(k.path, int(n), time.Now(), s.cfg.IDBoundTTL) {
		return nil, api.Errorf(api.CodeNotFound, "%s id %d: above the collection", k.path, n)
	}
	path := k.path + "/" + strconv.FormatUint(n, 10) + "/"
	return s.cached(ctx, path+"|o="+strconv.FormatUint(uint64(opts), 10), func(ctx context.Context) ([]byte, error) {
		body, err := s.fetcher.Get(ctx, path)
		if api.ErrorCode(err) == api.CodeNotFound {
			s.learnBound(ctx, k)
		}
		if err != nil {
			return nil, asUpstream(path, err)
		}
		obj, err := decodeObject(body)
		if err != nil {
			return nil, &api.Error{Code: api.CodeUpstreamError, Message: "upstream " + path, Err: err}
		}
		return obj.appendJSON(nil, opts.dropped(k)), nil
	})
}

// cached answers from the response cache, or builds the response once for
// all concurrent callers with the same key. The build runs detached from
// the first caller's context, so that one client going away does not fail
// the others, and is bounded by Config.Timeout instead; each caller still
// stops waiting when its own context ends.
func (s *Service) cached(ctx context.Context, key string, build func(context.Context) ([]byte, error)) ([]byte, error) {
	if e, ok := s.cache.get(key, time.Now()); ok {
		s.hits.Inc()
		return e.body, e.err
	}
	s.misses.Inc()
	ch := s.flight.DoChan(key, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
		defer cancel()
		body, err := build(ctx)
		if err == nil || definitive(err) {
			s.cache.put(key, body, err, time.Now())
		}
		return body, err
	})
	select {
	case r := <-ch:
		body, _ := r.Val.([]byte)
		return body, r.Err
	case <-ctx.Done():
		return nil, failure(key, ctx.Err())
	}
}

// definitive errors are answers worth caching, unlike upstream failures.
func definitive(err error) bool {
	switch api.ErrorCode(err) {
	case api.CodeNotFound, api.CodeCharactersNotFound, api.CodeFilmsNotFound:
		return true
	}
	return false
}

// selectObjects applies the filters and the sort to the whole collection,
// then cuts it to max_items.
func selectObjects(objs []object, lq listQuery) []object {
	if len(lq.filters) > 0 {
		kept := make([]object, 0, len(objs))
		for _, o := range objs {
			if matchAll(o, lq.filters) {
				kept = append(kept, o)
			}
		}
		objs = kept
	}
	if lq.sortBy != "" {
		type keyed struct {
			obj object
			key value
		}
		ks := make([]keyed, len(objs))
		for i, o := range objs {
			ks[i] = keyed{o, o.scalar(lq.sortBy)}
		}
		// Stable, so that equal values keep the upstream order.
		slices.SortStableFunc(ks, func(a, b keyed) int { return compareValues(a.key, b.key, lq.desc) })
		objs = make([]object, len(ks))
		for i, k := range ks {
			objs[i] = k.obj
		}
	}
	if len(objs) > lq.maxItems {
		objs = objs[:lq.maxItems]
	}
	return objs
}

func matchAll(o object, filters []filter) bool {
	for _, f := range filters {
		if !f.match(o.scalar(f.field)) {
			return false
		}
	}
	return true
}

// renderList writes {"results":[...],"count":N}; an empty list is the
// kind's not-found error.
func (s *Service) renderList(k *kind, objs []object, opts options) ([]byte, error) {
	if len(objs) == 0 {
		return nil, api.Errorf(k.notFound, "no %s match", k.path)
	}
	drop := opts.dropped(k)
	buf := make([]byte, 0, 1024*len(objs))
	buf = append(buf, `{"results":[`...)
	for i, o := range objs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = o.appendJSON(buf, drop)
	}
	buf = append(buf, `],"count":`...)
	buf = strconv.AppendInt(buf, int64(len(objs)), 10)
	return append(buf, '}'), nil
}
