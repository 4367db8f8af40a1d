package api

import (
	"context"
	"time"
)

// TokenType says what a token is for. Each type has its own signing secret
// and lifetime, and a token of one type is never accepted as another.
type TokenType string

const (
	TokenAccess   TokenType = "access"
	TokenRefresh  TokenType = "refresh"
	TokenEmail    TokenType = "email"
	TokenPassword TokenType = "password"
)

// MaxTokenAge bounds every token's life and every session's max age (the
// configuration is checked against it, and tokens claiming more are
// refused). So revoking "every token of a user issued so far" needs
// remembering no longer than this, whatever lifetimes the instances that
// issued those tokens were configured with.
const MaxTokenAge = 30 * 24 * time.Hour

// DefaultSessionMaxAge is how long after login a session's tokens may
// still be rotated when the configuration does not say.
const DefaultSessionMaxAge = 7 * 24 * time.Hour

// Claims is what a token says, independent of its encoding.
type Claims struct {
	ID        string // jti, unique per token
	Type      TokenType
	UserID    int64
	Role      Role
	IssuedAt  time.Time // full precision, so revocations can order tokens issued in one second
	ExpiresAt time.Time
	// Pair is the jti of the token issued together with this one: an access
	// token names its refresh token and the other way round, so that logout
	// can revoke both from either.
	Pair string

	// Session claims, on access and refresh tokens only: each rotation
	// copies them from the refresh token into the new pair.
	//
	// Family names the login a token descends from, so that reuse of a
	// refresh token can revoke every token of that session, those issued
	// after the reuse was detected included.
	Family string
	// AuthTime is the login time.
	AuthTime time.Time
	// SessionEnd is the login time plus the session max age configured at
	// login: no token of the session expires after it.
	SessionEnd time.Time
}

// Tokens issues and checks signed tokens. Parse errors are *Error values
// with code token-invalid, or token-expired for an otherwise valid token
// past its expiry.
type Tokens interface {
	// Issue signs a token of type c.Type; it fills ID, IssuedAt and
	// ExpiresAt when they are zero, keeps ExpiresAt at or before a set
	// SessionEnd, and returns the claims as signed.
	Issue(c Claims) (string, Claims, error)
	// Parse checks signature, algorithm, issuer, type and expiry.
	Parse(typ TokenType, token string) (Claims, error)
	// ParseExpired is Parse without the expiry check, for the old access
	// token that generate_tokens accepts even when it has expired.
	ParseExpired(typ TokenType, token string) (Claims, error)
	// NewID returns a fresh unique token id.
	NewID() string
}

// Revocations remembers revoked tokens until they would have expired anyway.
type Revocations interface {
	// Revoke marks one token id revoked until exp. It reports whether the id
	// was already revoked, atomically, so that one-time tokens and refresh
	// rotation cannot be raced.
	Revoke(ctx context.Context, id string, exp time.Time) (already bool, err error)
	// RevokeUser revokes every token of the user issued at or before at.
	RevokeUser(ctx context.Context, userID int64, at time.Time) error
	// RevokeFamily revokes every token of a session until its end.
	RevokeFamily(ctx context.Context, family string, end time.Time) error
	// Revoked reports whether c is revoked, by id, by its user's cut-off
	// or by its session family.
	Revoked(ctx context.Context, c Claims) (bool, error)
}

// PasswordHasher hashes and checks passwords.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	// Verify reports whether password matches encoded; a malformed encoded
	// hash is an error, a mismatch is not.
	Verify(ctx context.Context, password, encoded string) (bool, error)
}

// Mailer sends the email verification link.
type Mailer interface {
	SendVerification(ctx context.Context, email, link string) error
}
