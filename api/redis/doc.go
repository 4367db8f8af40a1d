// Package redis keeps the API's short-lived state in Redis: token
// revocations (revocations.go), the upstream cache (cache.go) and the
// failed-login budgets (logins.go), shared by every replica. Redis
// persistence (appendonly) is what makes revocations survive a restart.
package redis
