package api

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Role is a user's access level. Roles are ordered: basic < admin.
type Role string

const (
	RoleBasic Role = "basic"
	RoleAdmin Role = "admin"
)

// rank orders the roles; an unknown role ranks below every known one, so it
// never grants anything.
func (r Role) rank() int {
	switch r {
	case RoleBasic:
		return 1
	case RoleAdmin:
		return 2
	}
	return 0
}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// User is a stored account. PasswordHash never leaves the server.
type User struct {
	ID            int64
	Email         string
	PasswordHash  string
	Role          Role
	EmailVerified bool
	Disabled      bool
	Created       time.Time
}

// UserUpdate holds the fields an admin may change; nil means "keep".
type UserUpdate struct {
	Email         *string
	Role          *Role
	Disabled      *bool
	EmailVerified *bool
	PasswordHash  *string
}

// Empty reports whether the update changes nothing.
func (u UserUpdate) Empty() bool {
	return u.Email == nil && u.Role == nil && u.Disabled == nil && u.EmailVerified == nil && u.PasswordHash == nil
}

// UserStore keeps users. Implementations return *Error values: not-found
// for a missing user, user-already-exists for a duplicate email.
type UserStore interface {
	CreateUser(ctx context.Context, u User) (User, error)
	UserByID(ctx context.Context, id int64) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	// UpdateUser applies upd atomically and returns the user as stored.
	UpdateUser(ctx context.Context, id int64, upd UserUpdate) (User, error)
	DeleteUser(ctx context.Context, id int64) error
}

// NormaliseEmail lower-cases an address and checks that it is a plain,
// valid address (no display name, a dotted domain). It returns
// email-invalid otherwise.
func NormaliseEmail(s string) (string, error) {
	const maxLen = 254 // RFC 5321 path limit
	invalid := &Error{Code: CodeEmailInvalid}
	if s == "" || len(s) > maxLen || !utf8.ValidString(s) {
		return "", invalid
	}
	for _, r := range s {
		if r > unicode.MaxASCII || unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", invalid
		}
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", invalid
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", invalid
	}
	return strings.ToLower(s), nil
}

// CheckPassword enforces the password policy: 8 to 32 characters, at least
// one upper-case letter, one lower-case letter and one digit, no
// whitespace. It returns password-invalid otherwise.
func CheckPassword(p string) error {
	invalid := &Error{Code: CodePasswordInvalid}
	if !utf8.ValidString(p) {
		return invalid
	}
	if n := utf8.RuneCountInString(p); n < 8 || n > 32 {
		return invalid
	}
	var upper, lower, digit bool
	for _, r := range p {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return invalid
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		}
	}
	if !upper || !lower || !digit {
		return invalid
	}
	return nil
}
