package api

import (
	"context"
	"net/url"
)

// StarWars answers the data endpoints. Each method returns the response body
// ready to write (JSON), so that a cached read costs no re-encoding.
// Errors are *Error values: not-found, characters-not-found, films-not-found,
// bad-request (with Parameter), upstream-error, upstream-timeout.
type StarWars interface {
	// Person answers GET /character/v1/{id}; query holds options[...].
	Person(ctx context.Context, id string, query url.Values) ([]byte, error)
	// People answers GET /characters/v1/ with options, max_items,
	// batch_size, sort_by, sort_order and filters.
	People(ctx context.Context, query url.Values) ([]byte, error)
	// Film answers GET /films/v1/{id}; query holds options[...].
	Film(ctx context.Context, id string, query url.Values) ([]byte, error)
	// Films answers GET /films/v1/ with options[...].
	Films(ctx context.Context, query url.Values) ([]byte, error)
}
