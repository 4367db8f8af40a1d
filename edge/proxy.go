package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"sync"
)

const (
	// maxReplayBody is the largest request body kept for a retry: the
	// API's own limit. A bigger body streams through once and the API
	// answers 413.
	maxReplayBody = 64 << 10
	// maxAttempts is one try plus at most two retries on other backends.
	maxAttempts = 3

	// edgePrefix is the edge's own path space; the API has no such path.
	edgePrefix     = "/edge/"
	edgeHealthPath = edgePrefix + "healthz"
)

// The API contract's bodies (api/httpapi), so that a client cannot tell
// the edge's answers from the API's.
var (
	okBody          = []byte(`{"status":"ok"}`)
	unavailableBody = []byte(`{"status":"error","message":"service-unavailable"}`)
	notFoundBody    = []byte(`{"status":"error","message":"not-found"}`)
	badRequestBody  = []byte(`{"status":"error","message":"bad-request"}`)
)

// errNoBackend means no backend was left to try.
var errNoBackend = errors.New("no backend left to try")

// edge is the HTTP handler: /edge/ for itself, everything else to the API.
type edge struct {
	pool   *pool
	proxy  *httputil.ReverseProxy
	logger *slog.Logger
}

func newEdge(p *pool, logger *slog.Logger) *edge {
	e := &edge{pool: p, logger: logger}
	e.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = p.host // replaced by the chosen backend per attempt
			// Rewrite drops query parameters Go cannot parse; the API gets
			// the query exactly as sent. The Host header stays the client's.
			r.Out.URL.RawQuery = r.In.URL.RawQuery
			// The edge is where clients enter: forwarding headers they
			// sent are not trusted, and are replaced.
			r.SetXForwarded()
		},
		Transport:    &retrying{pool: p, logger: logger},
		BufferPool:   bufferPool{},
		ErrorHandler: e.proxyError,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return e
}

func (e *edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if operatorPath(r.URL.Path) {
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	if strings.HasPrefix(r.URL.Path, edgePrefix) {
		e.serveOwn(w, r)
		return
	}
	if err := bufferBody(r, maxReplayBody); err != nil {
		e.logger.Debug("read request body", "method", r.Method, "err", err)
		writeRaw(w, http.StatusBadRequest, badRequestBody)
		return
	}
	e.proxy.ServeHTTP(w, r)
}

// operatorOnly are the API paths that answer on the API's own port only,
// for the operator on the service network: metrics and readiness tell an
// outsider too much.
var operatorOnly = []string{"/metrics", "/readyz"}

// operatorPath reports whether p (decoded once, as URL.Path is) is one of
// operatorOnly or below it in any spelling a router might take for it:
// repeated or trailing slashes, dot segments, any case, and further
// percent-encoding.
func operatorPath(p string) bool {
	for range 4 {
		c := strings.ToLower(path.Clean("/" + p))
		for _, o := range operatorOnly {
			if c == o || strings.HasPrefix(c, o+"/") {
				return true
			}
		}
		u, err := url.PathUnescape(p)
		if err != nil || u == p {
			return false
		}
		p = u
	}
	return false // no router decodes a path four times
}

// serveOwn answers the edge's own paths.
func (e *edge) serveOwn(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != edgeHealthPath {
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	if e.pool.healthyCount() == 0 {
		writeRaw(w, http.StatusServiceUnavailable, unavailableBody)
		return
	}
	writeRaw(w, http.StatusOK, okBody)
}

// proxyError answers a request no backend answered. The cause goes to the
// debug log only: a full outage must not write a line per request.
func (e *edge) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	e.logger.Debug("proxy", "method", r.Method, "err", err)
	writeRaw(w, http.StatusServiceUnavailable, unavailableBody)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// bufferBody reads up to limit+1 bytes of r's body. A body of at most
// limit bytes becomes replayable (r.GetBody); a bigger one is stitched
// back together and streams through unbuffered.
func bufferBody(r *http.Request, limit int64) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength > limit {
		return nil
	}
	buf := make([]byte, 0, min(max(r.ContentLength, 512), limit+1))
	w := bytes.NewBuffer(buf)
	n, err := io.Copy(w, io.LimitReader(r.Body, limit+1))
	if err != nil {
		return err
	}
	if n > limit {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(w.Bytes()), r.Body), r.Body}
		return nil
	}
	body := w.Bytes()
	r.ContentLength = n
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.Body, _ = r.GetBody()
	return nil
}

// retrying sends each request to a backend from the pool and, when the
// backend did not answer it, to another one.
type retrying struct {
	pool   *pool
	logger *slog.Logger
}

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	// A body in memory and no upgrade: the lean client can carry it.
	lean := replayable && req.Header.Get("Upgrade") == ""
	var tried, refused []*backend
	err := errNoBackend
	for i := 0; i < maxAttempts; i++ {
		b := t.pool.pick(tried, refused)
		if b == nil {
			break
		}
		if i > 0 {
			t.logger.Debug("retry", "method", req.Method, "from", tried[i-1].addr, "to", b.addr, "err", err)
		}
		tried = append(tried, b)
		out, rerr := retryRequest(req, i)
		if rerr != nil {
			return nil, rerr
		}
		var (
			resp *http.Response
			a    attemptInfo
		)
		b.inflight.Add(1)
		if lean {
			resp, a, err = b.conns.roundTrip(out, func() { b.inflight.Add(-1) })
			if err == nil {
				return resp, nil
			}
		} else {
			resp, a, err = transportTrip(out, b)
			if err == nil {
				if resp.StatusCode == http.StatusSwitchingProtocols {
					// An upgraded connection is no request in flight, and
					// the proxy needs its body writable.
					b.inflight.Add(-1)
					return resp, nil
				}
				resp.Body = &doneBody{ReadCloser: resp.Body, b: b}
				return resp, nil
			}
			b.inflight.Add(-1)
		}

		if req.Context().Err() != nil {
			return nil, err // the client is gone
		}
		switch {
		case !a.connected:
			// Refused, unreachable or timed out while connecting:
			// nothing was sent.
			refused = append(refused, b)
			t.pool.markDown(b, err)
			if !replayable {
				// The proxy's body cannot be read after a failed try.
				return nil, err
			}
		case a.answered || isTimeout(err) || !replayable:
			// The backend answered or is merely slow (sending the request
			// again could run it twice), or the body cannot be sent again.
			return nil, err
		case a.reused || idempotent(req.Method):
			// The connection broke before any answer. On a kept-alive
			// connection that is the server closing it as idle (as a
			// graceful shutdown does): the request was not handled.
		default:
			return nil, err
		}
	}
	return nil, err
}

// retryRequest is req for try i: with a fresh body for a retry.
func retryRequest(req *http.Request, i int) (*http.Request, error) {
	if i == 0 || req.GetBody == nil {
		return req, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	out := *req
	out.Body = body
	return &out, nil
}

// transportTrip sends req to b through http.Transport, with a trace
// recording how far the try got.
func transportTrip(req *http.Request, b *backend) (*http.Response, attemptInfo, error) {
	var (
		mu sync.Mutex
		a  attemptInfo
	)
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			mu.Lock()
			a.connected, a.reused = true, info.Reused
			mu.Unlock()
		},
		GotFirstResponseByte: func() {
			mu.Lock()
			a.answered = true
			mu.Unlock()
		},
	}
	out := req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	u := *req.URL
	u.Host = b.addr
	out.URL = &u
	resp, err := b.transport.RoundTrip(out)
	mu.Lock()
	defer mu.Unlock()
	return resp, a, err
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// doneBody ends a request's in-flight count when its response is closed.
type doneBody struct {
	io.ReadCloser
	b    *backend
	once sync.Once
}

func (d *doneBody) Close() error {
	d.once.Do(func() { d.b.inflight.Add(-1) })
	return d.ReadCloser.Close()
}

// bufferPool recycles the proxy's 32 KiB copy buffers.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (bufferPool) Get() []byte  { return copyBuffers.Get().(*[32 << 10]byte)[:] }
func (bufferPool) Put(b []byte) { copyBuffers.Put((*[32 << 10]byte)(b)) }
