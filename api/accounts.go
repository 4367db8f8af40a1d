package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"
)

// Accounts holds the rules of the user endpoints: signup, verification,
// login, sessions and user administration. It speaks only through the
// interfaces in this package; main wires the adapters in.
type Accounts struct {
	store   UserStore
	tokens  Tokens
	revoked Revocations
	hasher  PasswordHasher
	mailer  Mailer
	log     *slog.Logger
	now     func() time.Time
	// maxAge is how long after login a session's tokens are accepted.
	maxAge time.Duration
	// verifyURL is the verification link without its query, e.g.
	// "https://api.example.com/users/v1/email_verification".
	verifyURL string

	// dummyHash is verified against when a login names an unknown email,
	// so that both failures take the same time.
	dummyOnce sync.Once
	dummyHash string
}

// AccountsDeps are what Accounts needs; every field but Now is required.
type AccountsDeps struct {
	Store       UserStore
	Tokens      Tokens
	Revocations Revocations
	Hasher      PasswordHasher
	Mailer      Mailer
	Logger      *slog.Logger
	// VerifyURL is where the verification link points, without its query.
	VerifyURL string
	Now       func() time.Time
	// SessionMaxAge is how long after login a session's tokens are
	// accepted and rotated; DefaultSessionMaxAge when zero.
	SessionMaxAge time.Duration
}

// NewAccounts returns the account rules over the given adapters.
func NewAccounts(d AccountsDeps) *Accounts {
	a := &Accounts{
		store: d.Store, tokens: d.Tokens, revoked: d.Revocations, hasher: d.Hasher,
		mailer: d.Mailer, log: d.Logger, now: d.Now, verifyURL: d.VerifyURL, maxAge: d.SessionMaxAge,
	}
	if a.maxAge <= 0 {
		a.maxAge = DefaultSessionMaxAge
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.verifyURL == "" {
		a.verifyURL = "/users/v1/email_verification"
	}
	return a
}

// Session is what login and token rotation hand out.
type Session struct {
	Access  string
	Refresh string
	User    User
}

// Signup creates an unverified basic user and sends the verification link.
// role is the optional access_role of the request.
func (a *Accounts) Signup(ctx context.Context, email, password string, role *string) error {
	if role != nil {
		switch Role(*role) {
		case RoleBasic:
		case RoleAdmin:
			return Errorf(CodeForbidden, "signup asked for admin")
		default:
			return Errorf(CodeBadRequest, "signup asked for unknown role")
		}
	}
	email, err := NormaliseEmail(email)
	if err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	// Look first so that a duplicate costs no hashing; the unique index
	// still decides races.
	if _, err := a.store.UserByEmail(ctx, email); err == nil {
		return &Error{Code: CodeUserAlreadyExists}
	} else if ErrorCode(err) != CodeNotFound {
		return fmt.Errorf("look up email: %w", err)
	}
	hash, err := a.hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	u, err := a.store.CreateUser(ctx, User{Email: email, PasswordHash: hash, Role: RoleBasic, Created: a.now()})
	if err != nil {
		return err
	}
	if err := a.sendVerification(ctx, u); err != nil {
		// Without the link the account could never be verified, and a new
		// signup would say it exists: undo it so that the client can retry.
		if derr := a.store.DeleteUser(context.WithoutCancel(ctx), u.ID); derr != nil {
			a.log.ErrorContext(ctx, "undo signup", "user_id", u.ID, "err", derr)
		}
		return &Error{Code: CodeUnavailable, Message: "send verification", Err: err}
	}
	return nil
}

func (a *Accounts) sendVerification(ctx context.Context, u User) error {
	tok, _, err := a.tokens.Issue(Claims{Type: TokenEmail, UserID: u.ID, Role: u.Role})
	if err != nil {
		return fmt.Errorf("issue email token: %w", err)
	}
	link := a.verifyURL + "?token=" + url.QueryEscape(tok)
	return a.mailer.SendVerification(ctx, u.Email, link)
}

// VerifyEmail marks the token's user verified. A token works once.
func (a *Accounts) VerifyEmail(ctx context.Context, token string) error {
	c, err := a.tokens.Parse(TokenEmail, token)
	if err != nil {
		return invalidToken(err)
	}
	if err := a.checkNotRevoked(ctx, c); err != nil {
		return err
	}
	// Update before spending the token, so that a failed update leaves the
	// link usable; Revoke's atomic answer then makes a second use fail.
	verified := true
	if _, err := a.store.UpdateUser(ctx, c.UserID, UserUpdate{EmailVerified: &verified}); err != nil {
		if ErrorCode(err) == CodeNotFound {
			return Errorf(CodeTokenInvalid, "email token for a missing user")
		}
		return err
	}
	already, err := a.revoked.Revoke(ctx, c.ID, c.ExpiresAt)
	if err != nil {
		return fmt.Errorf("spend email token: %w", err)
	}
	if already {
		return Errorf(CodeTokenInvalid, "email token used twice")
	}
	return nil
}

// Login checks the credentials in the contract's order: unknown email and
// wrong password alike are not-found, then account-disabled, then
// email-unverified.
func (a *Accounts) Login(ctx context.Context, email, password string) (Session, error) {
	notFound := &Error{Code: CodeNotFound}
	norm, err := NormaliseEmail(email)
	if err != nil {
		a.burnVerify(ctx, password)
		return Session{}, notFound
	}
	u, err := a.store.UserByEmail(ctx, norm)
	if err != nil {
		if ErrorCode(err) == CodeNotFound {
			a.burnVerify(ctx, password)
			return Session{}, notFound
		}
		return Session{}, err
	}
	ok, err := a.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return Session{}, fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		return Session{}, notFound
	}
	if u.Disabled {
		return Session{}, &Error{Code: CodeAccountDisabled}
	}
	if !u.EmailVerified {
		return Session{}, &Error{Code: CodeEmailUnverified}
	}
	now := a.now()
	return a.issuePair(u, Claims{Family: a.tokens.NewID(), AuthTime: now, SessionEnd: now.Add(a.maxAge)})
}

// burnVerify spends the time of one password check, so that an unknown
// email cannot be told from a wrong password by timing.
func (a *Accounts) burnVerify(ctx context.Context, password string) {
	a.dummyOnce.Do(func() {
		// Not the request's context: a cancelled first caller must not
		// leave the dummy hash unset for good.
		h, err := a.hasher.Hash(context.Background(), "Dummy-password-0")
		if err == nil {
			a.dummyHash = h
		}
	})
	if a.dummyHash != "" {
		_, _ = a.hasher.Verify(ctx, password, a.dummyHash)
	}
}

// issuePair issues an access and a refresh token of session s (its
// Family, AuthTime and SessionEnd).
func (a *Accounts) issuePair(u User, s Claims) (Session, error) {
	now := a.now()
	accessID, refreshID := a.tokens.NewID(), a.tokens.NewID()
	c := Claims{UserID: u.ID, Role: u.Role, IssuedAt: now, Family: s.Family, AuthTime: s.AuthTime, SessionEnd: s.SessionEnd}
	ac, rc := c, c
	ac.ID, ac.Type, ac.Pair = accessID, TokenAccess, refreshID
	rc.ID, rc.Type, rc.Pair = refreshID, TokenRefresh, accessID
	access, _, err := a.tokens.Issue(ac)
	if err != nil {
		return Session{}, fmt.Errorf("issue access token: %w", err)
	}
	refresh, _, err := a.tokens.Issue(rc)
	if err != nil {
		return Session{}, fmt.Errorf("issue refresh token: %w", err)
	}
	return Session{Access: access, Refresh: refresh, User: u}, nil
}

// Authenticate checks an access token: signature, type, expiry and
// revocation. It does not read the user store.
func (a *Accounts) Authenticate(ctx context.Context, token string) (Claims, error) {
	c, err := a.tokens.Parse(TokenAccess, token)
	if err != nil {
		return Claims{}, err
	}
	if err := a.checkSession(c); err != nil {
		return Claims{}, err
	}
	if err := a.checkNotRevoked(ctx, c); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// checkSession refuses a token of a session past its max age as this
// instance is configured, when that is shorter than at login.
func (a *Accounts) checkSession(c Claims) error {
	if !a.now().Before(c.AuthTime.Add(a.maxAge)) {
		return Errorf(CodeTokenInvalid, "session of user %d past its max age", c.UserID)
	}
	return nil
}

// Principal loads the stored user behind valid claims, so that roles are
// checked as they are now, not as they were when the token was issued.
func (a *Accounts) Principal(ctx context.Context, c Claims) (User, error) {
	u, err := a.store.UserByID(ctx, c.UserID)
	if err != nil {
		if ErrorCode(err) == CodeNotFound {
			return User{}, Errorf(CodeTokenInvalid, "token of a deleted user")
		}
		return User{}, err
	}
	if u.Disabled {
		return User{}, Errorf(CodeTokenInvalid, "token of a disabled user")
	}
	return u, nil
}

func (a *Accounts) checkNotRevoked(ctx context.Context, c Claims) error {
	revoked, err := a.revoked.Revoked(ctx, c)
	if err != nil {
		return fmt.Errorf("check revocation: %w", err)
	}
	if revoked {
		return Errorf(CodeTokenInvalid, "revoked %s token", c.Type)
	}
	return nil
}

// Logout ends the access token's session: the access token, the refresh
// token issued with it and any other token of the same login.
func (a *Accounts) Logout(ctx context.Context, access Claims) error {
	if err := a.revoked.RevokeFamily(ctx, access.Family, access.SessionEnd); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// Rotate exchanges a refresh token and the access token it came with for a
// new pair of the same session, until the session's max age. A refresh
// token that was already revoked (rotated or logged out) means it leaked:
// its session and every token of its user issued so far are revoked.
func (a *Accounts) Rotate(ctx context.Context, refreshToken, oldAccessToken string) (Session, error) {
	rc, err := a.tokens.Parse(TokenRefresh, refreshToken)
	if err != nil {
		return Session{}, invalidToken(err)
	}
	revoked, err := a.revoked.Revoked(ctx, rc)
	if err != nil {
		return Session{}, fmt.Errorf("check revocation: %w", err)
	}
	if revoked {
		return Session{}, a.reuse(ctx, rc)
	}
	if err := a.checkSession(rc); err != nil {
		return Session{}, err
	}
	if oldAccessToken == "" {
		return Session{}, Errorf(CodeTokenInvalid, "old_access_token missing")
	}
	ac, err := a.tokens.ParseExpired(TokenAccess, oldAccessToken)
	if err != nil {
		return Session{}, invalidToken(err)
	}
	if ac.UserID != rc.UserID {
		return Session{}, Errorf(CodeTokenInvalid, "old_access_token of another user")
	}
	// Spending the refresh token is the atomic step: of two concurrent
	// rotations with one token, exactly one gets a new pair.
	already, err := a.revoked.Revoke(ctx, rc.ID, rc.ExpiresAt)
	if err != nil {
		return Session{}, fmt.Errorf("revoke refresh token: %w", err)
	}
	if already {
		return Session{}, a.reuse(ctx, rc)
	}
	if _, err := a.revoked.Revoke(ctx, ac.ID, ac.ExpiresAt); err != nil {
		return Session{}, fmt.Errorf("revoke access token: %w", err)
	}
	// The refresh token's own access token, when another was presented.
	// Its exp is not at hand; it is no later than the session's end.
	if rc.Pair != ac.ID {
		if _, err := a.revoked.Revoke(ctx, rc.Pair, rc.SessionEnd); err != nil {
			return Session{}, fmt.Errorf("revoke paired access token: %w", err)
		}
	}
	u, err := a.Principal(ctx, rc)
	if err != nil {
		return Session{}, err
	}
	return a.issuePair(u, rc)
}

// reuse revokes the session of a reused refresh token first: a concurrent
// rotation that won the race issues its pair into that session, possibly
// after the user's cut-off below, and must not keep it.
func (a *Accounts) reuse(ctx context.Context, rc Claims) error {
	a.log.WarnContext(ctx, "revoked refresh token presented: revoking all of the user's tokens", "user_id", rc.UserID, "jti", rc.ID)
	if err := a.revoked.RevokeFamily(ctx, rc.Family, rc.SessionEnd); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if err := a.revoked.RevokeUser(ctx, rc.UserID, a.now()); err != nil {
		return fmt.Errorf("revoke user tokens: %w", err)
	}
	return Errorf(CodeTokenInvalid, "refresh token reused")
}

// GetUser returns user id to an admin or to the user themself. A basic user
// asking for another id is forbidden whether or not it exists.
func (a *Accounts) GetUser(ctx context.Context, actor User, id int64) (User, error) {
	if actor.ID != id && !actor.Role.AtLeast(RoleAdmin) {
		return User{}, Errorf(CodeForbidden, "user %d asked for user %d", actor.ID, id)
	}
	return a.store.UserByID(ctx, id)
}

// UpdateUser applies an admin's change. Disabling a user revokes all of
// that user's tokens.
func (a *Accounts) UpdateUser(ctx context.Context, actor User, id int64, upd UserUpdate) (User, error) {
	if !actor.Role.AtLeast(RoleAdmin) {
		return User{}, Errorf(CodeForbidden, "user %d is not an admin", actor.ID)
	}
	if upd.Email == nil && upd.Role == nil && upd.Disabled == nil {
		return User{}, Errorf(CodeBadRequest, "nothing to update")
	}
	if upd.PasswordHash != nil || upd.EmailVerified != nil {
		return User{}, Errorf(CodeBadRequest, "field not updatable")
	}
	if upd.Email != nil {
		e, err := NormaliseEmail(*upd.Email)
		if err != nil {
			return User{}, err
		}
		upd.Email = &e
	}
	if upd.Role != nil && !upd.Role.Valid() {
		return User{}, Errorf(CodeBadRequest, "unknown role %q", *upd.Role)
	}
	var u User
	update := func() (err error) {
		u, err = a.store.UpdateUser(ctx, id, upd)
		return err
	}
	if upd.Disabled != nil && *upd.Disabled {
		return u, a.revokeAround(ctx, id, update)
	}
	return u, update()
}

// DeleteUser removes a user at an admin's request; admins cannot delete
// their own account. The user's tokens are revoked with it.
func (a *Accounts) DeleteUser(ctx context.Context, actor User, id int64) error {
	if !actor.Role.AtLeast(RoleAdmin) {
		return Errorf(CodeForbidden, "user %d is not an admin", actor.ID)
	}
	if actor.ID == id {
		return Errorf(CodeForbidden, "admin %d tried to delete their own account", id)
	}
	return a.revokeAround(ctx, id, func() error { return a.store.DeleteUser(ctx, id) })
}

// revokeAround revokes every token of user id issued so far, makes the
// store change, and revokes again. First, because a user deleted or
// disabled in MySQL whose tokens Redis did not revoke would keep reading
// data (those routes do not read the store): a failure there is
// service-unavailable and changes nothing. Again after, for a login that
// read the user between the first revocation and the change.
func (a *Accounts) revokeAround(ctx context.Context, id int64, change func() error) error {
	revoke := func() error {
		if err := a.revoked.RevokeUser(ctx, id, a.now()); err != nil {
			a.log.ErrorContext(ctx, "revoke user tokens", "user_id", id, "err", err)
			return &Error{Code: CodeUnavailable, Message: fmt.Sprintf("revoke tokens of user %d", id), Err: err}
		}
		return nil
	}
	if err := revoke(); err != nil {
		return err
	}
	if err := change(); err != nil {
		return err
	}
	return revoke()
}

// EnsureAdmin makes the configured first admin exist, verified, with the
// configured password: created when missing, its hash replaced when the
// password no longer matches.
func (a *Accounts) EnsureAdmin(ctx context.Context, email, password string) error {
	email, err := NormaliseEmail(email)
	if err != nil {
		return fmt.Errorf("admin email: %w", err)
	}
	if password == "" {
		return errors.New("admin password is empty")
	}
	if CheckPassword(password) != nil {
		a.log.WarnContext(ctx, "admin password does not meet the signup password policy", "email", email)
	}
	u, err := a.store.UserByEmail(ctx, email)
	if ErrorCode(err) == CodeNotFound {
		hash, herr := a.hasher.Hash(ctx, password)
		if herr != nil {
			return fmt.Errorf("hash admin password: %w", herr)
		}
		_, err = a.store.CreateUser(ctx, User{Email: email, PasswordHash: hash, Role: RoleAdmin, EmailVerified: true, Created: a.now()})
		if ErrorCode(err) == CodeUserAlreadyExists {
			// Another instance created it meanwhile: bring that one in step.
			return a.EnsureAdmin(ctx, email, password)
		}
		if err != nil {
			return fmt.Errorf("create admin: %w", err)
		}
		a.log.InfoContext(ctx, "admin created", "email", email)
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up admin: %w", err)
	}
	var upd UserUpdate
	if ok, verr := a.hasher.Verify(ctx, password, u.PasswordHash); verr != nil || !ok {
		hash, herr := a.hasher.Hash(ctx, password)
		if herr != nil {
			return fmt.Errorf("hash admin password: %w", herr)
		}
		upd.PasswordHash = &hash
	}
	if u.Role != RoleAdmin {
		r := RoleAdmin
		upd.Role = &r
	}
	if !u.EmailVerified {
		t := true
		upd.EmailVerified = &t
	}
	if u.Disabled {
		a.log.WarnContext(ctx, "configured admin account is disabled", "email", email)
	}
	if upd.Empty() {
		return nil
	}
	update := func() error {
		if _, err := a.store.UpdateUser(ctx, u.ID, upd); err != nil {
			return fmt.Errorf("update admin: %w", err)
		}
		return nil
	}
	if upd.PasswordHash == nil {
		err = update()
	} else {
		// A new password ends the sessions opened with the old one. The
		// revocation comes first: after a failed one, the restart would
		// otherwise find the password in step and never revoke.
		err = a.revokeAround(ctx, u.ID, update)
	}
	if err != nil {
		return err
	}
	a.log.InfoContext(ctx, "admin brought in step with configuration", "email", email, "password_changed", upd.PasswordHash != nil)
	return nil
}

// invalidToken keeps a parse error's code but turns token-expired into
// token-invalid, for the routes whose contract names only token-invalid.
func invalidToken(err error) error {
	if ErrorCode(err) == CodeTokenExpired {
		return &Error{Code: CodeTokenInvalid, Message: "expired", Err: err}
	}
	return err
}
