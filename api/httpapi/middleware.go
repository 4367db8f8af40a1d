package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/fathat101/swdeploy/api"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 64 << 10

type ctxKey int

const (
	infoKey ctxKey = iota
	userKey
)

// requestInfo travels with a request so that handlers can hand their error
// to the one log line the request gets. authenticate puts the token's
// claims here too: one context value per request, not one per middleware.
type requestInfo struct {
	id     string
	err    error
	claims api.Claims
}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(infoKey).(*requestInfo)
	return info
}

// RequestID returns the request id the server gave r, if any.
func RequestID(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// statusWriter records what the handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// validRequestID accepts a client's id only when it is short and plain, so
// that it cannot forge log lines.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// requestIDs count from a random start, so that ids are unique in a
// process and unlikely to repeat across processes without reading the
// system's randomness on every request.
var requestIDs atomic.Uint64

func init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	requestIDs.Store(binary.LittleEndian.Uint64(b[:]))
}

// newRequestID returns 16 hex digits.
func newRequestID() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], requestIDs.Add(1))
	return hex.EncodeToString(b[:])
}

// Header values set on every response, shared so that setting them does
// not allocate; nothing changes a header's values in place.
var (
	nosniff  = []string{"nosniff"}
	jsonType = []string{"application/json"}
)

// observe gives the request an id, recovers from panics, and afterwards
// writes one JSON log line and the request metrics, by route pattern.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		info := &requestInfo{id: id}
		r = r.WithContext(context.WithValue(r.Context(), infoKey, info))
		h := w.Header()
		h.Set("X-Request-Id", id)
		h["X-Content-Type-Options"] = nosniff
		sw := &statusWriter{ResponseWriter: w}

		func() {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "request_id", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, r, fmt.Errorf("panic: %v", v))
				}
			}()
			next.ServeHTTP(sw, r)
		}()

		elapsed := time.Since(start)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.observe(r.Method, route, status, elapsed)

		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", r.Method),
			// The path only: queries carry tokens.
			slog.String("path", r.URL.Path),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int("bytes", sw.bytes),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("remote", r.RemoteAddr),
		}
		if info.err != nil {
			attrs = append(attrs, slog.String("err", info.err.Error()))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// limitBody buffers the body, at most MaxBodyBytes, before anything else
// looks at the request: so a body too large is 413 whatever its content
// type, and handlers read from memory.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			writeError(w, r, api.Errorf(api.CodePayloadTooLarge, "content-length %d", r.ContentLength))
			return
		}
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			writeError(w, r, &api.Error{Code: api.CodeBadRequest, Message: "read body", Err: err})
			return
		}
		if len(body) > MaxBodyBytes {
			writeError(w, r, api.Errorf(api.CodePayloadTooLarge, "body over %d bytes", MaxBodyBytes))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// requireJSON guards the routes that take a body: a body that is not
// application/json (UTF-8) is 415. No body at all is left to the decoder.
func requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			charset, hasCharset := params["charset"]
			if err != nil || mt != "application/json" || (hasCharset && !strings.EqualFold(charset, "utf-8")) {
				writeError(w, r, api.Errorf(api.CodeUnsupportedMediaType, "content type %q", r.Header.Get("Content-Type")))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// bearer extracts the token of an "Authorization: Bearer" header. No
// header, or another scheme, is authorisation-required; an empty token is
// token-invalid.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") {
		return "", &api.Error{Code: api.CodeAuthorisationNeeded}
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", api.Errorf(api.CodeTokenInvalid, "empty bearer token")
	}
	return token, nil
}

// authenticate admits requests with a valid, unrevoked access token and
// puts its claims in the context.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := bearer(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		c, err := s.accounts.Authenticate(r.Context(), token)
		if err != nil {
			writeError(w, r, err)
			return
		}
		infoFrom(r.Context()).claims = c
		next.ServeHTTP(w, r)
	})
}

// principal loads the stored user behind the token (after authenticate),
// so that role checks see the user as stored now.
func (s *server) principal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := claimsFrom(r.Context())
		u, err := s.accounts.Principal(r.Context(), c)
		if err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey, u)))
	})
}

func claimsFrom(ctx context.Context) api.Claims {
	if info := infoFrom(ctx); info != nil {
		return info.claims
	}
	return api.Claims{}
}

func userFrom(ctx context.Context) api.User {
	u, _ := ctx.Value(userKey).(api.User)
	return u
}
