package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Backends in these tests are real HTTP servers on loopback addresses
// 127.0.0.2, 127.0.0.3, ... sharing one port, as API containers share
// one port on their own IPs. Linux routes all of 127.0.0.0/8 to loopback.

// backendAddrs returns n addresses 127.0.0.(2..n+1):P with P free on all.
func backendAddrs(t testing.TB, n int) []string {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("needs 127.0.0.0/8 on loopback: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		addrs := make([]string, n)
		ok := true
		for i := range n {
			addrs[i] = net.JoinHostPort("127.0.0."+strconv.Itoa(i+2), strconv.Itoa(port))
			l, err := net.Listen("tcp", addrs[i])
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return addrs
		}
	}
	t.Fatal("no port free on every test address")
	return nil
}

func ipOf(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// fakeDNS is a switchable DNS answer.
type fakeDNS struct {
	mu    sync.Mutex
	ips   []string
	err   error
	calls atomic.Int64
}

func newFakeDNS(addrs ...string) *fakeDNS {
	d := &fakeDNS{}
	d.set(addrs...)
	return d
}

// set makes the name resolve to the IPs of addrs.
func (d *fakeDNS) set(addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ips, d.err = nil, nil
	for _, a := range addrs {
		d.ips = append(d.ips, ipOf(a))
	}
}

func (d *fakeDNS) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ips, d.err = nil, err
}

func (d *fakeDNS) resolve(ctx context.Context, host string) ([]string, error) {
	d.calls.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.ips...), d.err
}

// fakeAPI stands in for one API container: /healthz, and an echo of every
// other request, bodies limited to 64 KiB like the API's unless unlimited.
type fakeAPI struct {
	name string
	addr string
	srv  *http.Server

	down      atomic.Bool   // /healthz answers 503, as when broken
	draining  atomic.Bool   // /healthz answers 200 with X-Draining, as while shutting down
	served    atomic.Int64  // requests other than /healthz answered
	checks    atomic.Int64  // /healthz requests received
	holdCheck chan struct{} // when not nil, /healthz waits until it is closed
	delay     time.Duration // up to this long per request, at random
	unlimited bool          // no body limit
	handler   http.Handler  // replaces the echo when not nil

	connContext func(context.Context, net.Conn) context.Context
	connState   func(net.Conn, http.ConnState)
}

// echo is what fakeAPI answers, so a client can check what arrived.
type echo struct {
	Backend string              `json:"backend"`
	Method  string              `json:"method"`
	URI     string              `json:"uri"`
	Host    string              `json:"host"`
	Len     int                 `json:"len"`
	Sum     string              `json:"sum"`
	Header  map[string][]string `json:"header"`
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		f.checks.Add(1)
		if f.holdCheck != nil {
			<-f.holdCheck
		}
		if f.down.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write(unavailableBody)
			return
		}
		if f.draining.Load() {
			w.Header().Set(drainingHeader, "true")
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(okBody)
		return
	}
	defer f.served.Add(1)
	if f.handler != nil {
		f.handler.ServeHTTP(w, r)
		return
	}
	body := r.Body
	if !f.unlimited {
		body = http.MaxBytesReader(w, r.Body, maxReplayBody)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = w.Write([]byte(`{"status":"error","message":"payload-too-large"}`))
		return
	}
	if f.delay > 0 {
		time.Sleep(rand.N(f.delay))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(echo{
		Backend: f.name, Method: r.Method, URI: r.RequestURI, Host: r.Host,
		Len: len(b), Sum: sum(b), Header: r.Header,
	})
}

// startAPI serves f on f.addr until the test ends.
func startAPI(t testing.TB, f *fakeAPI) *fakeAPI {
	t.Helper()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		t.Fatalf("listen %s: %v", f.addr, err)
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second,
		ConnContext: f.connContext, ConnState: f.connState}
	go func() { _ = f.srv.Serve(ln) }()
	t.Cleanup(func() { f.srv.Close() })
	return f
}

// shutdown stops f the way the API does: graceful, in-flight requests
// finish.
func (f *fakeAPI) shutdown(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Errorf("%s: graceful shutdown: %v", f.name, err)
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testConfig is the default configuration for backends on port; refresh
// 0 means the test refreshes the pool itself.
func testConfig(port string, refresh time.Duration) config {
	c := defaultConfig()
	c.Listen = "127.0.0.1:0"
	c.Backend = "starwars-api:" + port
	if refresh > 0 {
		c.Refresh = refresh
	}
	return c
}

// startEdge serves an edge over the pool on loopback, refreshing the pool
// every cfg.Refresh when loop is set. It returns the pool and base URL.
func startEdge(t testing.TB, cfg config, resolve resolver, loop bool) (*pool, string) {
	t.Helper()
	logger := testLogger(t)
	p := newPool(cfg, resolve, logger)
	p.refresh(context.Background())()
	if loop {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { p.run(ctx, cfg.Refresh); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	e := newEdge(p, logger)
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.Close()
		p.close()
	})
	return p, srv.URL
}

// stateOf is what the pool thinks of addr ("absent" when not resolved).
func stateOf(p *pool, addr string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.backends[addr]; ok {
		return b.state.String()
	}
	return "absent"
}

// waitFor polls cond until it holds, failing the test after a generous
// timeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newClient() *http.Client {
	return &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
}

// call sends one request and decodes the echo; a non-200 or an echo that
// does not match what was sent is an error.
func call(c *http.Client, method, url string, body []byte) (echo, error) {
	var r io.Reader
	if body != nil {
		r = bytesReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return echo{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return echo{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return echo{}, fmt.Errorf("read: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return echo{}, fmt.Errorf("%s %s: %s %s", method, url, resp.Status, raw)
	}
	var e echo
	if err := json.Unmarshal(raw, &e); err != nil {
		return echo{}, fmt.Errorf("decode %q: %w", raw, err)
	}
	if e.Method != method || e.Len != len(body) || e.Sum != sum(body) {
		return e, fmt.Errorf("%s %s: backend %s got %s with %d bytes", method, url, e.Backend, e.Method, e.Len)
	}
	return e, nil
}

type readerOf struct {
	b []byte
	i int
}

func (r *readerOf) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

// bytesReader hides the length from http.NewRequest for bodies whose
// first byte is odd, so that about half the requests are sent chunked.
func bytesReader(b []byte) io.Reader {
	if len(b) > 0 && b[0]%2 == 1 {
		return &readerOf{b: b}
	}
	return bytes.NewReader(b)
}
