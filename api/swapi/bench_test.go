package swapi

import (
	"context"
	"net/url"
	"sync"
	"testing"

	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/swapi/local"
)

// memFetcher replays upstream bodies recorded once, so that a benchmark
// measures this package's own work and not the loopback.
type memFetcher struct {
	next Fetcher
	mu   sync.Mutex
	seen map[string][]byte
}

func (m *memFetcher) Get(ctx context.Context, path string) ([]byte, error) {
	m.mu.Lock()
	body, ok := m.seen[path]
	m.mu.Unlock()
	if ok {
		return body, nil
	}
	body, err := m.next.Get(ctx, path)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.seen[path] = body
	m.mu.Unlock()
	return body, nil
}

func benchService(b *testing.B, ttl int) *Service {
	up := testenv.StartUpstream(b, dataDir, local.Options{})
	c, err := NewClient(ClientConfig{BaseURL: up.URL + "/api/"})
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{}
	if ttl < 0 {
		cfg.ResponseTTL = -1
	}
	s, err := New(cfg, &memFetcher{next: c, seen: map[string][]byte{}})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkFilmsCached is the hot path of GET /films/v1/: a rendered
// response reused from the in-process cache.
func BenchmarkFilmsCached(b *testing.B) {
	s := benchService(b, 0)
	ctx := context.Background()
	if _, err := s.Films(ctx, url.Values{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Films(ctx, url.Values{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPersonCached is GET /character/v1/1 with an option, cached.
func BenchmarkPersonCached(b *testing.B) {
	s := benchService(b, 0)
	ctx := context.Background()
	q := url.Values{"options[films]": {"false"}}
	if _, err := s.Person(ctx, "1", q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Person(ctx, "1", q); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPeopleSortedBuild is the cost of building a sorted, filtered
// list from upstream bodies already at hand (the Redis-cached path): nine
// pages decoded, filtered, sorted and rendered per call.
func BenchmarkPeopleSortedBuild(b *testing.B) {
	s := benchService(b, -1)
	ctx := context.Background()
	q := url.Values{"sort_by": {"height"}, "sort_order": {"desc"}, "filters": {"gender:eq:male"}, "max_items": {"20"}}
	if _, err := s.People(ctx, q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.People(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
