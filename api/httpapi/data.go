package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// The data handlers pass the StarWars answer through: it is JSON already,
// possibly straight from the cache.

func (s *server) person(w http.ResponseWriter, r *http.Request) error {
	b, err := s.sw.Person(r.Context(), chi.URLParam(r, "character_id"), r.URL.Query())
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, b)
	return nil
}

func (s *server) people(w http.ResponseWriter, r *http.Request) error {
	b, err := s.sw.People(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, b)
	return nil
}

func (s *server) film(w http.ResponseWriter, r *http.Request) error {
	b, err := s.sw.Film(r.Context(), chi.URLParam(r, "film_id"), r.URL.Query())
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, b)
	return nil
}

func (s *server) films(w http.ResponseWriter, r *http.Request) error {
	b, err := s.sw.Films(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, b)
	return nil
}
