package api

import (
	"context"
	"time"
)

// LoginThrottle budgets failed logins per account and per client address,
// in a store every replica shares. Each attempt is counted as a failure
// when it begins, so that concurrent attempts cannot slip past the budget,
// and settled when its outcome is known.
type LoginThrottle interface {
	// Begin counts the attempt, or refuses it without counting: wait > 0
	// is how long the client must wait before its next attempt.
	Begin(ctx context.Context, account, address string) (wait time.Duration, err error)
	// Settle ends an attempt that Begin counted.
	Settle(ctx context.Context, account, address string, outcome LoginOutcome) error
}

// LoginOutcome is how a counted login attempt ended.
type LoginOutcome int

const (
	// LoginFailed: unknown email or wrong password; the failure stays.
	LoginFailed LoginOutcome = iota
	// LoginSucceeded resets the account's count and returns the
	// address's failure.
	LoginSucceeded
	// LoginVoid was no guess that failed (the right password of a
	// disabled or unverified account, or a server error): both failures
	// are returned.
	LoginVoid
)
