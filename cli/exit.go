package cli

import (
	"context"
	"errors"

	"github.com/fathat101/swdeploy/stack"
)

// Exit codes, as documented in the README.
const (
	ExitOK      = 0
	ExitFailure = 1 // the deployment failed or the engine could not be reached
	ExitUsage   = 2 // bad flags, a bad Compose file or bad configuration
	// ExitInterrupted is the shell's code for a run stopped by SIGINT.
	ExitInterrupted = 130
)

// usageError marks an error as the user's input to fix: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// exitError carries an exit code that is not a failure, such as plan
// --detailed-exitcode's 2 for "changes pending".
type exitError struct{ code int }

func (e *exitError) Error() string { return "" }

// ExitCode maps an error to the process's exit code.
func ExitCode(err error) int {
	var ue *usageError
	var fe *stack.FileError
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &ue), errors.As(err, &fe), errors.Is(err, stack.ErrBadOption):
		return ExitUsage
	}
	return ExitFailure
}
