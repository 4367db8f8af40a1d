package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fathat101/swdeploy/api"
)

var testKeys = map[api.TokenType]Key{
	api.TokenAccess:   {Secret: []byte("access-secret-0123456789"), Lifetime: 10 * time.Hour},
	api.TokenRefresh:  {Secret: []byte("refresh-secret-0123456789"), Lifetime: 24 * time.Hour},
	api.TokenEmail:    {Secret: []byte("email-secret-0123456789"), Lifetime: time.Hour},
	api.TokenPassword: {Secret: []byte("password-secret-0123456789"), Lifetime: time.Hour},
}

// inSession adds the session claims of a login at login, which access and
// refresh tokens must carry.
func inSession(c api.Claims, login time.Time) api.Claims {
	c.Family, c.AuthTime, c.SessionEnd = "family", login, login.Add(api.DefaultSessionMaxAge)
	return c
}

func newTestTokens(t testing.TB, now func() time.Time) *Tokens {
	t.Helper()
	tk, err := NewTokens(TokensConfig{Issuer: "starwars-api", Keys: testKeys, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestIssueParseRoundTrip(t *testing.T) {
	tk := newTestTokens(t, nil)
	for typ := range testKeys {
		s, issued, err := tk.Issue(inSession(api.Claims{Type: typ, UserID: 42, Role: api.RoleAdmin, Pair: "partner"}, time.Now().Add(-time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := tk.Parse(typ, s)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if got.ID == "" || got.ID != issued.ID || got.UserID != 42 || got.Role != api.RoleAdmin ||
			got.Type != typ || got.Pair != "partner" || !got.IssuedAt.Equal(issued.IssuedAt) ||
			!got.ExpiresAt.Equal(issued.ExpiresAt) || got.Family != "family" ||
			!got.AuthTime.Equal(issued.AuthTime) || !got.SessionEnd.Equal(issued.SessionEnd) {
			t.Errorf("%s: parsed %+v, issued %+v", typ, got, issued)
		}
		if d := got.ExpiresAt.Sub(got.IssuedAt); d > testKeys[typ].Lifetime || d < testKeys[typ].Lifetime-time.Second {
			t.Errorf("%s: lifetime %v, want %v", typ, d, testKeys[typ].Lifetime)
		}
		// The claims the contract names are all there.
		var raw jwt.MapClaims
		if _, _, err := jwt.NewParser().ParseUnverified(s, &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"iss", "iat", "exp", "jti", "user_id", "access_role", "type", "fam", "auth_time", "sess_exp"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("%s token lacks claim %q", typ, k)
			}
		}
	}
}

func TestIDsAreUnique(t *testing.T) {
	tk := newTestTokens(t, nil)
	seen := map[string]bool{}
	for range 1000 {
		_, c, err := tk.Issue(api.Claims{Type: api.TokenEmail, UserID: 1, Role: api.RoleBasic})
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] {
			t.Fatalf("jti %s issued twice", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestIssuedAtKeepsSubSecondPrecision(t *testing.T) {
	tk := newTestTokens(t, nil)
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)
	s, _, err := tk.Issue(inSession(api.Claims{Type: api.TokenAccess, UserID: 1, Role: api.RoleBasic, IssuedAt: at, ExpiresAt: at.Add(time.Hour)}, at))
	if err != nil {
		t.Fatal(err)
	}
	tk2 := newTestTokens(t, func() time.Time { return at })
	c, err := tk2.Parse(api.TokenAccess, s)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IssuedAt.Equal(at) {
		t.Errorf("iat = %v, want %v", c.IssuedAt, at)
	}
}

// sign makes a token by hand with any method, key and claims.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims(typ api.TokenType) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": "starwars-api", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "abc",
		"user_id": 7, "access_role": "basic", "type": string(typ), "iat_ns": now.UnixNano(),
		"fam": "family", "auth_time": now.Unix(), "sess_exp": now.Add(time.Hour).Unix(),
	}
}

// rename moves claim from to the key to, keeping its value.
func rename(c jwt.MapClaims, from, to string) jwt.MapClaims {
	return with(with(c, to, c[from]), from, nil)
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestHostileTokens(t *testing.T) {
	tk := newTestTokens(t, nil)
	accessKey := testKeys[api.TokenAccess].Secret
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, accessKey, validClaims(api.TokenAccess))
	if _, err := tk.Parse(api.TokenAccess, good); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
	refresh, _, _ := tk.Issue(inSession(api.Claims{Type: api.TokenRefresh, UserID: 7, Role: api.RoleBasic}, time.Now()))
	email, _, _ := tk.Issue(api.Claims{Type: api.TokenEmail, UserID: 7, Role: api.RoleBasic})
	password, _, _ := tk.Issue(api.Claims{Type: api.TokenPassword, UserID: 7, Role: api.RoleBasic})

	noneToken := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(api.TokenAccess))
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding
	tampered := parts[0] + "." + b64.EncodeToString([]byte(`{"iss":"starwars-api","exp":9999999999,"iat":1,"jti":"x","user_id":1,"access_role":"admin","type":"access","iat_ns":1}`)) + "." + parts[2]
	algNoneHeader := b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	algNoneUpper := b64.EncodeToString([]byte(`{"alg":"NONE","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]

	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"alg none", noneToken, api.CodeTokenInvalid},
		{"alg none, signature stripped", algNoneHeader, api.CodeTokenInvalid},
		{"alg NONE header, HS256 signature", algNoneUpper, api.CodeTokenInvalid},
		{"HS384", sign(t, jwt.SigningMethodHS384, accessKey, validClaims(api.TokenAccess)), api.CodeTokenInvalid},
		{"HS512", sign(t, jwt.SigningMethodHS512, accessKey, validClaims(api.TokenAccess)), api.CodeTokenInvalid},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, validClaims(api.TokenAccess)), api.CodeTokenInvalid},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte("not-the-secret-at-all"), validClaims(api.TokenAccess)), api.CodeTokenInvalid},
		{"tampered payload", tampered, api.CodeTokenInvalid},
		{"refresh token as access", refresh, api.CodeTokenInvalid},
		{"email token as access", email, api.CodeTokenInvalid},
		{"password token as access", password, api.CodeTokenInvalid},
		{"access secret, refresh type", sign(t, jwt.SigningMethodHS256, accessKey, validClaims(api.TokenRefresh)), api.CodeTokenInvalid},
		{"no type", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "type", nil)), api.CodeTokenInvalid},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "iss", "someone-else")), api.CodeTokenInvalid},
		{"no exp", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "exp", nil)), api.CodeTokenInvalid},
		{"no iat", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "iat", nil)), api.CodeTokenInvalid},
		{"no jti", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "jti", nil)), api.CodeTokenInvalid},
		{"no user_id", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "user_id", nil)), api.CodeTokenInvalid},
		{"string user_id", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "user_id", "7")), api.CodeTokenInvalid},
		{"unknown role", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "access_role", "root")), api.CodeTokenInvalid},
		{"expired", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "exp", time.Now().Add(-time.Minute).Unix())), api.CodeTokenExpired},
		// encoding/json matches keys case-insensitively; claim names must match exactly.
		{"USER_ID", sign(t, jwt.SigningMethodHS256, accessKey, rename(validClaims(api.TokenAccess), "user_id", "USER_ID")), api.CodeTokenInvalid},
		{"Type", sign(t, jwt.SigningMethodHS256, accessKey, rename(validClaims(api.TokenAccess), "type", "Type")), api.CodeTokenInvalid},
		{"Access_Role", sign(t, jwt.SigningMethodHS256, accessKey, rename(validClaims(api.TokenAccess), "access_role", "Access_Role")), api.CodeTokenInvalid},
		{"user_id and USER_ID", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "USER_ID", 1)), api.CodeTokenInvalid},
		{"unknown claim", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "admin", true)), api.CodeTokenInvalid},
		{"iat in the future", sign(t, jwt.SigningMethodHS256, accessKey, future(validClaims(api.TokenAccess), time.Hour)), api.CodeTokenInvalid},
		{"iat past the clock-skew leeway", sign(t, jwt.SigningMethodHS256, accessKey, future(validClaims(api.TokenAccess), 2*time.Minute)), api.CodeTokenInvalid},
		{"no family", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "fam", nil)), api.CodeTokenInvalid},
		{"no auth_time", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "auth_time", nil)), api.CodeTokenInvalid},
		{"no sess_exp", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "sess_exp", nil)), api.CodeTokenInvalid},
		{"exp after sess_exp", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "sess_exp", time.Now().Add(time.Minute).Unix())), api.CodeTokenInvalid},
		{"auth_time after iat", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "auth_time", time.Now().Add(time.Minute).Unix())), api.CodeTokenInvalid},
		{"longer than any token lives", sign(t, jwt.SigningMethodHS256, accessKey, with(with(validClaims(api.TokenAccess), "exp", time.Now().Add(api.MaxTokenAge+time.Hour).Unix()), "sess_exp", time.Now().Add(api.MaxTokenAge+time.Hour).Unix())), api.CodeTokenInvalid},
		{"iat_ns in the future, iat not", sign(t, jwt.SigningMethodHS256, accessKey, with(validClaims(api.TokenAccess), "iat_ns", time.Now().Add(time.Hour).UnixNano())), api.CodeTokenInvalid},
		{"empty", "", api.CodeTokenInvalid},
		{"garbage", "not.a.token", api.CodeTokenInvalid},
		{"two parts", parts[0] + "." + parts[1], api.CodeTokenInvalid},
		{"sql", "' OR 1=1 --", api.CodeTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tk.Parse(api.TokenAccess, tt.token)
			if got := api.ErrorCode(err); got != tt.code {
				t.Errorf("Parse = %v (code %s), want %s", err, got, tt.code)
			}
		})
	}
}

// future moves iat (and iat_ns) d ahead of now.
func future(c jwt.MapClaims, d time.Duration) jwt.MapClaims {
	at := time.Now().Add(d)
	return with(with(c, "iat", at.Unix()), "iat_ns", at.UnixNano())
}

func TestIssuedAtWithinClockSkew(t *testing.T) {
	tk := newTestTokens(t, nil)
	key := testKeys[api.TokenAccess].Secret
	// A clock a few seconds ahead on another instance is tolerated...
	soon := sign(t, jwt.SigningMethodHS256, key, future(validClaims(api.TokenAccess), 10*time.Second))
	if _, err := tk.Parse(api.TokenAccess, soon); err != nil {
		t.Errorf("iat 10s ahead: %v", err)
	}
	// ...an iat beyond the leeway is not, by either parser.
	late := sign(t, jwt.SigningMethodHS256, key, future(validClaims(api.TokenAccess), time.Hour))
	if _, err := tk.ParseExpired(api.TokenAccess, late); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("ParseExpired took an iat an hour ahead: %v", err)
	}
	upper := sign(t, jwt.SigningMethodHS256, key, rename(validClaims(api.TokenAccess), "user_id", "User_Id"))
	if _, err := tk.ParseExpired(api.TokenAccess, upper); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("ParseExpired took a misspelt claim: %v", err)
	}
}

func TestParseExpired(t *testing.T) {
	past := time.Now().Add(-48 * time.Hour)
	old := newTestTokens(t, func() time.Time { return past })
	s, _, err := old.Issue(inSession(api.Claims{Type: api.TokenAccess, UserID: 3, Role: api.RoleBasic}, past))
	if err != nil {
		t.Fatal(err)
	}
	tk := newTestTokens(t, nil)
	if _, err := tk.Parse(api.TokenAccess, s); api.ErrorCode(err) != api.CodeTokenExpired {
		t.Errorf("Parse of an expired token: %v", err)
	}
	c, err := tk.ParseExpired(api.TokenAccess, s)
	if err != nil || c.UserID != 3 {
		t.Errorf("ParseExpired = %+v, %v", c, err)
	}
	// Lenient about expiry only: type, issuer and signature still count.
	r, _, _ := old.Issue(inSession(api.Claims{Type: api.TokenRefresh, UserID: 3, Role: api.RoleBasic}, past))
	if _, err := tk.ParseExpired(api.TokenAccess, r); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("ParseExpired took a refresh token: %v", err)
	}
	other, _ := NewTokens(TokensConfig{Issuer: "elsewhere", Keys: testKeys})
	o, _, _ := other.Issue(inSession(api.Claims{Type: api.TokenAccess, UserID: 3, Role: api.RoleBasic}, past))
	if _, err := tk.ParseExpired(api.TokenAccess, o); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("ParseExpired took another issuer's token: %v", err)
	}
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(api.TokenAccess))
	if _, err := tk.ParseExpired(api.TokenAccess, none); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("ParseExpired took alg none: %v", err)
	}
}

func TestIssueKeepsTokensWithinTheirSession(t *testing.T) {
	tk := newTestTokens(t, nil)
	login := time.Now().Add(-time.Hour)
	c := inSession(api.Claims{Type: api.TokenRefresh, UserID: 1, Role: api.RoleBasic}, login)
	c.SessionEnd = login.Add(90 * time.Minute)
	s, issued, err := tk.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tk.Parse(api.TokenRefresh, s)
	if err != nil {
		t.Fatal(err)
	}
	if !issued.ExpiresAt.Equal(c.SessionEnd.Truncate(time.Second)) || !got.ExpiresAt.Equal(issued.ExpiresAt) {
		t.Errorf("exp %v (parsed %v), want the session's end %v", issued.ExpiresAt, got.ExpiresAt, c.SessionEnd)
	}
}

func TestNewTokensChecksConfig(t *testing.T) {
	short := map[api.TokenType]Key{}
	for k, v := range testKeys {
		short[k] = v
	}
	short[api.TokenEmail] = Key{Secret: []byte("short"), Lifetime: time.Hour}
	if _, err := NewTokens(TokensConfig{Issuer: "x", Keys: short}); err == nil {
		t.Error("short secret accepted")
	}
	delete(short, api.TokenEmail)
	if _, err := NewTokens(TokensConfig{Issuer: "x", Keys: short}); err == nil {
		t.Error("missing type accepted")
	}
	if _, err := NewTokens(TokensConfig{Keys: testKeys}); err == nil {
		t.Error("empty issuer accepted")
	}
	same := map[api.TokenType]Key{}
	for k, v := range testKeys {
		same[k] = v
	}
	same[api.TokenPassword] = Key{Secret: testKeys[api.TokenAccess].Secret, Lifetime: time.Hour}
	if _, err := NewTokens(TokensConfig{Issuer: "x", Keys: same}); err == nil || !strings.Contains(err.Error(), "access and password") {
		t.Errorf("equal secrets: %v", err)
	}
}

// FuzzParseToken: no input makes Parse panic, and nothing but a token
// signed with the access secret gets through.
func FuzzParseToken(f *testing.F) {
	tk := newTestTokens(f, nil)
	good, _, _ := tk.Issue(inSession(api.Claims{Type: api.TokenAccess, UserID: 1, Role: api.RoleBasic}, time.Now()))
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJ0eXBlIjoiYWNjZXNzIn0.")
	f.Add(good[:len(good)-2])
	f.Add(good + "x")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := tk.Parse(api.TokenAccess, s)
		if err != nil {
			if code := api.ErrorCode(err); code != api.CodeTokenInvalid && code != api.CodeTokenExpired {
				t.Fatalf("error code %q", code)
			}
			return
		}
		// Accepted: it must verify under the access secret with HS256.
		if _, err := jwt.Parse(s, func(*jwt.Token) (any, error) { return testKeys[api.TokenAccess].Secret, nil },
			jwt.WithValidMethods([]string{"HS256"})); err != nil {
			t.Fatalf("accepted %q (%+v) that does not verify: %v", s, c, err)
		}
		_, _ = tk.ParseExpired(api.TokenRefresh, s)
	})
}

// An access token is presented on every request: once accepted, it is
// checked again by a lookup, without decoding (no allocation), until it
// expires.
func TestParseRemembersAcceptedAccessTokens(t *testing.T) {
	now := time.Now()
	tk := newTestTokens(t, func() time.Time { return now })
	s, issued, err := tk.Issue(inSession(api.Claims{Type: api.TokenAccess, UserID: 7, Role: api.RoleBasic}, now))
	if err != nil {
		t.Fatal(err)
	}
	first, err := tk.Parse(api.TokenAccess, s)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		c, err := tk.Parse(api.TokenAccess, s)
		if err != nil || c != first {
			t.Fatalf("again: %+v, %v", c, err)
		}
	})
	if allocs != 0 {
		t.Errorf("an accepted token parsed again allocates %v times", allocs)
	}
	// Remembered as an access token only.
	if _, err := tk.Parse(api.TokenRefresh, s); api.ErrorCode(err) != api.CodeTokenInvalid {
		t.Errorf("access token taken as refresh: %v", err)
	}
	// Expiry is checked on every use.
	now = issued.ExpiresAt
	if _, err := tk.Parse(api.TokenAccess, s); api.ErrorCode(err) != api.CodeTokenExpired {
		t.Errorf("at exp: %v", err)
	}
	now = issued.ExpiresAt.Add(-time.Second)
	if _, err := tk.Parse(api.TokenAccess, s); err != nil {
		t.Errorf("before exp, once more: %v", err)
	}
	// A token refused is refused again, in full.
	bad := s[:len(s)-2] + "xx"
	for range 2 {
		if _, err := tk.Parse(api.TokenAccess, bad); api.ErrorCode(err) != api.CodeTokenInvalid {
			t.Errorf("bad signature: %v", err)
		}
	}
}
