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
}

// Tokens issues and checks signed tokens. Parse errors are *Error values
// with code token-invalid, or token-expired for an otherwise valid token
// past its expiry.
type Tokens interface {
	// Issue signs a token of type c.Type; it fills ID, IssuedAt and
	// ExpiresAt when they are zero, and returns the claims as signed.
	Issue(c Claims) (string, Claims, error)
	// Parse checks signature, algorithm, issuer, type and expiry.
	Parse(typ TokenType, token string) (Claims, error)
	// ParseExpired is Parse without the expiry check, for the old access
	// token that generate_tokens accepts even when it has expired.
	ParseExpired(typ TokenType, token string) (Claims, error)
	// NewID returns a fresh unique token id.
	NewID() string
	// Lifetime is how long a token of type typ stays valid.
	Lifetime(typ TokenType) time.Duration
}

// Revocations remembers revoked tokens until they would have expired anyway.
type Revocations interface {
	// Revoke marks one token id revoked until exp. It reports whether the id
	// was already revoked, atomically, so that one-time tokens and refresh
	// rotation cannot be raced.
	Revoke(ctx context.Context, id string, exp time.Time) (already bool, err error)
	// RevokeUser revokes every token of the user issued at or before at.
	RevokeUser(ctx context.Context, userID int64, at time.Time) error
	// Revoked reports whether c is revoked, by id or by its user's cut-off.
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
