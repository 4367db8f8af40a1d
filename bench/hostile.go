package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

var b64 = base64.RawURLEncoding

// forge re-signs token's claims (changed by edit) with header and key.
func forge(token string, header map[string]any, key []byte, newHash func() hash.Hash, edit func(map[string]any)) string {
	parts := strings.Split(token, ".")
	var claims map[string]any
	raw, _ := b64.DecodeString(parts[1])
	_ = json.Unmarshal(raw, &claims)
	if edit != nil {
		edit(claims)
	}
	hj, _ := json.Marshal(header)
	cj, _ := json.Marshal(claims)
	signing := b64.EncodeToString(hj) + "." + b64.EncodeToString(cj)
	if newHash == nil {
		return signing + "."
	}
	m := hmac.New(newHash, key)
	m.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(m.Sum(nil))
}

// hostileCase is one request and the answers that are acceptable.
type hostileCase struct {
	name, request string
	do            func(ctx context.Context) (Response, error)
	want          []string // "401 token-invalid", ...
}

func (h *Harness) hostile(ctx context.Context, p *Project, api API) (*Table, error) {
	us, err := api.NewUsers(ctx, "hostile", 1)
	if err != nil {
		return nil, err
	}
	u := us[0]
	// An email token: sign up and take the link from the log, unused.
	email := fmt.Sprintf("hostile-mail-%s@example.com", randHex(3))
	if r, err := api.Do(ctx, "POST", "/users/v1/signup", "", map[string]string{"email": email, "password": "Hostile" + randHex(3) + "9"}); err != nil || r.Status != 200 {
		return nil, fmt.Errorf("signup: %v %d", err, r.Status)
	}
	var emailToken string
	for i := 0; i < 20 && emailToken == ""; i++ {
		logs, err := api.Logs(ctx)
		if err != nil {
			return nil, err
		}
		emailToken = linkFor(logs, email)
		if emailToken == "" {
			time.Sleep(250 * time.Millisecond)
		}
	}
	secret := []byte(h.Secret("jwt_access_secret"))
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	get := func(path, token string, header ...string) func(context.Context) (Response, error) {
		return func(ctx context.Context) (Response, error) { return api.Do(ctx, "GET", path, token, nil, header...) }
	}
	post := func(path string, body []byte, ctype string) func(context.Context) (Response, error) {
		return func(ctx context.Context) (Response, error) {
			return api.Do(ctx, "POST", path, "", body, "Content-Type", ctype)
		}
	}
	jsonBody := func(v any) []byte { b, _ := json.Marshal(v); return b }
	films := "/films/v1/"
	bigBody := append([]byte(`{"email":"`), bytes.Repeat([]byte("a"), 64<<10)...)
	bigBody = append(bigBody, []byte(`@example.com","password":"Passw0rdX"}`)...)
	hugeBody := bytes.Repeat([]byte(" "), 8<<20)
	invalid := []string{"401 token-invalid", "401 token-expired"}
	cases := []hostileCase{
		{"token with alg none", "GET " + films + ", claims of a valid access token, `alg: none`, no signature",
			get(films, forge(u.Access, map[string]any{"alg": "none", "typ": "JWT"}, nil, nil, nil)), invalid},
		{"algorithm confusion: HS512", "same claims signed HS512 with the real access secret",
			get(films, forge(u.Access, map[string]any{"alg": "HS512", "typ": "JWT"}, secret, sha512.New, nil)), invalid},
		{"algorithm confusion: RS256 header", "`alg: RS256`, HMAC-SHA256 signature with the real access secret",
			get(films, forge(u.Access, map[string]any{"alg": "RS256", "typ": "JWT"}, secret, sha256.New, nil)), invalid},
		{"wrong key", "HS256 signed with another secret",
			get(films, forge(u.Access, hs256, []byte(randHex(32)), sha256.New, nil)), invalid},
		{"tampered claims", "`access_role: admin` with the original signature", func(ctx context.Context) (Response, error) {
			parts := strings.Split(u.Access, ".")
			f := strings.Split(forge(u.Access, hs256, secret, sha256.New, func(c map[string]any) { c["access_role"] = "admin" }), ".")
			return api.Do(ctx, "GET", films, f[0]+"."+f[1]+"."+parts[2], nil)
		}, invalid},
		{"expired token", "exp an hour ago, signed HS256 with the real access secret",
			get(films, forge(u.Access, hs256, secret, sha256.New, func(c map[string]any) {
				c["exp"] = time.Now().Add(-time.Hour).Unix()
				c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			})), invalid},
		{"token of another type: refresh as access", "GET " + films + " with the user's refresh token", get(films, u.Refresh), invalid},
		{"token of another type: email as access", "GET " + films + " with an email-verification token", get(films, emailToken), invalid},
		{"token of another type: access as refresh", "GET /users/v1/generate_tokens with the access token as the refresh token",
			get("/users/v1/generate_tokens?old_access_token="+u.Access, u.Access), invalid},
		{"garbage token", "`Authorization: Bearer` + 10 KiB of dots and letters", get(films, strings.Repeat("a.b", 3400)), append(invalid, "431 ", "400 bad-request")},
		{"no token", "GET " + films + " without Authorization", get(films, ""), []string{"401 authorisation-required"}},
		{"oversized body", "POST /users/v1/signup, 64 KiB + 50 bytes", post("/users/v1/signup", bigBody, "application/json"), []string{"413 payload-too-large"}},
		{"oversized body, 8 MiB", "POST /users/v1/login, 8 MiB of spaces", post("/users/v1/login", hugeBody, "application/json"), []string{"413 payload-too-large"}},
		{"not JSON", "POST /users/v1/login, `Content-Type: text/plain`", post("/users/v1/login", []byte(`{}`), "text/plain"), []string{"415 unsupported-media-type"}},
		{"unknown field", "POST /users/v1/signup with `access_role: admin`", post("/users/v1/signup", jsonBody(map[string]string{"email": "x@example.com", "password": "Passw0rdX", "access_role": "admin"}), "application/json"), []string{"403 forbidden", "400 bad-request"}},
		{"SQL injection: login", "email `' OR '1'='1' -- `", post("/users/v1/login", jsonBody(map[string]string{"email": "' OR '1'='1' -- ", "password": "x"}), "application/json"), []string{"404 not-found", "400 email-invalid", "400 bad-request"}},
		{"SQL injection: login as a real user", "email `<user>' -- `", post("/users/v1/login", jsonBody(map[string]string{"email": u.Email + "' -- ", "password": "x"}), "application/json"), []string{"404 not-found", "400 email-invalid", "400 bad-request"}},
		{"SQL injection: signup", "email `x'); DROP TABLE users; --@example.com`", post("/users/v1/signup", jsonBody(map[string]string{"email": "x'); DROP TABLE users; --@example.com", "password": "Passw0rdX"}), "application/json"), []string{"400 email-invalid"}},
		{"SQL injection: user id", "GET /users/v1/1%20OR%201=1", get("/users/v1/1%20OR%201=1", u.Access), []string{"400 bad-request", "404 not-found", "403 forbidden"}},
		{"SQL injection: filters", "filters=name:eq:' OR '1'='1", get("/characters/v1/?filters=name:eq:%27%20OR%20%271%27=%271", u.Access), []string{"404 characters-not-found"}},
		{"SQL injection: sort_by", "sort_by=name;DROP TABLE users (`;` encoded as %3B)", get("/characters/v1/?sort_by=name%3BDROP%20TABLE%20users", u.Access), []string{"400 bad-request"}},
		{"invalid UTF-8 in a body", "signup email with bytes ff fe", post("/users/v1/signup", []byte("{\"email\":\"\xff\xfe@example.com\",\"password\":\"Passw0rdX\"}"), "application/json"), []string{"400 bad-request", "400 email-invalid"}},
		{"invalid UTF-8 in a query", "filters=name:eq:%FF%FE", get("/characters/v1/?filters=name:eq:%FF%FE", u.Access), []string{"400 bad-request", "404 characters-not-found"}},
		{"invalid UTF-8 in options", "options[%FF]=false", get("/characters/v1/?options[%FF]=false", u.Access), []string{"400 bad-request"}},
		{"huge number", "max_items=99999999999999999999", get("/characters/v1/?max_items=99999999999999999999", u.Access), []string{"400 bad-request"}},
		{"unknown filter op", "filters=height:like:1", get("/characters/v1/?filters=height:like:1", u.Access), []string{"400 bad-request"}},
	}
	t := &Table{Head: []string{"hostile case", "request", "answer", "time (ms)", "expected", "as expected"}}
	for _, c := range cases {
		start := time.Now()
		r, err := c.do(ctx)
		d := time.Since(start)
		got := ""
		if err != nil {
			got = "error: " + shortErr(err)
		} else {
			got = fmt.Sprintf("%d %s", r.Status, r.Message())
			if p := r.JSON["parameter"]; p != nil {
				got += fmt.Sprintf(" (parameter %v)", p)
			}
		}
		ok := false
		for _, w := range c.want {
			if strings.HasPrefix(got, w) {
				ok = true
			}
		}
		t.Add(c.name, c.request, got, fnum(float64(d.Microseconds())/1000, 1), strings.Join(c.want, " or "), yesNo(ok))
	}
	// The users table is intact after the injections.
	if err := api.Login(ctx, u); err != nil {
		t.Add("after the injections", "the hostile user logs in", "error: "+err.Error(), "", "200", "no")
	} else {
		t.Add("after the injections", "the hostile user logs in", "200", "", "200", "yes")
	}
	for _, row := range h.hostileCompose(ctx) {
		t.Add(row...)
	}
	return t, nil
}

// hostileCompose gives swdeploy hostile Compose files (`swdeploy config`,
// which reads and validates without touching the engine).
func (h *Harness) hostileCompose(ctx context.Context) [][]string {
	cases := []struct {
		name  string
		valid bool // valid Compose: exit 0 is a right answer too
		text  string
	}{
		{"billion laughs (nested anchors)", true, "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nservices:\n  s:\n    image: x\n    command: *e\n"},
		{"self-referencing merge", false, "services:\n  a: &a {image: x, <<: *a}\n"},
		{"port out of range", false, "services:\n  api:\n    image: x\n    ports: [\"99999999999999999999:1\"]\n"},
		{"negative ports, bad volume", false, "services:\n  api:\n    image: x\n    volumes: [\"::::\"]\n    ports: [\"-1:-1/udp\"]\n"},
		{"nested required variables", false, "services:\n  api:\n    image: ${A:?${B:?${C}}}\n"},
		{"build context / and Dockerfile ../../etc/passwd", true, "services:\n  api:\n    build: {context: /, dockerfile: ../../etc/passwd}\n"},
		{"service depends on itself", false, "services:\n  api:\n    image: x\n    depends_on: {api: {condition: service_started}}\n"},
		{"10,000-character service name", true, "services:\n  " + strings.Repeat("a", 10000) + ":\n    image: x\n"},
		{"NUL byte", false, "services:\n  api:\n    image: \"x\x00y\"\n\x00"},
		{"invalid UTF-8", false, "services:\n  api:\n    image: \xff\xfe\n"},
		{"empty health test, restart on-failure:-1", false, "services:\n  api:\n    image: x\n    healthcheck: {test: []}\n    restart: on-failure:-1\n"},
		{"deep nesting", false, strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"},
	}
	dir := filepath.Join(h.tmp, "hostile-compose")
	os.MkdirAll(dir, 0o755)
	var rows [][]string
	for i, c := range cases {
		f := filepath.Join(dir, fmt.Sprintf("case%d.yaml", i))
		os.WriteFile(f, []byte(c.text), 0o644)
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		start := time.Now()
		cmd := exec.CommandContext(cctx, h.swd, "-p", "swbhostile"+h.id, "-f", f, "config")
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		d := time.Since(start)
		hung := cctx.Err() != nil
		cancel()
		code := cmd.ProcessState.ExitCode()
		msg := strings.TrimSpace(strings.SplitN(strings.TrimSpace(stderr.String()), "\n", 2)[0])
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.HasPrefix(l, "swdeploy:") {
				msg = strings.TrimSpace(l) // its own message, not a library's warning
				break
			}
		}
		msg = strings.ReplaceAll(msg, f, "FILE")
		if len(msg) > 160 {
			msg = msg[:160] + "…"
		}
		got := fmt.Sprintf("exit %d: %s", code, msg)
		if err == nil {
			got = "exit 0 (accepted)"
		}
		if hung {
			got = "hung (killed after 60 s)"
		}
		panicked := strings.Contains(stderr.String(), "panic:") || strings.Contains(stderr.String(), "goroutine ")
		ok := code == 2 && !panicked && !hung
		want := "exit 2 with a located message, no panic"
		if c.valid {
			// Valid Compose (what it asks for fails later, at the
			// engine): accepting it is right, as long as it answers.
			ok = (code == 0 || code == 2) && !panicked && !hung
			want = "exit 0 or 2, no panic, no hang"
		}
		rows = append(rows, []string{"Compose file: " + c.name, "`swdeploy -f FILE config`", got, fnum(float64(d.Microseconds())/1000, 0), want, yesNo(ok)})
	}
	return rows
}
