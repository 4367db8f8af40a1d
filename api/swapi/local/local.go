// Package local serves a SWAPI-compatible API over JSON files (one array per
// resource), so that tests, benchmarks and deployment checks never need the
// real swapi.dev. The SWAPI data set is built in (Data, Embedded); Load reads
// another from a folder. It can inject latency and failures to exercise the
// API server's timeouts and caches.
package local

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed data/*.json
var embedded embed.FS

// Data is the SWAPI data set built into the package (see data/README.md):
// people.json, films.json, ... at its root.
var Data fs.FS = mustSub(embedded, "data")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a literal that go:embed has checked
	}
	return sub
}

// Embedded loads the built-in data set.
func Embedded() (*Dataset, error) {
	return LoadFS(Data)
}

// PageSize is the number of objects in one list page, as on swapi.dev.
const PageSize = 10

// Dataset is the read-only data served: resources by name ("people",
// "films", ...), each in id order.
type Dataset struct {
	resources map[string]*resource
	names     []string // sorted resource names, for the root index
}

type resource struct {
	items []json.RawMessage // compact JSON objects in file order
	byID  map[int]json.RawMessage
}

// Load reads the data set in the folder dir, as LoadFS does.
func Load(dir string) (*Dataset, error) {
	ds, err := LoadFS(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return ds, nil
}

// LoadFS reads every <resource>.json file at the root of fsys. Each file
// holds a JSON array of objects; an object's id is taken from the end of its
// "url" (".../people/17/"), falling back to its position for data without
// URLs.
func LoadFS(fsys fs.FS) (*Dataset, error) {
	files, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("list data files: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("no *.json data files")
	}
	ds := &Dataset{resources: make(map[string]*resource, len(files))}
	for _, file := range files {
		name := strings.TrimSuffix(path.Base(file), ".json")
		res, err := loadResource(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", name, err)
		}
		ds.resources[name] = res
		ds.names = append(ds.names, name)
	}
	sort.Strings(ds.names)
	return ds, nil
}

func loadResource(fsys fs.FS, file string) (*resource, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	res := &resource{byID: make(map[int]json.RawMessage, len(raw))}
	for i, obj := range raw {
		var buf bytes.Buffer
		if err := json.Compact(&buf, obj); err != nil {
			return nil, fmt.Errorf("compact object %d: %w", i, err)
		}
		var head struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal(obj, &head); err != nil {
			return nil, fmt.Errorf("object %d is not an object: %w", i, err)
		}
		id := idFromURL(head.URL)
		if id == 0 {
			id = i + 1
		}
		if _, dup := res.byID[id]; dup {
			return nil, fmt.Errorf("duplicate id %d", id)
		}
		res.items = append(res.items, buf.Bytes())
		res.byID[id] = buf.Bytes()
	}
	return res, nil
}

// idFromURL returns the trailing number of ".../people/17/", or 0.
func idFromURL(u string) int {
	u = strings.TrimSuffix(u, "/")
	id, err := strconv.Atoi(u[strings.LastIndexByte(u, '/')+1:])
	if err != nil || id < 1 {
		return 0
	}
	return id
}

// Count returns the number of objects of a resource (0 when unknown).
func (ds *Dataset) Count(resource string) int {
	if r, ok := ds.resources[resource]; ok {
		return len(r.items)
	}
	return 0
}

// Options tune the handler.
type Options struct {
	// Latency delays every response (a request whose client goes away
	// stops waiting).
	Latency time.Duration
	// FailRate is the share of requests, 0 to 1, answered 500.
	FailRate float64
	// BaseURL is the API root used in "next" and "previous" links, e.g.
	// "http://swapi:8000/api/". Empty means the request's own host.
	BaseURL string
}

// NewHandler serves ds like swapi.dev: /api/, /api/<resource>/?page=N and
// /api/<resource>/<id>/, with 404 {"detail":"Not found"} for anything else.
func NewHandler(ds *Dataset, opt Options) http.Handler {
	return &handler{ds: ds, opt: opt}
}

type handler struct {
	ds  *Dataset
	opt Options
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opt.Latency > 0 {
		t := time.NewTimer(h.opt.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if h.opt.FailRate > 0 && rand.Float64() < h.opt.FailRate {
		writeJSON(w, http.StatusInternalServerError, []byte(`{"detail":"Injected failure"}`))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, fmt.Appendf(nil, `{"detail":%q}`, "Method \""+r.Method+"\" not allowed."))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		notFound(w)
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "":
		h.root(w, r)
	case len(parts) == 1:
		h.list(w, r, parts[0])
	case len(parts) == 2:
		h.detail(w, parts[0], parts[1])
	default:
		notFound(w)
	}
}

func (h *handler) baseURL(r *http.Request) string {
	if h.opt.BaseURL != "" {
		return strings.TrimSuffix(h.opt.BaseURL, "/") + "/"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/api/"
}

func (h *handler) root(w http.ResponseWriter, r *http.Request) {
	base := h.baseURL(r)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range h.ds.names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s:%s", jsonString(name), jsonString(base+name+"/"))
	}
	b.WriteByte('}')
	writeJSON(w, http.StatusOK, b.Bytes())
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, name string) {
	res, ok := h.ds.resources[name]
	if !ok {
		notFound(w)
		return
	}
	page := 1
	if p := r.URL.Query().Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			notFound(w)
			return
		}
		page = n
	}
	start := (page - 1) * PageSize
	// Page 1 of an empty resource exists (count 0); any other page past the
	// end does not, as on swapi.dev.
	if start >= len(res.items) && page != 1 {
		notFound(w)
		return
	}
	end := min(start+PageSize, len(res.items))
	pageURL := func(n int) string {
		return jsonString(h.baseURL(r) + name + "/?page=" + strconv.Itoa(n))
	}
	next, prev := "null", "null"
	if end < len(res.items) {
		next = pageURL(page + 1)
	}
	if page > 1 {
		prev = pageURL(page - 1)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"count":%d,"next":%s,"previous":%s,"results":[`, len(res.items), next, prev)
	for i, obj := range res.items[start:end] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(obj)
	}
	b.WriteString("]}")
	writeJSON(w, http.StatusOK, b.Bytes())
}

func (h *handler) detail(w http.ResponseWriter, name, idText string) {
	res, ok := h.ds.resources[name]
	if !ok {
		notFound(w)
		return
	}
	id, err := strconv.Atoi(idText)
	if err != nil {
		notFound(w)
		return
	}
	obj, ok := res.byID[id]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, []byte(`{"detail":"Not found"}`))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}
