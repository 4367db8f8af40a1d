package testenv

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api/swapi/local"
)

// Upstream is the local SWAPI server over a data set, with a log of the
// requests it served and switches to make it fail or stall.
type Upstream struct {
	*httptest.Server
	Fail  atomic.Bool  // answer 500
	Stall atomic.Int64 // extra delay in ns

	mu  sync.Mutex
	log []*Served
}

// Served is one request in an Upstream's log.
type Served struct {
	Path       string
	Start, End time.Time
}

// StartUpstream serves the data set in data (local.Data: the built-in one)
// until the test ends.
func StartUpstream(t testing.TB, data fs.FS, opt local.Options) *Upstream {
	t.Helper()
	ds, err := local.LoadFS(data)
	if err != nil {
		t.Fatalf("load data set: %v", err)
	}
	u := &Upstream{}
	h := local.NewHandler(ds, opt)
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Logged on arrival: the client may have its answer before a
		// deferred entry would be written.
		e := &Served{Path: r.URL.RequestURI(), Start: time.Now()}
		u.mu.Lock()
		u.log = append(u.log, e)
		u.mu.Unlock()
		defer func() {
			u.mu.Lock()
			e.End = time.Now()
			u.mu.Unlock()
		}()
		if d := time.Duration(u.Stall.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if u.Fail.Load() {
			http.Error(w, `{"detail":"boom"}`, http.StatusInternalServerError)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// Requests returns a copy of the log, in order of arrival.
func (u *Upstream) Requests() []Served {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]Served, len(u.log))
	for i, e := range u.log {
		out[i] = *e
	}
	return out
}

// Count is the number of requests served so far.
func (u *Upstream) Count() int { return len(u.Requests()) }

// Reset empties the log.
func (u *Upstream) Reset() {
	u.mu.Lock()
	u.log = nil
	u.mu.Unlock()
}
