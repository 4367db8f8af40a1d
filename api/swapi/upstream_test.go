package swapi

import (
	"context"
	"encoding/json"
	"io/fs"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/swapi/local"
)

// dataDir is the data set the tests serve: the one built into package local.
var dataDir = local.Data

// depth is the longest chain of requests each of which started after the
// previous one had been answered: the number of sequential round trips.
func depth(log []testenv.Served) int {
	log = slices.Clone(log)
	slices.SortFunc(log, func(a, b testenv.Served) int { return a.Start.Compare(b.Start) })
	best := 0
	d := make([]int, len(log))
	for i := range log {
		d[i] = 1
		for j := range i {
			if !log[j].End.After(log[i].Start) {
				d[i] = max(d[i], d[j]+1)
			}
		}
		best = max(best, d[i])
	}
	return best
}

// recorder logs the calls made to a Fetcher. The fetch plan is judged on
// this log rather than on the server's: under load the HTTP transport may
// hand a request that waits for a slow dial a connection that another
// request has just freed, which looks sequential at the server although
// every request was issued at once.
type recorder struct {
	next Fetcher
	mu   sync.Mutex
	log  []testenv.Served
}

func (r *recorder) Get(ctx context.Context, path string) ([]byte, error) {
	start := time.Now()
	defer func() {
		r.mu.Lock()
		r.log = append(r.log, testenv.Served{Path: path, Start: start, End: time.Now()})
		r.mu.Unlock()
	}()
	return r.next.Get(ctx, path)
}

func (r *recorder) calls() []testenv.Served {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func newRecordingService(t testing.TB, base string, cfg Config) (*Service, *recorder) {
	t.Helper()
	c, err := NewClient(ClientConfig{BaseURL: base + "/api/", RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: c}
	s, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	return s, rec
}

func newTestService(t testing.TB, base string, cfg Config) *Service {
	t.Helper()
	c, err := NewClient(ClientConfig{BaseURL: base + "/api/", RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// person is the part of a person object the tests look at.
type person struct {
	Name   string `json:"name"`
	Height string `json:"height"`
	Mass   string `json:"mass"`
	Gender string `json:"gender"`
}

// loadPeople reads the data set directly, for expectations computed
// independently of the code under test.
func loadPeople(t testing.TB) ([]person, []json.RawMessage) {
	t.Helper()
	data, err := fs.ReadFile(dataDir, "people.json")
	if err != nil {
		t.Fatal(err)
	}
	var ps []person
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &ps); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &raws); err != nil {
		t.Fatal(err)
	}
	return ps, raws
}

func names(ps []person) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func sortedNames(ps []person, key func(a, b person) int) []string {
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, key)
	return names(ps)
}
