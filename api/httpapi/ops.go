package httpapi

import (
	"context"
	_ "embed"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/fathat101/swdeploy/api"
)

//go:embed openapi.yaml
var openAPISpec []byte

// OpenAPI returns the embedded OpenAPI document served at /openapi.yaml.
func OpenAPI() []byte { return openAPISpec }

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	// Still 200 while draining: the process serves until it stops. The
	// header tells a proxy in front (edge) to send new requests elsewhere.
	if s.draining != nil && s.draining() {
		w.Header().Set("X-Draining", "true")
	}
	writeOK(w)
}

type notReadyBody struct {
	Status      string   `json:"status"`
	Message     string   `json:"message"`
	Unavailable []string `json:"unavailable"`
}

// readyz asks every dependency at once, each for at most two seconds, and
// names those that did not answer.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	failed := make([]error, len(s.ready))
	var wg sync.WaitGroup
	for i, c := range s.ready {
		wg.Go(func() { failed[i] = c.Ping(ctx) })
	}
	wg.Wait()
	var down []string
	for i, err := range failed {
		if err != nil {
			down = append(down, s.ready[i].Name)
			s.log.WarnContext(r.Context(), "dependency not ready", "dependency", s.ready[i].Name, "err", err)
		}
	}
	if len(down) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, notReadyBody{Status: "error", Message: api.CodeUnavailable, Unavailable: down})
		return
	}
	writeOK(w)
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPISpec)
}

// Swagger UI, from the assets compiled into the binary. Its stock
// initializer points at a public demo document; ours loads the API's own,
// relative to /ui/, so that the page needs no outside network.
var uiInitializer = []byte(`window.onload = function() {
  window.ui = SwaggerUIBundle({
    url: "../openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    validatorUrl: null
  });
};
`)

func redirectUI(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
}

func serveUIIndex(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(swaggerUI, "index.html")
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b)
}

func serveUIFile(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "file")
	if name == "swagger-initializer.js" {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(uiInitializer)
		return
	}
	if !fs.ValidPath(name) {
		writeError(w, r, &api.Error{Code: api.CodeNotFound})
		return
	}
	if st, err := fs.Stat(swaggerUI, name); err != nil || st.IsDir() {
		writeError(w, r, &api.Error{Code: api.CodeNotFound})
		return
	}
	http.ServeFileFS(w, r, swaggerUI, name)
}
