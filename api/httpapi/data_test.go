package httpapi_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/fathat101/swdeploy/api"
)

func TestDataRoutes(t *testing.T) {
	e := newEnv(t)
	s := e.user("reader")
	expiredAccess, _, _ := e.past.Issue(api.Claims{Type: api.TokenAccess, UserID: s.userID, Role: api.RoleBasic})
	emailToken, _, _ := e.tokens.Issue(api.Claims{Type: api.TokenEmail, UserID: s.userID, Role: api.RoleBasic})

	tests := []struct {
		name   string
		path   string
		token  string
		status int
		code   string
		body   []byte // for successes
		param  string // for bad-request
	}{
		{"person", "/character/v1/1", s.access, 200, "", personJSON, ""},
		{"people", "/characters/v1/", s.access, 200, "", peopleJSON, ""},
		{"film", "/films/v1/1", s.access, 200, "", filmJSON, ""},
		{"films", "/films/v1/", s.access, 200, "", filmsJSON, ""},
		{"person not found", "/character/v1/missing", s.access, 404, api.CodeNotFound, nil, ""},
		{"film not found", "/films/v1/missing", s.access, 404, api.CodeNotFound, nil, ""},
		{"characters not found", "/characters/v1/?filters=height:gte:9999", s.access, 404, api.CodeCharactersNotFound, nil, ""},
		{"films not found", "/films/v1/?options[none]=true", s.access, 404, api.CodeFilmsNotFound, nil, ""},
		{"max_items 3", "/characters/v1/?max_items=3", s.access, 400, api.CodeBadRequest, nil, "max_items"},
		{"sort_order sideways", "/characters/v1/?sort_order=sideways", s.access, 400, api.CodeBadRequest, nil, "sort_order"},
		{"bad option", "/character/v1/bad", s.access, 400, api.CodeBadRequest, nil, "options"},
		{"upstream error", "/films/v1/upstream", s.access, 502, api.CodeUpstreamError, nil, ""},
		{"upstream timeout", "/character/v1/timeout", s.access, 504, api.CodeUpstreamTimeout, nil, ""},
		{"internal error", "/films/v1/internal", s.access, 500, api.CodeInternal, nil, ""},
		{"panic", "/films/v1/panic", s.access, 500, api.CodeInternal, nil, ""},
		{"no token", "/films/v1/", "", 401, api.CodeAuthorisationNeeded, nil, ""},
		{"garbage token", "/films/v1/", "garbage", 401, api.CodeTokenInvalid, nil, ""},
		{"refresh token", "/films/v1/", s.refresh, 401, api.CodeTokenInvalid, nil, ""},
		{"email token", "/characters/v1/", emailToken, 401, api.CodeTokenInvalid, nil, ""},
		{"expired token", "/character/v1/1", expiredAccess, 401, api.CodeTokenExpired, nil, ""},
		{"no trailing slash", "/films/v1", s.access, 404, api.CodeNotFound, nil, ""},
	}
	for _, tt := range tests {
		r := e.do(req{method: "GET", path: tt.path, token: tt.token})
		expect(t, tt.name, r, tt.status, tt.code)
		if tt.body != nil && string(r.raw) != string(tt.body) {
			t.Errorf("%s: body %s, want %s", tt.name, r.raw, tt.body)
		}
		if tt.code != "" {
			if got := r.str("parameter"); got != tt.param {
				t.Errorf("%s: parameter %q, want %q", tt.name, got, tt.param)
			}
			// Only the code: no cause text, no stack.
			if strings.Contains(string(r.raw), "Access denied") || strings.Contains(string(r.raw), "panicked") ||
				strings.Contains(string(r.raw), "10.0.0") {
				t.Errorf("%s: cause leaked: %s", tt.name, r.raw)
			}
		}
	}
	// The panic and the internal error reached the log, with their cause.
	logs := e.logs.String()
	if !strings.Contains(logs, "fake star wars panicked") || !strings.Contains(logs, "Access denied") {
		t.Error("causes missing from the log")
	}

	// The query and id reach StarWars untouched.
	q := "options%5Bfilms%5D=false&filters=height:gte:180&filters=gender:eq:male&sort_by=height&sort_order=desc&max_items=5"
	expect(t, "query", e.do(req{method: "GET", path: "/characters/v1/?" + q, token: s.access}), 200, "")
	_, got := e.sw.last()
	want, _ := url.ParseQuery(q)
	if got.Encode() != want.Encode() {
		t.Errorf("query passed as %v, want %v", got, want)
	}
	expect(t, "id", e.do(req{method: "GET", path: "/character/v1/42?options[attributes]=false", token: s.access}), 200, "")
	if id, q := e.sw.last(); id != "42" || q.Get("options[attributes]") != "false" {
		t.Errorf("id %q query %v", id, q)
	}
	if r := e.do(req{method: "GET", path: "/films/v1/", token: s.access}); r.header.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", r.header.Get("Content-Type"))
	}
}

// A large answer goes with its length, not chunked: fewer writes, and
// the client knows the size up front.
func TestLargeAnswerHasContentLength(t *testing.T) {
	e := newEnv(t)
	s := e.user("reader")
	r := e.do(req{method: "GET", path: "/films/v1/large", token: s.access})
	if r.status != 200 || string(r.raw) != string(largeFilmJSON) {
		t.Fatalf("status %d, %d bytes", r.status, len(r.raw))
	}
	if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(largeFilmJSON)) {
		t.Errorf("Content-Length %q, want %d", got, len(largeFilmJSON))
	}
}
