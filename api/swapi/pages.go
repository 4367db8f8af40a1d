package swapi

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fathat101/swdeploy/api"
)

// PageSize is the number of objects in one upstream list page (swapi.dev's).
const PageSize = 10

// all asks collect for the whole collection.
const all = -1

// collect returns the first want objects of a collection (all of them when
// want is all), in upstream order. Pages go to the upstream concurrently in
// at most two rounds: first the pages the request needs as far as can be
// told without the count (every one of them when the count of an earlier
// call is known or few pages are needed; page 1 alone otherwise), then,
// once the count is known, every page still missing at once. A cold
// max_items=82 is thus one round trip, and a cold sort over the whole
// collection two; never a page-by-page walk.
func (s *Service) collect(ctx context.Context, k *kind, want int) ([]object, error) {
	seen := s.counts[k.path]
	first := firstRound(want, int(seen.Load()), s.cfg.SpeculativePages, s.cfg.MaxPages)
	pages, err := s.fetchPages(ctx, k, 1, first)
	if err != nil {
		return nil, err
	}
	if pages[0].missing {
		// Page 1 exists even for an empty collection: a 404 here means a
		// wrong upstream URL, not "no characters".
		return nil, api.Errorf(api.CodeUpstreamError, "upstream %s/?page=1: 404", k.path)
	}
	count := 0
	for _, p := range pages {
		count = max(count, p.count) // page 1 may be missing from a stale guess
	}
	seen.Store(int64(count))
	need := min(pagesFor(count, want), s.cfg.MaxPages)
	if need > first {
		more, err := s.fetchPages(ctx, k, first+1, need)
		if err != nil {
			return nil, err
		}
		pages = append(pages, more...)
	}
	var objs []object
	for _, p := range pages[:min(need, len(pages))] {
		if p.missing { // the collection ended earlier than its count said
			break
		}
		objs = append(objs, p.results...)
	}
	if len(objs) == count {
		s.bounds.learn(k.path, objs, time.Now())
	}
	if want != all && len(objs) > want {
		objs = objs[:want]
	}
	return objs, nil
}

// firstRound is the number of pages to fetch before the count is known.
// Beyond speculative pages a blind guess would cost the upstream too many
// requests for pages that may not exist, so page 1 goes alone.
func firstRound(want, known, speculative, maxPages int) int {
	n := 1
	switch {
	case known > 0:
		n = pagesFor(known, want)
	case want != all && ceilDiv(want, PageSize) <= speculative:
		n = ceilDiv(want, PageSize)
	}
	return max(1, min(n, maxPages))
}

// pagesFor is the number of pages holding the first want of count objects.
func pagesFor(count, want int) int {
	n := ceilDiv(count, PageSize)
	if want != all {
		n = min(n, ceilDiv(want, PageSize))
	}
	return n
}

func ceilDiv(a, b int) int {
	n := a / b
	if a%b != 0 {
		n++
	}
	return n
}

type fetchedPage struct {
	page
	missing bool // the upstream answered 404: past the end
}

// fetchPages fetches pages from..to (inclusive) at once; the first failure
// cancels the rest. A 404 page is past the end, not an error.
func (s *Service) fetchPages(ctx context.Context, k *kind, from, to int) ([]fetchedPage, error) {
	pages := make([]fetchedPage, to-from+1)
	g, ctx := errgroup.WithContext(ctx)
	for i := range pages {
		g.Go(func() error {
			path := k.path + "/?page=" + strconv.Itoa(from+i)
			body, err := s.fetcher.Get(ctx, path)
			if api.ErrorCode(err) == api.CodeNotFound {
				pages[i].missing = true
				return nil
			}
			if err != nil {
				return asUpstream(path, err)
			}
			p, err := s.decoded.page(path, body)
			if err != nil {
				return &api.Error{Code: api.CodeUpstreamError, Message: "upstream " + path, Err: err}
			}
			pages[i].page = p
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return pages, nil
}

// asUpstream makes sure that an error from a Fetcher is an *api.Error.
func asUpstream(path string, err error) error {
	if _, ok := errors.AsType[*api.Error](err); ok {
		return err
	}
	return failure(path, err)
}

// pageMemo keeps the last decoded form of each list page. Decoding keeps
// key order and is the costly part of building a list; when the Fetcher
// (Redis) hands back the same bytes as last time, the decoded objects,
// which nothing modifies, are reused. Its paths are the Service's own
// (collection pages up to MaxPages), so it stays small.
type pageMemo struct {
	mu    sync.Mutex
	pages map[string]memoPage
}

type memoPage struct {
	body []byte
	page page
}

func (m *pageMemo) page(path string, body []byte) (page, error) {
	m.mu.Lock()
	e, ok := m.pages[path]
	m.mu.Unlock()
	if ok && bytes.Equal(e.body, body) {
		return e.page, nil
	}
	p, err := decodePage(body)
	if err != nil {
		return page{}, err
	}
	m.mu.Lock()
	if m.pages == nil {
		m.pages = make(map[string]memoPage)
	}
	m.pages[path] = memoPage{body: body, page: p}
	m.mu.Unlock()
	return p, nil
}
