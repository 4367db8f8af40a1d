package api

import (
	"errors"
	"fmt"
)

// Error codes: stable, lowercase, hyphenated strings that clients match on.
// The HTTP layer maps each code to one status in a single table.
const (
	CodeBadRequest           = "bad-request"
	CodeEmailInvalid         = "email-invalid"
	CodePasswordInvalid      = "password-invalid"
	CodeUserAlreadyExists    = "user-already-exists"
	CodeAccountDisabled      = "account-disabled"
	CodeEmailUnverified      = "email-unverified"
	CodeAuthorisationNeeded  = "authorisation-required"
	CodeTokenInvalid         = "token-invalid"
	CodeTokenExpired         = "token-expired"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not-found"
	CodeMethodNotAllowed     = "method-not-allowed"
	CodeCharactersNotFound   = "characters-not-found"
	CodeFilmsNotFound        = "films-not-found"
	CodePayloadTooLarge      = "payload-too-large"
	CodeUnsupportedMediaType = "unsupported-media-type"
	CodeUpstreamError        = "upstream-error"
	CodeUpstreamTimeout      = "upstream-timeout"
	CodeUnavailable          = "service-unavailable"
	CodeTooManyRequests      = "too-many-requests"
	CodeInternal             = "internal-error"
)

// Error is the one error type that crosses package boundaries. Adapters
// translate driver errors into it; anything that is not an *Error reaches a
// client as internal-error.
type Error struct {
	Code      string // one of the Code constants
	Parameter string // the query parameter at fault, for bad-request
	Message   string // for logs only; never sent to clients
	Err       error  // the cause, for logs only
}

func (e *Error) Error() string {
	msg := e.Code
	if e.Parameter != "" {
		msg += " (" + e.Parameter + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a log message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadParameter returns a bad-request error naming the query parameter.
func BadParameter(param, format string, args ...any) *Error {
	return &Error{Code: CodeBadRequest, Parameter: param, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// internal-error when there is none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
