package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api"
)

func TestSignup(t *testing.T) {
	e := newEnv(t)
	e.signup("taken@rebels.org", "Secret123", false)

	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"ok", creds("new@rebels.org", "Secret123"), 200, ""},
		{"access_role basic is accepted", jsonBody(map[string]string{"email": "basic@rebels.org", "password": "Secret123", "access_role": "basic"}), 200, ""},
		{"access_role admin is forbidden", jsonBody(map[string]string{"email": "sith@empire.org", "password": "Secret123", "access_role": "admin"}), 403, api.CodeForbidden},
		{"admin is forbidden before the email is checked", jsonBody(map[string]string{"email": "nope", "password": "x", "access_role": "admin"}), 403, api.CodeForbidden},
		{"other access_role", jsonBody(map[string]string{"email": "x@rebels.org", "password": "Secret123", "access_role": "superuser"}), 400, api.CodeBadRequest},
		{"access_role not a string", `{"email":"x@rebels.org","password":"Secret123","access_role":1}`, 400, api.CodeBadRequest},
		{"email invalid", creds("not-an-email", "Secret123"), 400, api.CodeEmailInvalid},
		{"email with display name", creds("Luke <luke@rebels.org>", "Secret123"), 400, api.CodeEmailInvalid},
		{"email missing", `{"password":"Secret123"}`, 400, api.CodeEmailInvalid},
		{"email checked before password", creds("bad", "bad"), 400, api.CodeEmailInvalid},
		{"password too short", creds("p1@rebels.org", "Sec123"), 400, api.CodePasswordInvalid},
		{"password too long", creds("p2@rebels.org", "Secret123"+strings.Repeat("x", 24)), 400, api.CodePasswordInvalid},
		{"password without upper", creds("p3@rebels.org", "secret123"), 400, api.CodePasswordInvalid},
		{"password without lower", creds("p4@rebels.org", "SECRET123"), 400, api.CodePasswordInvalid},
		{"password without digit", creds("p5@rebels.org", "SecretPass"), 400, api.CodePasswordInvalid},
		{"password with space", creds("p6@rebels.org", "Secret 123"), 400, api.CodePasswordInvalid},
		{"password missing", `{"email":"p7@rebels.org"}`, 400, api.CodePasswordInvalid},
		{"user already exists", creds("taken@rebels.org", "Secret123"), 400, api.CodeUserAlreadyExists},
		{"user already exists, other case", creds("TAKEN@Rebels.org", "Secret123"), 400, api.CodeUserAlreadyExists},
		{"unknown field", `{"email":"u@rebels.org","password":"Secret123","admin":true}`, 400, api.CodeBadRequest},
		{"malformed JSON", `{"email":"u@rebels.org",`, 400, api.CodeBadRequest},
		{"not an object", `["u@rebels.org","Secret123"]`, 400, api.CodeBadRequest},
		{"null", `null`, 400, api.CodeBadRequest},
		{"two objects", creds("u@rebels.org", "Secret123") + creds("v@rebels.org", "Secret123"), 400, api.CodeBadRequest},
		{"email not a string", `{"email":5,"password":"Secret123"}`, 400, api.CodeBadRequest},
		{"invalid UTF-8", "{\"email\":\"u\xff@rebels.org\",\"password\":\"Secret123\"}", 400, api.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(req{method: "POST", path: "/users/v1/signup", body: tt.body})
			expect(t, tt.name, r, tt.status, tt.code)
			if tt.status == 200 && string(r.raw) != `{"status":"ok"}` {
				t.Errorf("body %s", r.raw)
			}
		})
	}

	// The created user is basic, unverified, lower-cased, and got a link.
	u, err := e.store.UserByEmail(context.Background(), "new@rebels.org")
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != api.RoleBasic || u.EmailVerified || u.Disabled {
		t.Errorf("new user %+v", u)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Errorf("hash %q", u.PasswordHash)
	}
	if link := e.mail.last(t, "new@rebels.org"); !strings.HasPrefix(link, "/users/v1/email_verification?token=") {
		t.Errorf("link %q", link)
	}
	for _, email := range []string{"sith@empire.org", "x@rebels.org", "p1@rebels.org", "u@rebels.org"} {
		if _, err := e.store.UserByEmail(context.Background(), email); api.ErrorCode(err) != api.CodeNotFound {
			t.Errorf("%s was created by a failed signup", email)
		}
	}
	e.signup("MixedCase@Rebels.ORG", "Secret123", false)
	if _, err := e.store.UserByEmail(context.Background(), "mixedcase@rebels.org"); err != nil {
		t.Errorf("email not normalised: %v", err)
	}
}

func TestSignupMailFailureLeavesNoUser(t *testing.T) {
	e := newEnv(t)
	e.mail.setFail(true)
	r := e.do(req{method: "POST", path: "/users/v1/signup", body: creds("unlucky@rebels.org", "Secret123")})
	expect(t, "signup with mail down", r, 503, api.CodeUnavailable)
	if strings.Contains(string(r.raw), "smtp") {
		t.Errorf("cause leaked: %s", r.raw)
	}
	e.mail.setFail(false)
	r = e.do(req{method: "POST", path: "/users/v1/signup", body: creds("unlucky@rebels.org", "Secret123")})
	expect(t, "retry", r, 200, "")
}

func TestConcurrentSignupsOfOneEmail(t *testing.T) {
	e := newEnv(t)
	const n = 50
	statuses := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses[i] = e.do(req{method: "POST", path: "/users/v1/signup", body: creds("clone@kamino.org", "Secret123")})
		})
	}
	wg.Wait()
	ok := 0
	for _, r := range statuses {
		switch {
		case r.status == 200:
			ok++
		case r.status == 400 && r.str("message") == api.CodeUserAlreadyExists:
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.raw)
		}
	}
	if ok != 1 {
		t.Errorf("%d signups succeeded, want exactly 1", ok)
	}
	if _, err := e.store.UserByEmail(context.Background(), "clone@kamino.org"); err != nil {
		t.Error(err)
	}
}

func TestEmailVerification(t *testing.T) {
	e := newEnv(t)
	e.signup("verify@rebels.org", "Secret123", false)
	link := e.mail.last(t, "verify@rebels.org")
	token := strings.TrimPrefix(link, "/users/v1/email_verification?token=")

	// Unverified users cannot log in yet.
	r := e.do(req{method: "POST", path: "/users/v1/login", body: creds("verify@rebels.org", "Secret123")})
	expect(t, "login before verifying", r, 400, api.CodeEmailUnverified)

	s := e.user("someone")
	uid := s.userID
	expiredEmail, _, _ := e.past.Issue(api.Claims{Type: api.TokenEmail, UserID: uid, Role: api.RoleBasic})
	forMissingUser, _, _ := e.tokens.Issue(api.Claims{Type: api.TokenEmail, UserID: 999999, Role: api.RoleBasic})

	tests := []struct {
		name   string
		query  string
		status int
		code   string
	}{
		{"no token", "", 401, api.CodeTokenInvalid},
		{"garbage", "?token=garbage", 401, api.CodeTokenInvalid},
		{"access token", "?token=" + s.access, 401, api.CodeTokenInvalid},
		{"refresh token", "?token=" + s.refresh, 401, api.CodeTokenInvalid},
		{"expired email token", "?token=" + expiredEmail, 401, api.CodeTokenInvalid},
		{"token of a missing user", "?token=" + forMissingUser, 401, api.CodeTokenInvalid},
		{"sql in token", "?token=" + url.QueryEscape("' OR 1=1 --"), 401, api.CodeTokenInvalid},
		{"ok", "?token=" + token, 200, ""},
		{"works once", "?token=" + token, 401, api.CodeTokenInvalid},
	}
	for _, tt := range tests {
		r := e.do(req{method: "GET", path: "/users/v1/email_verification" + tt.query})
		expect(t, tt.name, r, tt.status, tt.code)
	}
	u, _ := e.store.UserByEmail(context.Background(), "verify@rebels.org")
	if !u.EmailVerified {
		t.Error("user not verified")
	}
	e.login("verify@rebels.org", "Secret123")
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	okID := e.signup("ok@rebels.org", "Secret123", true)
	e.signup("unverified@rebels.org", "Secret123", false)
	disabledID := e.signup("disabled@rebels.org", "Secret123", true)
	bothID := e.signup("both@rebels.org", "Secret123", false)
	yes := true
	for _, id := range []int64{disabledID, bothID} {
		if _, err := e.store.UpdateUser(ctx, id, api.UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name, email, password string
		status                int
		code                  string
	}{
		{"unknown email", "nobody@rebels.org", "Secret123", 404, api.CodeNotFound},
		{"wrong password", "ok@rebels.org", "Secret124", 404, api.CodeNotFound},
		{"invalid email", "not an email", "Secret123", 404, api.CodeNotFound},
		{"empty", "", "", 404, api.CodeNotFound},
		{"disabled, wrong password: not-found first", "disabled@rebels.org", "Wrong1234", 404, api.CodeNotFound},
		{"disabled", "disabled@rebels.org", "Secret123", 400, api.CodeAccountDisabled},
		{"disabled and unverified: account-disabled first", "both@rebels.org", "Secret123", 400, api.CodeAccountDisabled},
		{"unverified", "unverified@rebels.org", "Secret123", 400, api.CodeEmailUnverified},
		{"unverified, wrong password", "unverified@rebels.org", "Wrong1234", 404, api.CodeNotFound},
		{"ok", "ok@rebels.org", "Secret123", 200, ""},
		{"ok, email in another case", "OK@Rebels.Org", "Secret123", 200, ""},
	}
	for _, tt := range tests {
		r := e.do(req{method: "POST", path: "/users/v1/login", body: creds(tt.email, tt.password)})
		expect(t, tt.name, r, tt.status, tt.code)
		if tt.status == 200 {
			if r.str("token") == "" || r.str("refresh_token") == "" || r.num("user_id") != okID || r.str("email") != "ok@rebels.org" {
				t.Errorf("%s: body %s", tt.name, r.raw)
			}
			if len(r.body) != 4 {
				t.Errorf("%s: unexpected keys in %s", tt.name, r.raw)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: tokens cacheable", tt.name)
			}
		}
	}
	for _, body := range []string{`{"email":"ok@rebels.org"`, `{"email":"ok@rebels.org","password":"Secret123","remember":true}`} {
		expect(t, "bad body "+body, e.do(req{method: "POST", path: "/users/v1/login", body: body}), 400, api.CodeBadRequest)
	}
	expect(t, "text/plain", e.do(req{method: "POST", path: "/users/v1/login", body: creds("ok@rebels.org", "Secret123"), contentType: "text/plain"}), 415, api.CodeUnsupportedMediaType)

	// Several sessions at once: both stay valid.
	a := e.login("ok@rebels.org", "Secret123")
	b := e.login("ok@rebels.org", "Secret123")
	for i, s := range []session{a, b} {
		expect(t, fmt.Sprintf("session %d", i), e.do(req{method: "GET", path: "/films/v1/", token: s.access}), 200, "")
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	s := e.user("leaving")
	other := e.login("leaving@rebels.org", "Secret123")

	expect(t, "no header", e.do(req{method: "POST", path: "/users/v1/logout"}), 401, api.CodeAuthorisationNeeded)
	expect(t, "basic auth", e.do(req{method: "POST", path: "/users/v1/logout", header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}}), 401, api.CodeAuthorisationNeeded)
	expect(t, "empty bearer", e.do(req{method: "POST", path: "/users/v1/logout", header: map[string]string{"Authorization": "Bearer "}}), 401, api.CodeTokenInvalid)
	expect(t, "garbage", e.do(req{method: "POST", path: "/users/v1/logout", token: "garbage"}), 401, api.CodeTokenInvalid)
	expect(t, "refresh token", e.do(req{method: "POST", path: "/users/v1/logout", token: s.refresh}), 401, api.CodeTokenInvalid)

	// A POST that takes no body is never 415, whatever it carries.
	r := e.do(req{method: "POST", path: "/users/v1/logout", token: s.access, body: "bye", contentType: "text/plain"})
	expect(t, "logout", r, 200, "")
	if string(r.raw) != `{"status":"ok"}` {
		t.Errorf("body %s", r.raw)
	}
	expect(t, "access token after logout", e.do(req{method: "GET", path: "/films/v1/", token: s.access}), 401, api.CodeTokenInvalid)
	expect(t, "logout twice", e.do(req{method: "POST", path: "/users/v1/logout", token: s.access}), 401, api.CodeTokenInvalid)
	// The other session is untouched by the logout...
	expect(t, "other session", e.do(req{method: "GET", path: "/films/v1/", token: other.access}), 200, "")
	// ...and the logged-out refresh token is dead: presenting it is reuse.
	expect(t, "refresh after logout", e.rotate(s, s.access), 401, api.CodeTokenInvalid)
	expect(t, "other session after reuse", e.do(req{method: "GET", path: "/films/v1/", token: other.access}), 401, api.CodeTokenInvalid)
	// A body over the limit is still 413.
	expect(t, "oversized logout", e.do(req{method: "POST", path: "/users/v1/logout", token: other.access, body: strings.Repeat("x", 70<<10), contentType: "text/plain"}), 413, api.CodePayloadTooLarge)
}

func TestGenerateTokens(t *testing.T) {
	e := newEnv(t)
	s := e.user("rotor")
	mallory := e.user("mallory")

	// Errors that leave the pair usable.
	noOld := e.do(req{method: "GET", path: "/users/v1/generate_tokens", token: s.refresh})
	expect(t, "old_access_token missing", noOld, 401, api.CodeTokenInvalid)
	expect(t, "another user's access token", e.rotate(s, mallory.access), 401, api.CodeTokenInvalid)
	expect(t, "refresh token as old access token", e.rotate(s, s.refresh), 401, api.CodeTokenInvalid)
	expect(t, "garbage old access token", e.rotate(s, "garbage"), 401, api.CodeTokenInvalid)
	expect(t, "no Authorization", e.do(req{method: "GET", path: "/users/v1/generate_tokens?old_access_token=" + s.access}), 401, api.CodeAuthorisationNeeded)
	expect(t, "access token as refresh token", e.rotate(session{refresh: s.access}, s.access), 401, api.CodeTokenInvalid)
	expiredRefresh := e.expired(api.TokenRefresh, s.userID)
	expect(t, "expired refresh token", e.rotate(session{refresh: expiredRefresh}, s.access), 401, api.CodeTokenInvalid)
	expect(t, "pair still works", e.do(req{method: "GET", path: "/films/v1/", token: s.access}), 200, "")

	// Rotation.
	r := e.rotate(s, s.access)
	expect(t, "rotate", r, 200, "")
	next := session{access: r.str("token"), refresh: r.str("refresh_token"), userID: r.num("user_id")}
	if next.access == "" || next.refresh == "" || next.userID != s.userID || len(r.body) != 3 {
		t.Fatalf("rotate body %s", r.raw)
	}
	expect(t, "old access revoked", e.do(req{method: "GET", path: "/films/v1/", token: s.access}), 401, api.CodeTokenInvalid)
	expect(t, "new access works", e.do(req{method: "GET", path: "/films/v1/", token: next.access}), 200, "")

	// An expired old access token is accepted.
	expiredAccess := e.expired(api.TokenAccess, s.userID)
	r = e.rotate(next, expiredAccess)
	expect(t, "rotate with an expired old access token", r, 200, "")
	next = session{access: r.str("token"), refresh: r.str("refresh_token"), userID: r.num("user_id")}
	// So is a revoked one of the same user (logged out elsewhere).
	gone := e.login("rotor@rebels.org", "Secret123")
	expect(t, "logout other session", e.do(req{method: "POST", path: "/users/v1/logout", token: gone.access}), 200, "")
	r = e.rotate(next, gone.access)
	expect(t, "rotate with a revoked old access token", r, 200, "")
	latest := session{access: r.str("token"), refresh: r.str("refresh_token"), userID: r.num("user_id")}
	parallel := e.login("rotor@rebels.org", "Secret123")

	// Reuse of a rotated refresh token revokes every token of the user...
	expect(t, "reuse", e.rotate(next, next.access), 401, api.CodeTokenInvalid)
	expect(t, "latest access after reuse", e.do(req{method: "GET", path: "/films/v1/", token: latest.access}), 401, api.CodeTokenInvalid)
	expect(t, "latest refresh after reuse", e.rotate(latest, latest.access), 401, api.CodeTokenInvalid)
	expect(t, "parallel session after reuse", e.do(req{method: "GET", path: "/films/v1/", token: parallel.access}), 401, api.CodeTokenInvalid)
	// ...but not another user's, nor logins after it, even in the same second.
	expect(t, "other user", e.do(req{method: "GET", path: "/films/v1/", token: mallory.access}), 200, "")
	fresh := e.login("rotor@rebels.org", "Secret123")
	expect(t, "login after reuse", e.do(req{method: "GET", path: "/films/v1/", token: fresh.access}), 200, "")
	expect(t, "rotate after reuse", e.rotate(fresh, fresh.access), 200, "")
}

func TestConcurrentRotationsOfOneRefreshToken(t *testing.T) {
	e := newEnv(t)
	s := e.user("racer")
	const n = 10
	answers := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i] = e.rotate(s, s.access) })
	}
	wg.Wait()
	ok := 0
	for _, r := range answers {
		switch r.status {
		case 200:
			ok++
		case 401:
		default:
			t.Errorf("answer %d %s", r.status, r.raw)
		}
	}
	// At most one wins (the losers' reuse may revoke even the winner's
	// pair, which is the point), never two.
	if ok > 1 {
		t.Errorf("%d rotations of one refresh token succeeded", ok)
	}
}

func TestGetUser(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	a := e.user("alice")
	b := e.user("bob")

	tests := []struct {
		name   string
		token  string
		id     string
		status int
		code   string
	}{
		{"self", a.access, fmt.Sprint(a.userID), 200, ""},
		{"basic asks another user", a.access, fmt.Sprint(b.userID), 403, api.CodeForbidden},
		{"basic asks a missing user", a.access, "999999", 403, api.CodeForbidden},
		{"basic asks a non-number", a.access, "abc", 403, api.CodeForbidden},
		{"basic asks the admin", a.access, fmt.Sprint(e.adminID), 403, api.CodeForbidden},
		{"admin asks a user", admin.access, fmt.Sprint(b.userID), 200, ""},
		{"admin asks self", admin.access, fmt.Sprint(e.adminID), 200, ""},
		{"admin asks a missing user", admin.access, "999999", 404, api.CodeNotFound},
		{"admin asks a non-number", admin.access, "abc", 404, api.CodeNotFound},
		{"admin asks zero", admin.access, "0", 404, api.CodeNotFound},
		{"admin asks sql", admin.access, url.PathEscape("1 OR 1=1"), 404, api.CodeNotFound},
		{"no token", "", fmt.Sprint(a.userID), 401, api.CodeAuthorisationNeeded},
		{"refresh token", a.refresh, fmt.Sprint(a.userID), 401, api.CodeTokenInvalid},
	}
	for _, tt := range tests {
		r := e.do(req{method: "GET", path: "/users/v1/" + tt.id, token: tt.token})
		expect(t, tt.name, r, tt.status, tt.code)
	}

	r := e.do(req{method: "GET", path: fmt.Sprintf("/users/v1/%d", a.userID), token: a.access})
	want := []string{"user_id", "email", "access_role", "email_verified", "disabled", "created"}
	if len(r.body) != len(want) {
		t.Errorf("user object %s", r.raw)
	}
	for _, k := range want {
		if _, ok := r.body[k]; !ok {
			t.Errorf("user object lacks %q: %s", k, r.raw)
		}
	}
	if r.num("user_id") != a.userID || r.str("email") != "alice@rebels.org" || r.str("access_role") != "basic" ||
		r.body["email_verified"] != true || r.body["disabled"] != false {
		t.Errorf("user object %s", r.raw)
	}
	if _, err := time.Parse(time.RFC3339, r.str("created")); err != nil {
		t.Errorf("created %q: %v", r.str("created"), err)
	}
	if strings.Contains(string(r.raw), "argon2") || strings.Contains(strings.ToLower(string(r.raw)), "password") {
		t.Errorf("hash leaked: %s", r.raw)
	}
}

func TestRolesAreCheckedAgainstTheStoredUser(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	second := e.user("second")
	victim := e.user("victim")
	path := fmt.Sprintf("/users/v1/%d", victim.userID)

	// Promoted by PUT: the token issued as basic now has admin rights.
	r := e.do(req{method: "PUT", path: fmt.Sprintf("/users/v1/%d", second.userID), token: admin.access, body: `{"access_role":"admin"}`})
	expect(t, "promote", r, 200, "")
	expect(t, "promoted reads another user", e.do(req{method: "GET", path: path, token: second.access}), 200, "")
	// Demoted: loses admin rights at once, same token.
	r = e.do(req{method: "PUT", path: fmt.Sprintf("/users/v1/%d", second.userID), token: admin.access, body: `{"access_role":"basic"}`})
	expect(t, "demote", r, 200, "")
	expect(t, "demoted reads another user", e.do(req{method: "GET", path: path, token: second.access}), 403, api.CodeForbidden)
	expect(t, "demoted updates", e.do(req{method: "PUT", path: path, token: second.access, body: `{"disabled":true}`}), 403, api.CodeForbidden)
	expect(t, "demoted deletes", e.do(req{method: "DELETE", path: path, token: second.access}), 403, api.CodeForbidden)
}

func TestPutUser(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	u := e.user("target")
	other := e.user("other")
	path := fmt.Sprintf("/users/v1/%d", u.userID)

	tests := []struct {
		name        string
		token, path string
		body        string
		contentType string
		status      int
		code        string
	}{
		{"basic user", u.access, path, `{"disabled":true}`, "", 403, api.CodeForbidden},
		{"basic user, bad body", u.access, path, `{`, "", 403, api.CodeForbidden},
		{"no token", "", path, `{"disabled":true}`, "", 401, api.CodeAuthorisationNeeded},
		{"missing user", admin.access, "/users/v1/999999", `{"disabled":true}`, "", 404, api.CodeNotFound},
		{"non-number id", admin.access, "/users/v1/abc", `{"disabled":true}`, "", 404, api.CodeNotFound},
		{"empty object", admin.access, path, `{}`, "", 400, api.CodeBadRequest},
		{"only nulls", admin.access, path, `{"email":null}`, "", 400, api.CodeBadRequest},
		{"unknown field", admin.access, path, `{"password":"Secret123"}`, "", 400, api.CodeBadRequest},
		{"email_verified is not updatable", admin.access, path, `{"email_verified":true}`, "", 400, api.CodeBadRequest},
		{"malformed", admin.access, path, `{"disabled":`, "", 400, api.CodeBadRequest},
		{"disabled not a bool", admin.access, path, `{"disabled":"yes"}`, "", 400, api.CodeBadRequest},
		{"unknown role", admin.access, path, `{"access_role":"root"}`, "", 400, api.CodeBadRequest},
		{"email invalid", admin.access, path, `{"email":"nope"}`, "", 400, api.CodeEmailInvalid},
		{"email taken", admin.access, path, `{"email":"other@rebels.org"}`, "", 400, api.CodeUserAlreadyExists},
		{"email taken, other case", admin.access, path, `{"email":"OTHER@rebels.org"}`, "", 400, api.CodeUserAlreadyExists},
		{"no body", admin.access, path, "", "", 400, api.CodeBadRequest},
		{"text/plain", admin.access, path, `{"disabled":true}`, "text/plain", 415, api.CodeUnsupportedMediaType},
		{"form", admin.access, path, `disabled=true`, "application/x-www-form-urlencoded", 415, api.CodeUnsupportedMediaType},
		{"no content type", admin.access, path, `{"disabled":true}`, "-", 415, api.CodeUnsupportedMediaType},
		{"json with charset", admin.access, path, `{"email":"Renamed@Rebels.org"}`, "application/json; charset=utf-8", 200, ""},
		{"change role", admin.access, path, `{"access_role":"admin"}`, "", 200, ""},
		{"change back", admin.access, path, `{"access_role":"basic","disabled":false}`, "", 200, ""},
	}
	for _, tt := range tests {
		r := e.do(req{method: "PUT", path: tt.path, token: tt.token, body: tt.body, contentType: tt.contentType})
		expect(t, tt.name, r, tt.status, tt.code)
	}
	r := e.do(req{method: "GET", path: path, token: admin.access})
	if r.str("email") != "renamed@rebels.org" || r.str("access_role") != "basic" || r.body["disabled"] != false {
		t.Errorf("after updates: %s", r.raw)
	}
	_ = other
}

func TestDisablingRevokesAllTokens(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	u := e.user("rogue")
	second := e.login("rogue@rebels.org", "Secret123")
	bystander := e.user("bystander")
	path := fmt.Sprintf("/users/v1/%d", u.userID)

	r := e.do(req{method: "PUT", path: path, token: admin.access, body: `{"disabled":true}`})
	expect(t, "disable", r, 200, "")
	if r.body["disabled"] != true || r.num("user_id") != u.userID {
		t.Errorf("disable answer %s", r.raw)
	}
	for i, s := range []session{u, second} {
		expect(t, fmt.Sprintf("access %d", i), e.do(req{method: "GET", path: "/films/v1/", token: s.access}), 401, api.CodeTokenInvalid)
		expect(t, fmt.Sprintf("own user %d", i), e.do(req{method: "GET", path: path, token: s.access}), 401, api.CodeTokenInvalid)
		expect(t, fmt.Sprintf("refresh %d", i), e.rotate(s, s.access), 401, api.CodeTokenInvalid)
	}
	expect(t, "bystander", e.do(req{method: "GET", path: "/films/v1/", token: bystander.access}), 200, "")
	expect(t, "login while disabled", e.do(req{method: "POST", path: "/users/v1/login", body: creds("rogue@rebels.org", "Secret123")}), 400, api.CodeAccountDisabled)

	expect(t, "enable", e.do(req{method: "PUT", path: path, token: admin.access, body: `{"disabled":false}`}), 200, "")
	fresh := e.login("rogue@rebels.org", "Secret123")
	expect(t, "login after re-enabling", e.do(req{method: "GET", path: "/films/v1/", token: fresh.access}), 200, "")
}

func TestDeleteUser(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	u := e.user("doomed")
	basic := e.user("basic")
	path := fmt.Sprintf("/users/v1/%d", u.userID)

	expect(t, "basic user", e.do(req{method: "DELETE", path: path, token: basic.access}), 403, api.CodeForbidden)
	expect(t, "basic deletes self", e.do(req{method: "DELETE", path: fmt.Sprintf("/users/v1/%d", basic.userID), token: basic.access}), 403, api.CodeForbidden)
	expect(t, "no token", e.do(req{method: "DELETE", path: path}), 401, api.CodeAuthorisationNeeded)
	expect(t, "admin deletes own account", e.do(req{method: "DELETE", path: fmt.Sprintf("/users/v1/%d", e.adminID), token: admin.access}), 403, api.CodeForbidden)
	expect(t, "missing", e.do(req{method: "DELETE", path: "/users/v1/999999", token: admin.access}), 404, api.CodeNotFound)
	expect(t, "non-number", e.do(req{method: "DELETE", path: "/users/v1/abc", token: admin.access}), 404, api.CodeNotFound)

	r := e.do(req{method: "DELETE", path: path, token: admin.access})
	expect(t, "delete", r, 200, "")
	if string(r.raw) != fmt.Sprintf(`{"id":%d}`, u.userID) {
		t.Errorf("delete answer %s", r.raw)
	}
	expect(t, "get deleted", e.do(req{method: "GET", path: path, token: admin.access}), 404, api.CodeNotFound)
	expect(t, "delete twice", e.do(req{method: "DELETE", path: path, token: admin.access}), 404, api.CodeNotFound)
	expect(t, "deleted user's token", e.do(req{method: "GET", path: "/films/v1/", token: u.access}), 401, api.CodeTokenInvalid)
	expect(t, "admin still there", e.do(req{method: "GET", path: fmt.Sprintf("/users/v1/%d", e.adminID), token: admin.access}), 200, "")
	// The email is free again.
	e.signup("doomed@rebels.org", "Secret123", false)
}

func TestFirstAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.store.UserByEmail(ctx, adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != api.RoleAdmin || !u.EmailVerified {
		t.Fatalf("admin %+v", u)
	}
	// Re-running at start-up changes nothing...
	if err := e.accounts.EnsureAdmin(ctx, adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	again, _ := e.store.UserByEmail(ctx, adminEmail)
	if again != u {
		t.Errorf("admin changed: %+v -> %+v", u, again)
	}
	// ...a new configured password replaces the old one...
	if err := e.accounts.EnsureAdmin(ctx, "ADMIN@starwars.local", "New-admin-pass2"); err != nil {
		t.Fatal(err)
	}
	expect(t, "old admin password", e.do(req{method: "POST", path: "/users/v1/login", body: creds(adminEmail, adminPassword)}), 404, api.CodeNotFound)
	s := e.login(adminEmail, "New-admin-pass2")
	if s.userID != u.ID {
		t.Errorf("admin id changed: %d -> %d", u.ID, s.userID)
	}
	// ...and a demoted configured admin is admin again after a restart.
	basic := api.RoleBasic
	if _, err := e.store.UpdateUser(ctx, u.ID, api.UserUpdate{Role: &basic}); err != nil {
		t.Fatal(err)
	}
	if err := e.accounts.EnsureAdmin(ctx, adminEmail, "New-admin-pass2"); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.store.UserByEmail(ctx, adminEmail); again.Role != api.RoleAdmin {
		t.Errorf("role %s", again.Role)
	}
	if err := e.accounts.EnsureAdmin(ctx, "not-an-email", "x"); err == nil {
		t.Error("invalid admin email accepted")
	}
}
