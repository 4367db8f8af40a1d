package swapi

import (
	"sync"
	"time"
)

// responseCache keeps rendered responses (or their definitive errors, such
// as not-found) per normalised query for a short time. It is what makes a
// hot read a map lookup: no upstream or Redis call, no decoding.
type responseCache struct {
	ttl  time.Duration // <= 0: keep nothing
	size int

	mu      sync.RWMutex
	entries map[string]cachedResponse
}

type cachedResponse struct {
	body    []byte
	err     error
	expires time.Time
}

func newResponseCache(ttl time.Duration, size int) *responseCache {
	return &responseCache{ttl: ttl, size: size, entries: make(map[string]cachedResponse)}
}

func (c *responseCache) get(key string, now time.Time) (cachedResponse, bool) {
	if c.ttl <= 0 {
		return cachedResponse{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || now.After(e.expires) {
		return cachedResponse{}, false
	}
	return e, true
}

// put stores a response. The cache is bounded because keys come from
// clients (any filter string): when full, expired entries go first, then
// arbitrary ones (map order is random, which is fair enough here).
func (c *responseCache) put(key string, body []byte, err error, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.size {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.size {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = cachedResponse{body: body, err: err, expires: now.Add(c.ttl)}
}
