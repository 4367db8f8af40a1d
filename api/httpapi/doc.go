// Package httpapi is the server's HTTP layer: a chi router with every route
// of the contract, its middleware (request ids, JSON logs, metrics,
// recovery, body limits, content types), payloads, and the one table that
// maps error codes to HTTP statuses. It knows the domain only through
// package api.
package httpapi
