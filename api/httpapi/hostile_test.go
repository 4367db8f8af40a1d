package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fathat101/swdeploy/api"
)

func TestBodyRules(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	big := `{"email":"` + strings.Repeat("a", 70<<10) + `@rebels.org","password":"Secret123"}`
	justUnder := `{"email":"luke@rebels.org","password":"Secret123"}` + strings.Repeat(" ", (64<<10)-51)

	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		token       string
		status      int
		code        string
	}{
		{"oversized JSON", "POST", "/users/v1/signup", big, "", "", 413, api.CodePayloadTooLarge},
		{"oversized and wrong type: 413 wins", "POST", "/users/v1/signup", big, "text/plain", "", 413, api.CodePayloadTooLarge},
		{"oversized login", "POST", "/users/v1/login", big, "", "", 413, api.CodePayloadTooLarge},
		{"oversized PUT", "PUT", "/users/v1/1", big, "", admin.access, 413, api.CodePayloadTooLarge},
		{"oversized GET body", "GET", "/healthz", big, "text/plain", "", 413, api.CodePayloadTooLarge},
		{"64 KiB exactly is fine", "POST", "/users/v1/signup", justUnder, "", "", 200, ""},
		{"text/plain", "POST", "/users/v1/signup", creds("a@rebels.org", "Secret123"), "text/plain", "", 415, api.CodeUnsupportedMediaType},
		{"no content type", "POST", "/users/v1/signup", creds("a@rebels.org", "Secret123"), "-", "", 415, api.CodeUnsupportedMediaType},
		{"latin-1 JSON", "POST", "/users/v1/signup", creds("a@rebels.org", "Secret123"), "application/json; charset=iso-8859-1", "", 415, api.CodeUnsupportedMediaType},
		{"json-ish type", "POST", "/users/v1/signup", creds("a@rebels.org", "Secret123"), "application/jsonx", "", 415, api.CodeUnsupportedMediaType},
		{"broken content type", "POST", "/users/v1/signup", creds("a@rebels.org", "Secret123"), "application/json; =", "", 415, api.CodeUnsupportedMediaType},
		{"upper-case type", "POST", "/users/v1/signup", creds("b@rebels.org", "Secret123"), "Application/JSON", "", 200, ""},
		{"empty body", "POST", "/users/v1/signup", "", "", "", 400, api.CodeBadRequest},
		{"broken JSON", "POST", "/users/v1/signup", `{"email":`, "", "", 400, api.CodeBadRequest},
		{"trailing garbage", "POST", "/users/v1/signup", creds("c@rebels.org", "Secret123") + "x", "", "", 400, api.CodeBadRequest},
		{"invalid UTF-8 in a value", "POST", "/users/v1/login", "{\"email\":\"a@b.org\",\"password\":\"Secret\xc3\x28123\"}", "", "", 400, api.CodeBadRequest},
		{"invalid UTF-8 in a key", "POST", "/users/v1/signup", "{\"em\xffail\":\"a@b.org\"}", "", "", 400, api.CodeBadRequest},
		{"UTF-16 body", "POST", "/users/v1/signup", "\xff\xfe{\x00}\x00", "", "", 400, api.CodeBadRequest},
		{"unknown field", "POST", "/users/v1/login", `{"email":"a@b.org","password":"x","otp":"1"}`, "", "", 400, api.CodeBadRequest},
		{"deep nesting", "POST", "/users/v1/login", strings.Repeat("[", 10000), "", "", 400, api.CodeBadRequest},
	}
	for _, tt := range tests {
		r := e.do(req{method: tt.method, path: tt.path, body: tt.body, contentType: tt.contentType, token: tt.token})
		expect(t, tt.name, r, tt.status, tt.code)
	}

	// A chunked body of unknown length over the limit: still 413, and
	// still before the content type is looked at.
	hr, _ := http.NewRequest("POST", e.srv.URL+"/users/v1/signup", io.MultiReader(strings.NewReader(big)))
	hr.ContentLength = -1
	hr.Header.Set("Content-Type", "text/plain")
	expect(t, "chunked oversized", e.send(hr), 413, api.CodePayloadTooLarge)
	hr, _ = http.NewRequest("POST", e.srv.URL+"/users/v1/signup", io.MultiReader(strings.NewReader(creds("chunk@rebels.org", "Secret123"))))
	hr.ContentLength = -1
	hr.Header.Set("Content-Type", "application/json")
	expect(t, "chunked small", e.send(hr), 200, "")
}

// TestSQLMetacharacters sends SQL in every field of every body and path
// and expects the contract's answer, never a 500, and the table intact.
func TestSQLMetacharacters(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	u := e.user("bobby")
	payloads := []string{
		"' OR '1'='1", "'; DROP TABLE users; --", `" OR ""="`, "1; SELECT SLEEP(5)", `\'; --`, "%' --", "admin'--",
	}
	for _, p := range payloads {
		// Some payloads make valid addresses ("admin'--" is atext): those
		// are plain data and sign up like any other.
		inDomain := "x" + p + "@rebels.org"
		inDomainStatus, inDomainCode := 400, api.CodeEmailInvalid
		if _, err := api.NormaliseEmail(inDomain); err == nil {
			inDomainStatus, inDomainCode = 200, ""
		}
		for _, tt := range []struct {
			name   string
			r      req
			status int
			code   string
		}{
			{"signup email", req{method: "POST", path: "/users/v1/signup", body: creds(p, "Secret123")}, 400, api.CodeEmailInvalid},
			{"signup email@domain", req{method: "POST", path: "/users/v1/signup", body: creds(inDomain, "Secret123")}, inDomainStatus, inDomainCode},
			{"signup password", req{method: "POST", path: "/users/v1/signup", body: creds("p@rebels.org", p)}, 400, api.CodePasswordInvalid},
			{"signup role", req{method: "POST", path: "/users/v1/signup", body: jsonBody(map[string]string{"email": "r@rebels.org", "password": "Secret123", "access_role": p})}, 400, api.CodeBadRequest},
			{"login email", req{method: "POST", path: "/users/v1/login", body: creds(p, "Secret123")}, 404, api.CodeNotFound},
			{"login password", req{method: "POST", path: "/users/v1/login", body: creds("bobby@rebels.org", p)}, 404, api.CodeNotFound},
			{"put email", req{method: "PUT", path: fmt.Sprintf("/users/v1/%d", u.userID), token: admin.access, body: jsonBody(map[string]string{"email": p})}, 400, api.CodeEmailInvalid},
			{"put role", req{method: "PUT", path: fmt.Sprintf("/users/v1/%d", u.userID), token: admin.access, body: jsonBody(map[string]string{"access_role": p})}, 400, api.CodeBadRequest},
			{"get id", req{method: "GET", path: "/users/v1/1%20OR%201=1", token: admin.access}, 404, api.CodeNotFound},
			{"verification token", req{method: "GET", path: "/users/v1/email_verification?token=" + strings.ReplaceAll(p, " ", "+")}, 401, api.CodeTokenInvalid},
			{"bearer", req{method: "GET", path: "/films/v1/", token: p}, 401, api.CodeTokenInvalid},
		} {
			expect(t, tt.name+" "+p, e.do(tt.r), tt.status, tt.code)
		}
	}
	// A valid address with a quote is data, not SQL.
	e.signup("o'brien@rebels.org", "Secret123", true)
	e.login("o'brien@rebels.org", "Secret123")
	if _, err := e.store.UserByEmail(context.Background(), "bobby@rebels.org"); err != nil {
		t.Errorf("users table damaged: %v", err)
	}
}

func TestHostileTokens(t *testing.T) {
	e := newEnv(t)
	s := e.user("target")
	claims := jwt.MapClaims{"iss": "starwars-api", "iat": 1, "exp": 9999999999, "jti": "forged", "user_id": s.userID,
		"access_role": "admin", "type": "access", "iat_ns": 1}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	wrongSecret, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("guessed-secret-0123456789"))
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString(testKeys[api.TokenAccess].Secret)
	// Signed with the refresh secret but claiming to be an access token.
	refreshSigned, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testKeys[api.TokenRefresh].Secret)
	parts := strings.Split(s.access, ".")
	elevated := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.ReplaceAll(mustDecode(t, parts[1]), []byte(`"basic"`), []byte(`"admin"`))) + "." + parts[2]

	for name, tok := range map[string]string{
		"alg none": none, "wrong secret": wrongSecret, "HS512": hs512, "refresh secret": refreshSigned,
		"refresh token as access": s.refresh, "elevated payload": elevated, "no signature": parts[0] + "." + parts[1] + ".",
	} {
		expect(t, name+" data", e.do(req{method: "GET", path: "/films/v1/", token: tok}), 401, api.CodeTokenInvalid)
		expect(t, name+" user", e.do(req{method: "GET", path: "/users/v1/1", token: tok}), 401, api.CodeTokenInvalid)
		expect(t, name+" logout", e.do(req{method: "POST", path: "/users/v1/logout", token: tok}), 401, api.CodeTokenInvalid)
	}
	// Forged refresh tokens do not rotate either.
	for name, tok := range map[string]string{"alg none": none, "access as refresh": s.access} {
		expect(t, name+" rotate", e.rotate(session{refresh: tok}, s.access), 401, api.CodeTokenInvalid)
	}
	expect(t, "original still valid", e.do(req{method: "GET", path: "/films/v1/", token: s.access}), 200, "")
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
