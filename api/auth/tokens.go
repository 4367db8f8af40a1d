package auth

import (
	"crypto/rand"
	"encoding/base64"
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
}

var _ api.Tokens = (*Tokens)(nil)

// minSecretLen guards against a secret too short to resist guessing; 32
// bytes matches HS256's output size.
const minSecretLen = 16

// NewTokens checks cfg and returns a token signer and parser.
func NewTokens(cfg TokensConfig) (*Tokens, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("token issuer is empty")
	}
	for _, typ := range []api.TokenType{api.TokenAccess, api.TokenRefresh, api.TokenEmail, api.TokenPassword} {
		k, ok := cfg.Keys[typ]
		if !ok || len(k.Secret) == 0 {
			return nil, fmt.Errorf("%s token secret is empty", typ)
		}
		if len(k.Secret) < minSecretLen {
			return nil, fmt.Errorf("%s token secret is shorter than %d bytes", typ, minSecretLen)
		}
		if k.Lifetime <= 0 {
			return nil, fmt.Errorf("%s token lifetime must be positive", typ)
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
}

// NewID returns 128 random bits, base64url encoded.
func (t *Tokens) NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Lifetime returns the configured lifetime of typ.
func (t *Tokens) Lifetime(typ api.TokenType) time.Duration { return t.keys[typ].Lifetime }

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
	c.ExpiresAt = c.ExpiresAt.Truncate(time.Second) // what a NumericDate keeps
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
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, body).SignedString(key.Secret)
	if err != nil {
		return "", api.Claims{}, fmt.Errorf("sign %s token: %w", c.Type, err)
	}
	return s, c, nil
}

// Parse checks a token of type typ, expiry included.
func (t *Tokens) Parse(typ api.TokenType, token string) (api.Claims, error) {
	return t.parse(t.parser, typ, token)
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
	return api.Claims{
		ID:        body.ID,
		Type:      typ,
		UserID:    body.UserID,
		Role:      api.Role(body.AccessRole),
		IssuedAt:  time.Unix(0, body.IssuedAtNs),
		ExpiresAt: body.ExpiresAt.Time,
		Pair:      body.Pair,
	}, nil
}
