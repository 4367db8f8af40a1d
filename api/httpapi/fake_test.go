package httpapi_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fathat101/swdeploy/api"
)

// fakeStarWars answers the data routes with fixed bytes. Special ids make
// it fail in each of the ways the real one can.
type fakeStarWars struct {
	mu        sync.Mutex
	lastQuery url.Values
	lastID    string
}

func newFakeStarWars() *fakeStarWars { return &fakeStarWars{} }

var (
	personJSON = []byte(`{"name":"Luke Skywalker","height":"172","films":["https://swapi.dev/api/films/1/"]}`)
	peopleJSON = []byte(`{"results":[{"name":"Luke Skywalker"}],"count":1}`)
	filmJSON   = []byte(`{"title":"A New Hope","episode_id":4}`)
	filmsJSON  = []byte(`{"results":[{"title":"A New Hope","episode_id":4}],"count":1}`)
	// largeFilmJSON is as large as the real film list (18 KB).
	largeFilmJSON = []byte(`{"title":"A New Hope","opening_crawl":"` + strings.Repeat("It is a period of civil war. ", 640) + `"}`)
)

func (f *fakeStarWars) record(id string, q url.Values) {
	f.mu.Lock()
	f.lastID, f.lastQuery = id, q
	f.mu.Unlock()
}

func (f *fakeStarWars) last() (string, url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastID, f.lastQuery
}

func failure(id string) error {
	switch id {
	case "missing":
		return &api.Error{Code: api.CodeNotFound}
	case "bad":
		return api.BadParameter("options", "unknown group")
	case "upstream":
		return &api.Error{Code: api.CodeUpstreamError, Err: errors.New("dial tcp 10.0.0.1:443: connection refused")}
	case "timeout":
		return &api.Error{Code: api.CodeUpstreamTimeout, Err: context.DeadlineExceeded}
	case "internal":
		return errors.New("Error 1045 (28000): Access denied for user 'starwars'@'10.0.0.2' (using password: YES)")
	case "panic":
		panic("fake star wars panicked")
	}
	return nil
}

func (f *fakeStarWars) Person(_ context.Context, id string, q url.Values) ([]byte, error) {
	f.record(id, q)
	if err := failure(id); err != nil {
		return nil, err
	}
	return personJSON, nil
}

func (f *fakeStarWars) People(_ context.Context, q url.Values) ([]byte, error) {
	f.record("", q)
	switch {
	case q.Get("max_items") == "3":
		return nil, api.BadParameter("max_items", "below 5")
	case q.Get("sort_order") == "sideways":
		return nil, api.BadParameter("sort_order", "not asc or desc")
	case q.Get("filters") == "height:gte:9999":
		return nil, &api.Error{Code: api.CodeCharactersNotFound}
	case q.Get("slow") != "":
		time.Sleep(300 * time.Millisecond)
	}
	return peopleJSON, nil
}

func (f *fakeStarWars) Film(_ context.Context, id string, q url.Values) ([]byte, error) {
	f.record(id, q)
	if err := failure(id); err != nil {
		return nil, err
	}
	if id == "large" {
		return largeFilmJSON, nil
	}
	return filmJSON, nil
}

func (f *fakeStarWars) Films(_ context.Context, q url.Values) ([]byte, error) {
	f.record("", q)
	if q.Get("options[none]") == "true" {
		return nil, &api.Error{Code: api.CodeFilmsNotFound}
	}
	return filmsJSON, nil
}
