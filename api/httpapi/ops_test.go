package httpapi_test

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v4"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/httpapi"
)

func TestOperations(t *testing.T) {
	e := newEnv(t)

	r := e.do(req{method: "GET", path: "/healthz"})
	expect(t, "healthz", r, 200, "")
	if string(r.raw) != `{"status":"ok"}` {
		t.Errorf("healthz body %s", r.raw)
	}
	expect(t, "readyz", e.do(req{method: "GET", path: "/readyz"}), 200, "")

	e.setDown("mysql", errors.New("dial tcp 127.0.0.1:3306: connection refused"))
	r = e.do(req{method: "GET", path: "/readyz"})
	expect(t, "readyz, mysql down", r, 503, api.CodeUnavailable)
	if got := r.body["unavailable"]; len(got.([]any)) != 1 || got.([]any)[0] != "mysql" {
		t.Errorf("readyz names %v", got)
	}
	e.setDown("redis", errors.New("redis down"))
	r = e.do(req{method: "GET", path: "/readyz"})
	if got := r.body["unavailable"].([]any); len(got) != 2 || got[0] != "mysql" || got[1] != "redis" {
		t.Errorf("readyz names %v", got)
	}
	if strings.Contains(string(r.raw), "refused") {
		t.Errorf("cause leaked: %s", r.raw)
	}
	e.setDown("mysql", nil)
	r = e.do(req{method: "GET", path: "/readyz"})
	if got := r.body["unavailable"].([]any); r.status != 503 || len(got) != 1 || got[0] != "redis" {
		t.Errorf("readyz, redis down: %d %s", r.status, r.raw)
	}
	e.setDown("redis", nil)
	expect(t, "healthz while things are down", e.do(req{method: "GET", path: "/healthz"}), 200, "")

	r = e.do(req{method: "GET", path: "/openapi.yaml"})
	if r.status != 200 || string(r.raw) != string(httpapi.OpenAPI()) || r.header.Get("Content-Type") != "application/yaml" {
		t.Errorf("openapi.yaml: %d %q", r.status, r.header.Get("Content-Type"))
	}

	r = e.do(req{method: "GET", path: "/ui"})
	if r.status != http.StatusMovedPermanently || r.header.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %q", r.status, r.header.Get("Location"))
	}
	r = e.do(req{method: "GET", path: "/ui/"})
	if r.status != 200 || !strings.Contains(string(r.raw), "swagger-ui-bundle.js") {
		t.Errorf("/ui/: %d", r.status)
	}
	r = e.do(req{method: "GET", path: "/ui/swagger-initializer.js"})
	if r.status != 200 || !strings.Contains(string(r.raw), `"../openapi.yaml"`) || strings.Contains(string(r.raw), "petstore") {
		t.Errorf("initializer: %d %s", r.status, r.raw)
	}
	for _, asset := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js", "index.css"} {
		if r := e.do(req{method: "GET", path: "/ui/" + asset}); r.status != 200 || len(r.raw) == 0 {
			t.Errorf("%s: %d", asset, r.status)
		}
	}
	expect(t, "missing asset", e.do(req{method: "GET", path: "/ui/nope.js"}), 404, api.CodeNotFound)
	expect(t, "traversal", e.do(req{method: "GET", path: "/ui/..%2Fopenapi.yaml"}), 404, api.CodeNotFound)

	expect(t, "unknown path", e.do(req{method: "GET", path: "/nope"}), 404, api.CodeNotFound)
	expect(t, "wrong method", e.do(req{method: "DELETE", path: "/healthz"}), 405, api.CodeMethodNotAllowed)
	expect(t, "POST films", e.do(req{method: "POST", path: "/films/v1/", body: "{}"}), 405, api.CodeMethodNotAllowed)
	expect(t, "POST user", e.do(req{method: "POST", path: "/users/v1/1", body: "{}"}), 405, api.CodeMethodNotAllowed)
	// chi falls back to /users/v1/{user_id} for a method the static route
	// lacks: GET /users/v1/login is a user lookup with id "login".
	expect(t, "GET login", e.do(req{method: "GET", path: "/users/v1/login"}), 401, api.CodeAuthorisationNeeded)

	// Request ids: a plain one from the client is kept, others replaced.
	r = e.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "trace-123"}})
	if r.header.Get("X-Request-Id") != "trace-123" {
		t.Errorf("request id %q", r.header.Get("X-Request-Id"))
	}
	r = e.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "bad id\"with quotes"}})
	if id := r.header.Get("X-Request-Id"); id == "" || strings.Contains(id, "quotes") {
		t.Errorf("request id %q", id)
	}

	// Metrics by route pattern and status.
	s := e.user("metered")
	e.do(req{method: "GET", path: "/films/v1/7", token: s.access})
	e.do(req{method: "GET", path: "/films/v1/missing", token: s.access})
	r = e.do(req{method: "GET", path: "/metrics"})
	metrics := string(r.raw)
	for _, want := range []string{
		`starwars_http_requests_total{method="GET",route="/films/v1/{film_id}",status="200"} 1`,
		`starwars_http_requests_total{method="GET",route="/films/v1/{film_id}",status="404"} 1`,
		`starwars_http_requests_total{method="POST",route="/users/v1/login",status="200"} 1`,
		`starwars_http_requests_total{method="GET",route="unmatched",status="404"}`,
		`starwars_http_request_duration_seconds_bucket{method="GET",route="/films/v1/{film_id}",status="200",le=`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Every request got exactly one JSON log line, without query strings.
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, `"request_id":"trace-123"`) {
		t.Error("request log lines missing")
	}
	if strings.Contains(logs, s.access) || strings.Contains(logs, s.refresh) {
		t.Error("a token reached the log")
	}
}

func TestNewRouterNeedsItsDeps(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := httpapi.NewRouter(httpapi.Deps{Registerer: reg, Gatherer: reg}); err == nil {
		t.Error("router without accounts")
	}
}

// TestOpenAPIMatchesRouter walks the router and the published document and
// requires the same set of (method, path) both ways.
func TestOpenAPIMatchesRouter(t *testing.T) {
	router, err := httpapi.NewRouter(bareDeps(t))
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	err = chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var doc struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	var documented []string
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(methods, key) {
				documented = append(documented, strings.ToUpper(key)+" "+path)
			}
		}
	}
	sort.Strings(routes)
	sort.Strings(documented)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("served but not documented: %s", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("documented but not served: %s", d)
		}
	}
	if len(routes) < 19 {
		t.Errorf("only %d routes: %v", len(routes), routes)
	}

	// Every $ref points at something in the document.
	var whole map[string]any
	if err := yaml.Unmarshal(httpapi.OpenAPI(), &whole); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var node any = whole
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := node.(map[string]any)
					node = m[part]
				}
				if node == nil {
					t.Errorf("unresolved $ref %s", ref)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(whole)
}

// A draining server still serves and says 200 on /healthz, with a header
// that makes the edge proxy move new requests to its replacement.
func TestHealthzWhileDraining(t *testing.T) {
	e := newEnv(t)
	if r := e.do(req{method: "GET", path: "/healthz"}); r.header.Get("X-Draining") != "" {
		t.Fatal("X-Draining set before draining")
	}
	e.draining.Store(true)
	r := e.do(req{method: "GET", path: "/healthz"})
	expect(t, "healthz while draining", r, 200, "")
	if r.header.Get("X-Draining") != "true" {
		t.Errorf("healthz while draining: no X-Draining header")
	}
}
