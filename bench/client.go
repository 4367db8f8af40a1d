package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// API is a client of one running API server.
type API struct {
	Base string // http://127.0.0.1:PORT
	HTTP *http.Client
	Logs func(context.Context) (string, error) // the server's log, for verification links
}

// Response is one answer: status, the raw body and the body as JSON when it is.
type Response struct {
	Status int
	Body   []byte
	JSON   map[string]any
	Header http.Header
}

// Message is the error code of a contract error body.
func (r Response) Message() string {
	if m, ok := r.JSON["message"].(string); ok {
		return m
	}
	return ""
}

func (a API) client() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Do sends a request; body is JSON-encoded unless it is a []byte.
func (a API) Do(ctx context.Context, method, path, token string, body any, header ...string) (Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, rd)
	if err != nil {
		return Response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	r := Response{Status: resp.StatusCode, Body: raw, Header: resp.Header}
	_ = json.Unmarshal(raw, &r.JSON)
	return r, nil
}

// User is an account the harness made, with its last tokens.
type User struct {
	Email, Password string
	ID              int64
	Access, Refresh string
}

var linkRe = regexp.MustCompile(`email_verification\?token=([A-Za-z0-9_.\-]+)`)

// NewUsers signs up n users and verifies them through the links the server
// writes to its log (a stack without SMTP does that).
func (a API) NewUsers(ctx context.Context, prefix string, n int) ([]*User, error) {
	var users []*User
	for i := 0; i < n; i++ {
		u := &User{Email: fmt.Sprintf("%s-%d-%s@example.com", prefix, i, randHex(3)), Password: "Bench" + randHex(4) + "x9"}
		r, err := a.Do(ctx, "POST", "/users/v1/signup", "", map[string]string{"email": u.Email, "password": u.Password})
		if err != nil {
			return nil, fmt.Errorf("signup: %w", err)
		}
		if r.Status != 200 {
			return nil, fmt.Errorf("signup %s: %d %s", u.Email, r.Status, r.Body)
		}
		users = append(users, u)
	}
	var logs string
	for attempt := 0; ; attempt++ {
		var err error
		if logs, err = a.Logs(ctx); err != nil {
			return nil, err
		}
		missing := 0
		for _, u := range users {
			if linkFor(logs, u.Email) == "" {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if attempt == 20 {
			return nil, fmt.Errorf("%d verification link(s) not in the api's log", missing)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, u := range users {
		r, err := a.Do(ctx, "GET", "/users/v1/email_verification?token="+linkFor(logs, u.Email), "", nil)
		if err != nil {
			return nil, err
		}
		if r.Status != 200 {
			return nil, fmt.Errorf("verify %s: %d %s", u.Email, r.Status, r.Body)
		}
		if err := a.Login(ctx, u); err != nil {
			return nil, err
		}
	}
	return users, nil
}

func linkFor(logs, email string) string {
	token := ""
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, strings.ToLower(email)) {
			if m := linkRe.FindStringSubmatch(line); m != nil {
				token = m[1]
			}
		}
	}
	return token
}

// Login logs u in and keeps its tokens.
func (a API) Login(ctx context.Context, u *User) error {
	r, err := a.Do(ctx, "POST", "/users/v1/login", "", map[string]string{"email": u.Email, "password": u.Password})
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if r.Status != 200 {
		return fmt.Errorf("login %s: %d %s", u.Email, r.Status, r.Body)
	}
	u.Access, _ = r.JSON["token"].(string)
	u.Refresh, _ = r.JSON["refresh_token"].(string)
	if id, ok := r.JSON["user_id"].(float64); ok {
		u.ID = int64(id)
	}
	return nil
}

// WaitReady polls /readyz until it answers 200.
func (a API) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		r, err := a.Do(ctx, "GET", "/readyz", "", nil)
		if err == nil && r.Status == 200 {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s/readyz: %w", a.Base, err)
			}
			return fmt.Errorf("%s/readyz: %d %s", a.Base, r.Status, r.Body)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Operator returns a client of the API container's own port on the
// service network, where /readyz and /metrics answer: the edge keeps them
// from the published port. The host dials that address only when `ip
// route get` names a local bridge.
func (p *Project) Operator(ctx context.Context) (API, error) {
	cs, err := p.Containers(ctx)
	if err != nil {
		return API{}, err
	}
	netName := p.Name + "_service-network"
	addr := cs["api"].Networks[netName]
	if !routeStaysHere(ctx, addr) {
		return API{}, fmt.Errorf("the api container's address %q on %s is not on a local bridge (`ip route get`): not dialled", addr, netName)
	}
	return API{Base: "http://" + addr + ":5003", Logs: func(ctx context.Context) (string, error) { return p.Logs(ctx, "api") }}, nil
}

// API returns a client of the project's published API.
func (p *Project) API() API {
	return API{Base: p.URL(), Logs: func(ctx context.Context) (string, error) { return p.Logs(ctx, "api") }}
}

var jsonUnmarshal = json.Unmarshal
