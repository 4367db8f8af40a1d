package swapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/swapi/local"
)

type listBody struct {
	Results []json.RawMessage `json:"results"`
	Count   int               `json:"count"`
}

func decodeList(t *testing.T, body []byte) ([]person, listBody) {
	t.Helper()
	var lb listBody
	if err := json.Unmarshal(body, &lb); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if lb.Count != len(lb.Results) {
		t.Fatalf("count %d, %d results", lb.Count, len(lb.Results))
	}
	ps := make([]person, len(lb.Results))
	for i, r := range lb.Results {
		if err := json.Unmarshal(r, &ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ps, lb
}

func query(t *testing.T, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func num(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	return f, err == nil
}

// byNumber orders the way the contract says: numbers first (asc or desc),
// then the rest as strings in the same direction.
func byNumber(get func(person) string, desc bool) func(a, b person) int {
	return func(a, b person) int {
		x, xok := num(get(a))
		y, yok := num(get(b))
		sign := 1
		if desc {
			sign = -1
		}
		switch {
		case xok && yok:
			switch {
			case x < y:
				return -sign
			case x > y:
				return sign
			}
			return 0
		case xok:
			return -1
		case yok:
			return 1
		}
		return sign * strings.Compare(get(a), get(b))
	}
}

func reversed(s []string) []string {
	slices.Reverse(s)
	return s
}

func TestPeopleQueries(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	s := newTestService(t, up.URL, Config{})
	all, _ := loadPeople(t)
	height := func(p person) string { return p.Height }
	mass := func(p person) string { return p.Mass }
	filter := func(keep func(person) bool) []string {
		var out []person
		for _, p := range all {
			if keep(p) {
				out = append(out, p)
			}
		}
		return names(out)
	}
	first := func(n int, s []string) []string { return s[:min(n, len(s))] }

	tests := []struct {
		query string
		want  []string
	}{
		{"", first(10, names(all))},
		{"max_items=5", first(5, names(all))},
		{"max_items=82", names(all)},
		{"max_items=1000&batch_size=50", names(all)},
		{"filters=height:gte:180&filters=gender:eq:male", first(10, filter(func(p person) bool {
			h, ok := num(p.Height)
			return ok && h >= 180 && p.Gender == "male"
		}))},
		{"sort_by=height&sort_order=desc&max_items=5", first(5, sortedNames(all, byNumber(height, true)))},
		{"sort_by=name", first(10, slices.Sorted(slices.Values(names(all))))},
		{"sort_by=name&sort_order=desc&max_items=100", reversed(slices.Sorted(slices.Values(names(all))))},
		{"sort_by=height&max_items=100", sortedNames(all, byNumber(height, false))},
		{"sort_by=height&sort_order=desc&max_items=100", sortedNames(all, byNumber(height, true))},
		{"sort_by=mass&sort_order=desc&max_items=5", first(5, sortedNames(all, byNumber(mass, true)))},
		{"filters=mass:gt:1000", []string{"Jabba Desilijic Tiure"}},
		{"filters=mass:eq:1358", []string{"Jabba Desilijic Tiure"}},
		{"filters=mass:eq:1,358", []string{"Jabba Desilijic Tiure"}},
		{"filters=height:eq:172.0", filter(func(p person) bool { return p.Height == "172" })},
		{"filters=name:eq:Luke Skywalker", []string{"Luke Skywalker"}},
		{"filters=name:in:Leia Organa,Luke Skywalker", []string{"Luke Skywalker", "Leia Organa"}},
		{"filters=url:eq:https://swapi.dev/api/people/4/", []string{"Darth Vader"}},
		{"filters=height:lt:100&max_items=100", filter(func(p person) bool {
			h, ok := num(p.Height)
			return ok && h < 100
		})},
		{"filters=height:eq:unknown&max_items=100", filter(func(p person) bool { return p.Height == "unknown" })},
		{"filters=height:in:96,97", filter(func(p person) bool { return p.Height == "96" || p.Height == "97" })},
		{"filters=height:in:97,96&sort_by=height", []string{"R2-D2", "R4-P17", "R5-D4"}},
		{"filters=gender:eq:female&sort_by=height&sort_order=desc&max_items=5", first(5, func() []string {
			var fs []person
			for _, p := range all {
				if p.Gender == "female" {
					fs = append(fs, p)
				}
			}
			return sortedNames(fs, byNumber(height, true))
		}())},
		{"unknown_parameter=1&sort_order=asc", first(10, names(all))},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			body, err := s.People(t.Context(), query(t, tt.query))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := decodeList(t, body)
			if !slices.Equal(names(got), tt.want) {
				t.Errorf("got  %q\nwant %q", names(got), tt.want)
			}
		})
	}
}

func TestSortPutsUnknownLast(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	s := newTestService(t, up.URL, Config{})
	for _, order := range []string{"asc", "desc"} {
		body, err := s.People(t.Context(), query(t, "sort_by=height&max_items=100&sort_order="+order))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := decodeList(t, body)
		if got[len(got)-1].Height != "unknown" || got[0].Height == "unknown" {
			t.Errorf("%s: unknown is not last: first %q, last %q", order, got[0].Height, got[len(got)-1].Height)
		}
		firstUnknown := slices.IndexFunc(got, func(p person) bool { return p.Height == "unknown" })
		for _, p := range got[firstUnknown:] {
			if p.Height != "unknown" {
				t.Errorf("%s: %s (%s) after an unknown", order, p.Name, p.Height)
			}
		}
	}
}

func TestPeopleKeepsUpstreamShape(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	s := newTestService(t, up.URL, Config{})
	_, raws := loadPeople(t)
	body, err := s.People(t.Context(), query(t, "max_items=82"))
	if err != nil {
		t.Fatal(err)
	}
	_, lb := decodeList(t, body)
	for i, r := range lb.Results {
		var want bytes.Buffer
		if err := json.Compact(&want, raws[i]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r, want.Bytes()) {
			t.Fatalf("result %d differs from upstream:\n got  %s\n want %s", i, r, want.Bytes())
		}
	}
	if !bytes.HasPrefix(body, []byte(`{"results":[{"name":"Luke Skywalker","height":"172",`)) ||
		!bytes.HasSuffix(body, []byte(`],"count":82}`)) {
		t.Errorf("unexpected envelope: %.80s ... %s", body, body[len(body)-20:])
	}
}

// keys returns an object's keys in order.
func keys(t *testing.T, raw []byte) []string {
	t.Helper()
	obj, err := decodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, f := range obj {
		ks = append(ks, f.name)
	}
	return ks
}

func TestOptions(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	s := newTestService(t, up.URL, Config{})
	personKeys := []string{"name", "height", "mass", "hair_color", "skin_color", "eye_color", "birth_year",
		"gender", "homeworld", "films", "species", "vehicles", "starships", "created", "edited", "url"}
	filmKeys := []string{"title", "episode_id", "opening_crawl", "director", "producer", "release_date",
		"characters", "planets", "starships", "vehicles", "species", "created", "edited", "url"}
	without := func(all []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(k string) bool { return slices.Contains(drop, k) })
	}
	first := func(body []byte) []byte {
		var lb listBody
		if err := json.Unmarshal(body, &lb); err != nil {
			t.Fatal(err)
		}
		return lb.Results[0]
	}
	ctx := t.Context()
	tests := []struct {
		name  string
		call  func(q url.Values) ([]byte, error)
		list  bool
		query string
		want  []string
	}{
		{"person all", func(q url.Values) ([]byte, error) { return s.Person(ctx, "1", q) }, false, "", personKeys},
		{"person true", func(q url.Values) ([]byte, error) { return s.Person(ctx, "1", q) }, false, "options[films]=true", personKeys},
		{"person attributes", func(q url.Values) ([]byte, error) { return s.Person(ctx, "1", q) }, false,
			"options[attributes]=false", without(personKeys, "height", "mass", "hair_color", "skin_color", "eye_color", "birth_year")},
		{"person lists", func(q url.Values) ([]byte, error) { return s.Person(ctx, "1", q) }, false,
			"options[films]=FALSE&options[starships]=false&options[vehicles]=false", without(personKeys, "films", "starships", "vehicles")},
		{"people", func(q url.Values) ([]byte, error) { return s.People(ctx, q) }, true, "options[vehicles]=false&sort_by=height", without(personKeys, "vehicles")},
		{"film", func(q url.Values) ([]byte, error) { return s.Film(ctx, "1", q) }, false,
			"options[characters]=false&options[planets]=false", without(filmKeys, "characters", "planets")},
		{"films", func(q url.Values) ([]byte, error) { return s.Films(ctx, q) }, true, "options[species]=false&options[starships]=false&options[vehicles]=false",
			without(filmKeys, "species", "starships", "vehicles")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := tt.call(query(t, tt.query))
			if err != nil {
				t.Fatal(err)
			}
			if tt.list {
				body = first(body)
			}
			if got := keys(t, body); !slices.Equal(got, tt.want) {
				t.Errorf("keys %q, want %q", got, tt.want)
			}
		})
	}
}

func code(err error) (string, string) {
	var e *api.Error
	if errors.As(err, &e) {
		return e.Code, e.Parameter
	}
	return "not an *api.Error: " + err.Error(), ""
}

func TestErrors(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	s := newTestService(t, up.URL, Config{})
	ctx := t.Context()
	tests := []struct {
		name      string
		call      func() ([]byte, error)
		code      string
		parameter string
	}{
		{"no match", func() ([]byte, error) { return s.People(ctx, query(t, "filters=name:eq:Jar Jar")) }, api.CodeCharactersNotFound, ""},
		{"max_items 3", func() ([]byte, error) { return s.People(ctx, query(t, "max_items=3")) }, api.CodeBadRequest, "max_items"},
		{"max_items word", func() ([]byte, error) { return s.People(ctx, query(t, "max_items=ten")) }, api.CodeBadRequest, "max_items"},
		{"batch_size 9", func() ([]byte, error) { return s.People(ctx, query(t, "batch_size=9")) }, api.CodeBadRequest, "batch_size"},
		{"sort_order sideways", func() ([]byte, error) { return s.People(ctx, query(t, "sort_by=name&sort_order=sideways")) }, api.CodeBadRequest, "sort_order"},
		{"sort_by list", func() ([]byte, error) { return s.People(ctx, query(t, "sort_by=films")) }, api.CodeBadRequest, "sort_by"},
		{"sort_by unknown", func() ([]byte, error) { return s.People(ctx, query(t, "sort_by=age")) }, api.CodeBadRequest, "sort_by"},
		{"filter op", func() ([]byte, error) { return s.People(ctx, query(t, "filters=height:like:1")) }, api.CodeBadRequest, "filters"},
		{"filter non-number", func() ([]byte, error) { return s.People(ctx, query(t, "filters=height:gte:tall")) }, api.CodeBadRequest, "filters"},
		{"filter list field", func() ([]byte, error) { return s.People(ctx, query(t, "filters=films:eq:x")) }, api.CodeBadRequest, "filters"},
		{"filter unknown field", func() ([]byte, error) { return s.People(ctx, query(t, "filters=age:eq:1")) }, api.CodeBadRequest, "filters"},
		{"filter shape", func() ([]byte, error) { return s.People(ctx, query(t, "filters=height")) }, api.CodeBadRequest, "filters"},
		{"option group", func() ([]byte, error) { return s.People(ctx, query(t, "options[planets]=false")) }, api.CodeBadRequest, "options"},
		{"option value", func() ([]byte, error) { return s.Films(ctx, query(t, "options[planets]=maybe")) }, api.CodeBadRequest, "options"},
		{"person 17", func() ([]byte, error) { return s.Person(ctx, "17", nil) }, api.CodeNotFound, ""},
		{"person 0", func() ([]byte, error) { return s.Person(ctx, "0", nil) }, api.CodeNotFound, ""},
		{"person word", func() ([]byte, error) { return s.Person(ctx, "luke", nil) }, api.CodeNotFound, ""},
		{"person path", func() ([]byte, error) { return s.Person(ctx, "../films/1", nil) }, api.CodeNotFound, ""},
		{"film 7", func() ([]byte, error) { return s.Film(ctx, "7", nil) }, api.CodeNotFound, ""},
		{"film huge", func() ([]byte, error) { return s.Film(ctx, "99999999999999999999", nil) }, api.CodeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if c, p := code(err); c != tt.code || p != tt.parameter {
				t.Errorf("got %s (%s), want %s (%s)", c, p, tt.code, tt.parameter)
			}
		})
	}
	// Bad requests are refused before anything is fetched.
	up.Reset()
	_, _ = s.People(ctx, query(t, "sort_by=films"))
	_, _ = s.Person(ctx, "../films/1", nil)
	if n := up.Count(); n != 0 {
		t.Errorf("%d upstream requests for invalid queries", n)
	}
}

func TestSingleObjects(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	s := newTestService(t, up.URL, Config{})
	body, err := s.Person(t.Context(), "4", nil)
	if err != nil {
		t.Fatal(err)
	}
	var p person
	if err := json.Unmarshal(body, &p); err != nil || p.Name != "Darth Vader" {
		t.Errorf("person 4: %s (%v)", body, err)
	}
	body, err = s.Film(t.Context(), "01", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(body, []byte(`{"title":"A New Hope","episode_id":4,`)) {
		t.Errorf("film 1: %.60s", body)
	}
	body, err = s.Films(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var lb listBody
	if err := json.Unmarshal(body, &lb); err != nil || lb.Count != 6 || len(lb.Results) != 6 {
		t.Errorf("films: count %d, %d results (%v)", lb.Count, len(lb.Results), err)
	}
}

// TestColdListIsOneRoundTrip checks the fetch plan through a log of the
// upstream calls rather than the clock: the number of sequential round
// trips is the longest chain of calls each starting after the previous one
// returned. The upstream answers each request after 50 ms.
func TestColdListIsOneRoundTrip(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{Latency: 50 * time.Millisecond})
	tests := []struct {
		query    string
		requests int
		depth    int
	}{
		{"max_items=82", 9, 1},
		{"max_items=25", 3, 1},
		{"max_items=100", 10, 1}, // page 10 answers 404: the end
		{"sort_by=height&sort_order=desc&max_items=5", 9, 2},
		{"filters=gender:eq:male", 9, 2},
		{"max_items=500", 9, 2}, // too many pages to guess blind: page 1 first
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			s, rec := newRecordingService(t, up.URL, Config{}) // cold: knows no count
			up.Reset()
			if _, err := s.People(t.Context(), query(t, tt.query)); err != nil {
				t.Fatal(err)
			}
			calls := rec.calls()
			if len(calls) != tt.requests || depth(calls) != tt.depth {
				t.Errorf("%d calls in %d round trips, want %d in %d: %v", len(calls), depth(calls), tt.requests, tt.depth, calls)
			}
			if n := up.Count(); n != tt.requests {
				t.Errorf("the upstream served %d requests, want %d", n, tt.requests)
			}
		})
	}
	t.Run("count known", func(t *testing.T) {
		s, rec := newRecordingService(t, up.URL, Config{ResponseTTL: -1})
		if _, err := s.People(t.Context(), query(t, "max_items=5")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.People(t.Context(), query(t, "sort_by=name")); err != nil {
			t.Fatal(err)
		}
		if calls := rec.calls()[1:]; len(calls) != 9 || depth(calls) != 1 {
			t.Errorf("%d calls in %d round trips, want 9 in 1", len(calls), depth(calls))
		}
	})
}

func TestUpstreamFailures(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	// A test-level deadline far beyond the configured timeouts turns a
	// hang into a failure instead of a stuck test.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := NewClient(ClientConfig{BaseURL: up.URL + "/api/", RequestTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Timeout: time.Second, ResponseTTL: -1}, c)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name, want string, call func() ([]byte, error)) {
		t.Helper()
		_, err := call()
		if got, _ := code(err); got != want {
			t.Errorf("%s: got %s, want %s", name, got, want)
		}
	}
	up.Fail.Store(true)
	check("people 500", api.CodeUpstreamError, func() ([]byte, error) { return s.People(ctx, nil) })
	check("sorted people 500", api.CodeUpstreamError, func() ([]byte, error) { return s.People(ctx, query(t, "sort_by=name")) })
	check("film 500", api.CodeUpstreamError, func() ([]byte, error) { return s.Film(ctx, "1", nil) })
	up.Fail.Store(false)
	up.Stall.Store(int64(5 * time.Second))
	check("people stalled", api.CodeUpstreamTimeout, func() ([]byte, error) { return s.People(ctx, query(t, "max_items=82")) })
	check("person stalled", api.CodeUpstreamTimeout, func() ([]byte, error) { return s.Person(ctx, "1", nil) })
	up.Stall.Store(0)
	if err := ctx.Err(); err != nil {
		t.Fatalf("calls outlived their timeouts: %v", err)
	}

	// An upstream URL that is not a SWAPI root answers 404 for every page.
	wrong := newTestService(t, up.URL+"/nothing", Config{})
	check("wrong root", api.CodeUpstreamError, func() ([]byte, error) { return wrong.Films(ctx, nil) })
	check("wrong root", api.CodeUpstreamError, func() ([]byte, error) { return wrong.People(ctx, nil) })

	// Nothing listens here any more: a refused connection is an upstream error.
	dead := testenv.StartUpstream(t, dataDir, local.Options{})
	dead.Close()
	d := newTestService(t, dead.URL, Config{})
	check("refused", api.CodeUpstreamError, func() ([]byte, error) { return d.Films(ctx, nil) })
}

func TestCallerLeavingStopsWaiting(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	up.Stall.Store(int64(3 * time.Second))
	s := newTestService(t, up.URL, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.Films(ctx, nil)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("no error after cancel")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Films kept waiting after its caller left")
	}
}

func TestResponseCache(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{Latency: 20 * time.Millisecond})
	s := newTestService(t, up.URL, Config{ResponseTTL: time.Minute})
	ctx := t.Context()
	// Concurrent cold calls for one query share one build.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.Films(ctx, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := up.Count(); n != 1 {
		t.Errorf("%d upstream requests for 20 concurrent reads, want 1", n)
	}
	first, _ := s.Films(ctx, nil)
	for range 10 {
		body, err := s.Films(ctx, url.Values{})
		if err != nil || !bytes.Equal(body, first) {
			t.Fatalf("cached read differs: %v", err)
		}
	}
	_, _ = s.Person(ctx, "17", nil)
	_, _ = s.Person(ctx, "17", nil)
	// Person 17's 404 also reads the 9 people pages once, to learn where
	// the collection ends (see bounds).
	if n := up.Count(); n != 2+9 {
		t.Errorf("%d upstream requests, want 11 (films page 1, person 17 once, 9 people pages)", n)
	}
	// Filter order does not matter; batch_size does not change the answer.
	_, _ = s.People(ctx, query(t, "filters=gender:eq:male&filters=height:gte:180"))
	n := up.Count()
	_, _ = s.People(ctx, query(t, "filters=height:gte:180&filters=gender:eq:male&batch_size=20"))
	if up.Count() != n {
		t.Error("an equivalent query was not served from the cache")
	}
}
