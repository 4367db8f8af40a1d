package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fathat101/swdeploy/api"
)

// Key is the secret and lifetime of one token type.
type Key struct {
	Secret   []byte
	Lifetime time.Duration
}

// TokensConfig configures Tokens. Keys must hold all four token types.
type TokensConfig struct {
	Issuer string
	Keys   map[api.TokenType]Key
	Now    func() time.Time // time.Now when nil
}

// Tokens implements api.Tokens with HS256 JWTs.
type Tokens struct {
	issuer  string
	keys    map[api.TokenType]Key
	now     func() time.Time
	parser  *jwt.Parser // full validation
	lenient *jwt.Parser // signature and algorithm only; claims are checked by hand
	// seen remembers access tokens that Parse accepted.
	seen verified
}

var _ api.Tokens = (*Tokens)(nil)

// minSecretLen guards against a secret too short to resist offline
// guessing from any one token: 16 bytes, as config.MinJWTSecretLen. (The
// secrets swdeploy generates are 32 characters.)
const minSecretLen = 16

// ClockSkew is how far ahead of this instance's clock a token's iat may be:
// another instance's clock may run a little fast, but a token issued in
// the future is forged or comes from a badly wrong clock.
const ClockSkew = 30 * time.Second

// NewTokens checks cfg and returns a token signer and parser.
func NewTokens(cfg TokensConfig) (*Tokens, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("token issuer is empty")
	}
	types := []api.TokenType{api.TokenAccess, api.TokenRefresh, api.TokenEmail, api.TokenPassword}
	for i, typ := range types {
		k, ok := cfg.Keys[typ]
		if !ok || len(k.Secret) == 0 {
			return nil, fmt.Errorf("%s token secret is empty", typ)
		}
		if len(k.Secret) < minSecretLen {
			return nil, fmt.Errorf("%s token secret is shorter than %d bytes", typ, minSecretLen)
		}
		if k.Lifetime <= 0 || k.Lifetime > api.MaxTokenAge {
			return nil, fmt.Errorf("%s token lifetime must be positive and at most %v", typ, api.MaxTokenAge)
		}
		// One secret per type is what keeps a token of one type from
		// passing as another.
		for _, earlier := range types[:i] {
			if string(cfg.Keys[earlier].Secret) == string(k.Secret) {
				return nil, fmt.Errorf("%s and %s token secrets are equal", earlier, typ)
			}
		}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	common := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithStrictDecoding(),
	}
	return &Tokens{
		issuer: cfg.Issuer,
		keys:   cfg.Keys,
		now:    now,
		parser: jwt.NewParser(append(common,
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(now),
		)...),
		lenient: jwt.NewParser(append(common, jwt.WithoutClaimsValidation())...),
	}, nil
}

// claims is the JWT body. iat_ns repeats iat in nanoseconds: revoking
// "every token issued so far" must spare a login in the same second.
type claims struct {
	jwt.RegisteredClaims
	UserID     int64  `json:"user_id"`
	AccessRole string `json:"access_role"`
	Type       string `json:"type"`
	IssuedAtNs int64  `json:"iat_ns"`
	Pair       string `json:"pair,omitempty"`
	// Session claims (access and refresh tokens).
	Family     string           `json:"fam,omitempty"`
	AuthTime   *jwt.NumericDate `json:"auth_time,omitempty"`
	SessionEnd *jwt.NumericDate `json:"sess_exp,omitempty"`
}

// claimKeys are the keys a token body may hold, spelt exactly as Issue
// writes them.
var claimKeys = map[string]bool{
	"iss": true, "iat": true, "exp": true, "jti": true, "user_id": true, "access_role": true,
	"type": true, "iat_ns": true, "pair": true, "fam": true, "auth_time": true, "sess_exp": true,
}

// UnmarshalJSON refuses any key but claimKeys: encoding/json matches keys
// case-insensitively, so "USER_ID" would otherwise be read as user_id.
func (c *claims) UnmarshalJSON(b []byte) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	for k := range keys {
		if !claimKeys[k] {
			return fmt.Errorf("unexpected claim %q", k)
		}
	}
	type plain claims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// NewID returns 128 random bits, base64url encoded.
func (t *Tokens) NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Issue signs c with the secret of c.Type.
func (t *Tokens) Issue(c api.Claims) (string, api.Claims, error) {
	key, ok := t.keys[c.Type]
	if !ok {
		return "", api.Claims{}, fmt.Errorf("unknown token type %q", c.Type)
	}
	if c.ID == "" {
		c.ID = t.NewID()
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = t.now()
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(key.Lifetime)
	}
	// What a NumericDate keeps.
	c.ExpiresAt = c.ExpiresAt.Truncate(time.Second)
	c.AuthTime = c.AuthTime.Truncate(time.Second)
	c.SessionEnd = c.SessionEnd.Truncate(time.Second)
	if !c.SessionEnd.IsZero() && c.ExpiresAt.After(c.SessionEnd) {
		c.ExpiresAt = c.SessionEnd
	}
	body := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
			ID:        c.ID,
		},
		UserID:     c.UserID,
		AccessRole: string(c.Role),
		Type:       string(c.Type),
		IssuedAtNs: c.IssuedAt.UnixNano(),
		Pair:       c.Pair,
		Family:     c.Family,
		AuthTime:   numericDate(c.AuthTime),
		SessionEnd: numericDate(c.SessionEnd),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, body).SignedString(key.Secret)
	if err != nil {
		return "", api.Claims{}, fmt.Errorf("sign %s token: %w", c.Type, err)
	}
	return s, c, nil
}

// Parse checks a token of type typ, expiry included. An access token
// accepted before is only checked for expiry again: it is presented on
// every request.
func (t *Tokens) Parse(typ api.TokenType, token string) (api.Claims, error) {
	if typ != api.TokenAccess {
		return t.parse(t.parser, typ, token)
	}
	if c, ok := t.seen.get(token); ok {
		if t.now().Before(c.ExpiresAt) {
			return c, nil
		}
		t.seen.remove(token)
		return api.Claims{}, &api.Error{Code: api.CodeTokenExpired, Message: "parse access token", Err: jwt.ErrTokenExpired}
	}
	c, err := t.parse(t.parser, typ, token)
	if err == nil {
		t.seen.put(token, c, t.now())
	}
	return c, err
}

// ParseExpired checks a token of type typ but accepts it past its expiry.
func (t *Tokens) ParseExpired(typ api.TokenType, token string) (api.Claims, error) {
	c, err := t.parse(t.lenient, typ, token)
	if err != nil {
		return api.Claims{}, err
	}
	return c, nil
}

func (t *Tokens) parse(p *jwt.Parser, typ api.TokenType, token string) (api.Claims, error) {
	key, ok := t.keys[typ]
	if !ok {
		return api.Claims{}, api.Errorf(api.CodeTokenInvalid, "unknown token type %q", typ)
	}
	var body claims
	_, err := p.ParseWithClaims(token, &body, func(*jwt.Token) (any, error) { return key.Secret, nil })
	if err != nil {
		code := api.CodeTokenInvalid
		if errors.Is(err, jwt.ErrTokenExpired) {
			code = api.CodeTokenExpired
		}
		return api.Claims{}, &api.Error{Code: code, Message: "parse " + string(typ) + " token", Err: err}
	}
	// The parser checked signature, algorithm and (unless lenient) issuer
	// and expiry; what follows holds for both parsers.
	switch {
	case body.Type != string(typ):
		return api.Claims{}, api.Errorf(api.CodeTokenInvalid, "%q token presented as %s", body.Type, typ)
	case body.Issuer != t.issuer:
		return api.Claims{}, api.Errorf(api.CodeTokenInvalid, "wrong issuer")
	case body.ID == "" || body.UserID <= 0 || body.IssuedAtNs <= 0 || body.IssuedAt == nil || body.ExpiresAt == nil:
		return api.Claims{}, api.Errorf(api.CodeTokenInvalid, "%s token lacks a claim", typ)
	case !api.Role(body.AccessRole).Valid():
		return api.Claims{}, api.Errorf(api.CodeTokenInvalid, "%s token has unknown role", typ)
	}
	c := api.Claims{
		ID:        body.ID,
		Type:      typ,
		UserID:    body.UserID,
		Role:      api.Role(body.AccessRole),
		IssuedAt:  time.Unix(0, body.IssuedAtNs),
		ExpiresAt: body.ExpiresAt.Time,
		Pair:      body.Pair,
		Family:    body.Family,
	}
	if body.AuthTime != nil {
		c.AuthTime = body.AuthTime.Time
	}
	if body.SessionEnd != nil {
		c.SessionEnd = body.SessionEnd.Time
	}
	if err := t.checkTimes(c, body.IssuedAt.Time); err != nil {
		return api.Claims{}, err
	}
	return c, nil
}

// checkTimes holds whatever the clock: iat not ahead of it (beyond
// ClockSkew), iat and iat_ns in agreement, no token living longer than
// MaxTokenAge, and access and refresh tokens within their session.
func (t *Tokens) checkTimes(c api.Claims, iat time.Time) error {
	invalid := func(why string) error { return api.Errorf(api.CodeTokenInvalid, "%s token %s", c.Type, why) }
	switch {
	case c.IssuedAt.After(t.now().Add(ClockSkew)):
		return invalid("issued in the future")
	case c.IssuedAt.Unix() != iat.Unix():
		return invalid("has iat and iat_ns apart")
	case c.ExpiresAt.Sub(c.IssuedAt) > api.MaxTokenAge:
		return invalid("lives too long")
	}
	if c.Type != api.TokenAccess && c.Type != api.TokenRefresh {
		return nil
	}
	switch {
	case c.Family == "" || c.AuthTime.IsZero() || c.SessionEnd.IsZero():
		return invalid("lacks a session claim")
	case c.AuthTime.After(iat), c.ExpiresAt.After(c.SessionEnd), c.SessionEnd.Sub(c.AuthTime) > api.MaxTokenAge:
		return invalid("outside its session")
	}
	return nil
}

// numericDate is nil for the zero time, so that omitempty drops it.
func numericDate(t time.Time) *jwt.NumericDate {
	if t.IsZero() {
		return nil
	}
	return jwt.NewNumericDate(t)
}
