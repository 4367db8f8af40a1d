// Package e2e drives the real swdeploy binary against the real Docker
// engine: the whole stack from nothing to healthy, a client through the
// published port, re-runs, changes and teardown. Each test uses a project
// name and a published port of its own and removes what it created, so it
// can run beside other projects on the same engine.
//
// The engine cannot pull: `make offline-images` must have built the
// stand-in images first (`make test` does).
package e2e
