// Package redis keeps the API's short-lived state in Redis: token
// revocations (revocations.go) and the upstream cache (cache.go). Redis
// persistence (appendonly) is what makes revocations survive a restart.
package redis
