package auth

import (
	"sync"
	"time"

	"github.com/fathat101/swdeploy/api"
)

// verifiedSize bounds the tokens remembered as verified: about 1 KiB each
// (the token and its claims), so at most a few MiB.
const verifiedSize = 4096

// verified remembers tokens that passed every check, by their exact text,
// so that a client presenting the same token again costs a map lookup
// instead of a signature check and a JSON decode. The checks that passed
// depend only on the text and the key, except expiry, which each lookup
// checks again; failures are never remembered.
type verified struct {
	mu      sync.RWMutex
	entries map[string]api.Claims
}

func (v *verified) get(token string) (api.Claims, bool) {
	v.mu.RLock()
	c, ok := v.entries[token]
	v.mu.RUnlock()
	return c, ok
}

// put remembers c. When full, expired entries go first, then arbitrary
// ones: the map's order is random, and a token evicted is only checked in
// full again.
func (v *verified) put(token string, c api.Claims, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil {
		v.entries = make(map[string]api.Claims)
	}
	if len(v.entries) >= verifiedSize {
		for k, e := range v.entries {
			if !now.Before(e.ExpiresAt) {
				delete(v.entries, k)
			}
		}
		for k := range v.entries {
			if len(v.entries) < verifiedSize*3/4 {
				break
			}
			delete(v.entries, k)
		}
	}
	v.entries[token] = c
}

func (v *verified) remove(token string) {
	v.mu.Lock()
	delete(v.entries, token)
	v.mu.Unlock()
}
