// Package swapi answers the Star Wars data endpoints from an upstream
// SWAPI-compatible service (swapi.dev or the local stand-in).
//
// Client fetches upstream paths over HTTP with timeouts and bounded
// concurrency and translates failures into api errors. Service implements
// api.StarWars on top of any Fetcher (the Client, or a caching decorator
// around it): it parses and validates queries, fetches list pages
// concurrently, filters, sorts and trims objects, and keeps rendered
// responses for a short time so that a hot read costs a map lookup.
package swapi
