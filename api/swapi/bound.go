package swapi

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// SWAPI ids are not dense (people has no 17, and its 82 people end at 83),
// so neither the count nor the number of pages bounds them: only the ids
// seen in a complete read of the collection do. An id above the largest
// one is answered "not found" without asking the upstream, so that a
// stream of made-up ids costs neither upstream calls nor cache entries; an
// id at or below it is always asked, gaps included.

// idBound is the largest id of a collection and when it was learned.
type idBound struct {
	max int
	at  time.Time
}

// bounds holds the last idBound learned per collection.
type bounds map[string]*atomic.Pointer[idBound]

// beyond reports whether id is above a bound learned within ttl.
func (b bounds) beyond(path string, id int, now time.Time, ttl time.Duration) bool {
	cur := b[path].Load()
	return ttl > 0 && cur != nil && now.Sub(cur.at) < ttl && id > cur.max
}

// fresh reports whether a bound learned within ttl is known.
func (b bounds) fresh(path string, now time.Time, ttl time.Duration) bool {
	cur := b[path].Load()
	return cur != nil && now.Sub(cur.at) < ttl
}

// learn records the largest id of a complete collection. An object
// without an id in its url leaves the bound unknown rather than wrong.
func (b bounds) learn(path string, objs []object, now time.Time) {
	largest := 0
	for _, o := range objs {
		id, ok := objectID(o)
		if !ok {
			return
		}
		largest = max(largest, id)
	}
	b[path].Store(&idBound{max: largest, at: now})
}

// objectID reads the id at the end of an object's url (".../people/83/").
func objectID(o object) (int, bool) {
	for _, f := range o {
		if f.name != "url" {
			continue
		}
		var u string
		if json.Unmarshal(f.val, &u) != nil {
			return 0, false
		}
		u = strings.TrimSuffix(u, "/")
		id, err := strconv.Atoi(u[strings.LastIndexByte(u, '/')+1:])
		return id, err == nil && id > 0
	}
	return 0, false
}

// learnBound reads the whole collection once for all concurrent callers,
// unless a fresh bound is known; collect records the bound. It follows an
// upstream 404 for an id, so that after one unknown id the next ones above
// the collection are answered here. A failure only leaves the bound
// unknown.
func (s *Service) learnBound(ctx context.Context, k *kind) {
	if s.cfg.IDBoundTTL <= 0 || s.bounds.fresh(k.path, time.Now(), s.cfg.IDBoundTTL) {
		return
	}
	_, _, _ = s.flight.Do("bound|"+k.path, func() (any, error) {
		_, err := s.collect(ctx, k, all)
		return nil, err
	})
}
