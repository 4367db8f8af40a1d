package local_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fathat101/swdeploy/api/swapi/local"
)

type listPage struct {
	Count    int               `json:"count"`
	Next     *string           `json:"next"`
	Previous *string           `json:"previous"`
	Results  []json.RawMessage `json:"results"`
}

func start(t *testing.T, opt local.Options) *httptest.Server {
	t.Helper()
	ds, err := local.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(local.NewHandler(ds, opt))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: content type %q", u, ct)
	}
	return resp.StatusCode, body
}

func TestEmbedded(t *testing.T) {
	ds, err := local.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"people": 82, "films": 6, "planets": 60, "species": 37, "starships": 36, "vehicles": 39}
	for name, n := range want {
		if got := ds.Count(name); got != n {
			t.Errorf("%s: %d objects, want %d", name, got, n)
		}
	}
	if n := ds.Count("README"); n != 0 {
		t.Errorf("the data folder's README loaded as a resource of %d objects", n)
	}
}

// TestLoadFolder reads another data set from disk, as swapi-local -data does.
func TestLoadFolder(t *testing.T) {
	dir := t.TempDir()
	films, err := fs.ReadFile(local.Data, "films.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "films.json"), films, 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := local.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Count("films") != 6 || ds.Count("people") != 0 {
		t.Errorf("films %d, people %d; want 6, 0", ds.Count("films"), ds.Count("people"))
	}
	if _, err := local.Load(t.TempDir()); err == nil {
		t.Error("an empty folder loaded")
	}
	if err := os.WriteFile(filepath.Join(dir, "people.json"), []byte(`{"not":"an array"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Load(dir); err == nil || !strings.Contains(err.Error(), "people") {
		t.Errorf("a broken file: error %v, want one naming people", err)
	}
}

func TestPagesFollowNext(t *testing.T) {
	srv := start(t, local.Options{})
	next := srv.URL + "/api/people/"
	var pages, objects int
	for next != "" {
		status, body := get(t, next)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", next, status, body)
		}
		var p listPage
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		pages++
		objects += len(p.Results)
		if p.Count != 82 {
			t.Errorf("count %d", p.Count)
		}
		wantPrev := srv.URL + "/api/people/?page=" + strconv.Itoa(pages-1)
		if (pages == 1) != (p.Previous == nil) || (pages > 1 && *p.Previous != wantPrev) {
			t.Errorf("page %d: previous %v, want %s", pages, p.Previous, wantPrev)
		}
		next = ""
		if p.Next != nil {
			next = *p.Next
		}
	}
	if pages != 9 || objects != 82 {
		t.Errorf("%d pages, %d objects; want 9, 82", pages, objects)
	}
}

func TestRoutes(t *testing.T) {
	srv := start(t, local.Options{BaseURL: "http://swapi:8000/api"})
	tests := []struct {
		path   string
		status int
		check  func(body []byte) bool
	}{
		{"/api/", 200, func(b []byte) bool {
			var m map[string]string
			return json.Unmarshal(b, &m) == nil && m["films"] == "http://swapi:8000/api/films/"
		}},
		{"/api/people/1/", 200, func(b []byte) bool { return string(b[:25]) == `{"name":"Luke Skywalker",` }},
		{"/api/people/1", 200, nil},
		{"/api/films/?page=1", 200, func(b []byte) bool {
			var p listPage
			return json.Unmarshal(b, &p) == nil && p.Count == 6 && p.Next == nil && len(p.Results) == 6
		}},
		{"/api/people/?page=2", 200, func(b []byte) bool {
			var p listPage
			return json.Unmarshal(b, &p) == nil && *p.Next == "http://swapi:8000/api/people/?page=3" &&
				*p.Previous == "http://swapi:8000/api/people/?page=1"
		}},
		{"/api/people/?page=9", 200, func(b []byte) bool {
			var p listPage
			return json.Unmarshal(b, &p) == nil && p.Next == nil && len(p.Results) == 2
		}},
		{"/api/people/?page=10", 404, nil},
		{"/api/people/?page=0", 404, nil},
		{"/api/people/?page=x", 404, nil},
		{"/api/people/17/", 404, nil},
		{"/api/people/x/", 404, nil},
		{"/api/unknown/", 404, nil},
		{"/api/people/1/films/", 404, nil},
		{"/people/1/", 404, nil},
	}
	for _, tt := range tests {
		status, body := get(t, srv.URL+tt.path)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, status, tt.status)
			continue
		}
		if status == 404 && string(body) != `{"detail":"Not found"}` {
			t.Errorf("%s: body %s", tt.path, body)
		}
		if tt.check != nil && !tt.check(body) {
			t.Errorf("%s: unexpected body %.200s", tt.path, body)
		}
	}
	resp, err := http.Post(srv.URL+"/api/people/", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func TestInjectedFailures(t *testing.T) {
	srv := start(t, local.Options{FailRate: 1})
	for range 5 {
		if status, _ := get(t, srv.URL+"/api/films/1/"); status != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", status)
		}
	}
}
