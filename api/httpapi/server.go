package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fathat101/swdeploy/api"
)

// Check is one dependency that /readyz asks.
type Check struct {
	Name string // named in the 503 answer: "mysql", "redis"
	Ping func(ctx context.Context) error
}

// Deps are what the router needs.
type Deps struct {
	Accounts *api.Accounts
	StarWars api.StarWars
	Logger   *slog.Logger
	// Ready are asked by /readyz, in this order.
	Ready []Check
	// Registerer takes the request metrics; Gatherer serves /metrics. A
	// *prometheus.Registry is both.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Draining reports that the server is about to stop; /healthz then
	// answers 503 so that a proxy in front moves traffic away. May be nil.
	Draining func() bool
	// Throttle budgets failed logins; Hashing admits the requests that
	// hash a password (login, signup), refusing them when its queue is
	// full.
	Throttle api.LoginThrottle
	Hashing  Admitter
	// Proxies finds a login's client address; nil trusts no proxy and
	// takes the peer's.
	Proxies *TrustedProxies
}

// Admitter is the password hasher's admission (auth.Argon2).
type Admitter interface {
	Admit() (release func(), err error)
}

type server struct {
	accounts *api.Accounts
	throttle api.LoginThrottle
	hashing  Admitter
	proxies  *TrustedProxies
	sw       api.StarWars
	log      *slog.Logger
	ready    []Check
	metrics  *metrics
	draining func() bool
}

// NewRouter returns the API's router with every route of the contract.
func NewRouter(d Deps) (chi.Router, error) {
	if d.Accounts == nil || d.StarWars == nil || d.Throttle == nil || d.Hashing == nil || d.Registerer == nil || d.Gatherer == nil {
		return nil, errors.New("httpapi: Accounts, StarWars, Throttle, Hashing, Registerer and Gatherer are required")
	}
	m, err := newMetrics(d.Registerer)
	if err != nil {
		return nil, err
	}
	s := &server{accounts: d.Accounts, throttle: d.Throttle, hashing: d.Hashing, proxies: d.Proxies,
		sw: d.StarWars, log: d.Logger, ready: d.Ready, metrics: m, draining: d.Draining}
	if s.proxies == nil {
		s.proxies, _ = NewTrustedProxies(nil, nil)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	r := chi.NewRouter()
	r.Use(s.observe, limitBody)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &api.Error{Code: api.CodeNotFound})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &api.Error{Code: api.CodeMethodNotAllowed})
	})

	// Operations: no auth.
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/openapi.yaml", serveOpenAPI)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
	r.Get("/ui", redirectUI)
	r.Get("/ui/", serveUIIndex)
	r.Get("/ui/{file}", serveUIFile)

	// Users.
	r.With(requireJSON).Post("/users/v1/signup", s.handle(s.signup))
	r.Get("/users/v1/email_verification", s.handle(s.verifyEmail))
	r.With(requireJSON).Post("/users/v1/login", s.handle(s.login))
	r.With(s.authenticate).Post("/users/v1/logout", s.handle(s.logout))
	r.Get("/users/v1/generate_tokens", s.handle(s.generateTokens))
	user := r.With(s.authenticate, s.principal)
	user.Get("/users/v1/{user_id}", s.handle(s.getUser))
	user.With(requireJSON).Put("/users/v1/{user_id}", s.handle(s.updateUser))
	user.Delete("/users/v1/{user_id}", s.handle(s.deleteUser))

	// Star Wars data: a valid access token, no user store read.
	data := r.With(s.authenticate)
	data.Get("/character/v1/{character_id}", s.handle(s.person))
	data.Get("/characters/v1/", s.handle(s.people))
	data.Get("/films/v1/{film_id}", s.handle(s.film))
	data.Get("/films/v1/", s.handle(s.films))

	return r, nil
}

// handle adapts a handler that returns its error, so that every error
// takes the same way out.
func (s *server) handle(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			writeError(w, r, err)
		}
	}
}
