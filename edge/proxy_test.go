package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRefusingBackendIsRetriedElsewhere: a backend the pool still thinks
// healthy stops listening; every request, GET or POST, is answered by the
// other one, and the refusing backend leaves rotation at once.
func TestRefusingBackendIsRetriedElsewhere(t *testing.T) {
	addrs := backendAddrs(t, 2)
	a := startAPI(t, &fakeAPI{name: "A", addr: addrs[0]})
	b := startAPI(t, &fakeAPI{name: "B", addr: addrs[1]})
	p, base := startEdge(t, testConfig(portOf(a.addr), 0), newFakeDNS(a.addr, b.addr).resolve, false)
	if p.healthyCount() != 2 {
		t.Fatalf("healthy backends: %d, want 2", p.healthyCount())
	}
	c := newClient()
	for i := range 20 { // both in use, connections kept alive
		if _, err := call(c, http.MethodGet, fmt.Sprintf("%s/x?%d", base, i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if a.served.Load() == 0 || b.served.Load() == 0 {
		t.Fatalf("A served %d, B %d: want both used", a.served.Load(), b.served.Load())
	}

	a.srv.Close() // no drain, no 503: gone between two checks
	// A body over 64 KiB cannot be sent twice: refused, it gets 503; and
	// A leaves rotation.
	big := bytes.Repeat([]byte("b"), maxReplayBody+100)
	for i := 0; stateOf(p, a.addr) == "healthy"; i++ {
		before := b.served.Load()
		resp, err := c.Post(base+"/x", "text/plain", bytes.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		toB := resp.StatusCode == http.StatusRequestEntityTooLarge && b.served.Load() == before+1
		toA := resp.StatusCode == http.StatusServiceUnavailable && b.served.Load() == before
		if !toA && !toB {
			t.Fatalf("big body: %s, B served %d more", resp.Status, b.served.Load()-before)
		}
		if i == 10 {
			t.Fatal("no request went to A")
		}
	}
	before := b.served.Load()
	for i := range 50 {
		method, body := http.MethodGet, []byte(nil)
		if i%2 == 1 {
			method, body = http.MethodPost, bytes.Repeat([]byte{'p', byte(i)}, 1000)
		}
		if _, err := call(c, method, fmt.Sprintf("%s/x?%d", base, i), body); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if got := b.served.Load() - before; got != 50 {
		t.Errorf("B served %d of the 50 requests after A stopped", got)
	}
	if s := stateOf(p, a.addr); s != "unhealthy" {
		t.Errorf("A is %s after refusing, want unhealthy", s)
	}
}

// TestNoBackendAnswers503: with no backend, or none answering, the client
// gets the API's 503 at once, never a hang.
func TestNoBackendAnswers503(t *testing.T) {
	addrs := backendAddrs(t, 2) // nothing listens on them
	for _, tc := range []struct {
		name string
		dns  func(*fakeDNS)
	}{
		{"name not found", func(d *fakeDNS) { d.fail(&net.DNSError{Err: "no such host", Name: "starwars-api", IsNotFound: true}) }},
		{"empty answer", func(d *fakeDNS) { d.set() }},
		{"resolved, nothing listening", func(d *fakeDNS) { d.set(addrs...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dns := newFakeDNS()
			tc.dns(dns)
			p, base := startEdge(t, testConfig(portOf(addrs[0]), 0), dns.resolve, false)
			if p.healthyCount() != 0 {
				t.Fatalf("healthy backends: %d", p.healthyCount())
			}
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				req, _ := http.NewRequest(method, base+"/users/v1/login", strings.NewReader(`{"email":"a@b.c"}`))
				resp, err := newClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable || string(raw) != `{"status":"error","message":"service-unavailable"}` ||
					resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("%s: %s %q %q", method, resp.Status, resp.Header.Get("Content-Type"), raw)
				}
			}
			resp, err := http.Get(base + edgeHealthPath)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("%s: %s, want 503", edgeHealthPath, resp.Status)
			}
		})
	}
}

// TestUnhealthyButAnsweringIsStillUsed: when no backend passes its check,
// the resolved ones are tried anyway (the API may be up while its check
// lags).
func TestUnhealthyButAnsweringIsStillUsed(t *testing.T) {
	addrs := backendAddrs(t, 1)
	a := &fakeAPI{name: "A", addr: addrs[0]}
	a.down.Store(true)
	startAPI(t, a)
	p, base := startEdge(t, testConfig(portOf(a.addr), 0), newFakeDNS(a.addr).resolve, false)
	if s := stateOf(p, a.addr); s != "unhealthy" {
		t.Fatalf("A is %s", s)
	}
	if _, err := call(newClient(), http.MethodPost, base+"/x", []byte("body")); err != nil {
		t.Fatal(err)
	}
}

// TestNewBackendWaitsForItsFirstCheck: a backend in DNS gets no request
// while its first check runs, nor while its checks fail.
func TestNewBackendWaitsForItsFirstCheck(t *testing.T) {
	addrs := backendAddrs(t, 2)
	a := startAPI(t, &fakeAPI{name: "A", addr: addrs[0]})
	b := &fakeAPI{name: "B", addr: addrs[1], holdCheck: make(chan struct{})}
	b.down.Store(true)
	startAPI(t, b)
	dns := newFakeDNS(a.addr)
	p, base := startEdge(t, testConfig(portOf(a.addr), 5*time.Millisecond), dns.resolve, true)
	c := newClient()
	send := func(n int) {
		t.Helper()
		for i := range n {
			method, body := http.MethodGet, []byte(nil)
			if i%2 == 1 {
				method, body = http.MethodPost, []byte(`{"i":1}`)
			}
			if _, err := call(c, method, base+"/x", body); err != nil {
				t.Fatal(err)
			}
		}
	}

	dns.set(a.addr, b.addr)
	waitFor(t, "B's first check to start", func() bool { return b.checks.Load() > 0 })
	if s := stateOf(p, b.addr); s != "unchecked" {
		t.Fatalf("B is %s during its first check", s)
	}
	send(100)
	if n := b.served.Load(); n != 0 {
		t.Fatalf("B served %d requests before its first check passed", n)
	}

	close(b.holdCheck) // the check answers: 503
	waitFor(t, "B unhealthy", func() bool { return stateOf(p, b.addr) == "unhealthy" })
	send(100)
	if n := b.served.Load(); n != 0 {
		t.Fatalf("B served %d requests while failing its check", n)
	}

	b.down.Store(false)
	waitFor(t, "B healthy", func() bool { return stateOf(p, b.addr) == "healthy" })
	send(100)
	if b.served.Load() == 0 || a.served.Load() < 200 {
		t.Fatalf("after B passed: A served %d, B %d", a.served.Load(), b.served.Load())
	}
}

// TestBodies: bodies up to the API's 64 KiB are buffered for a retry,
// bigger ones stream through (the API answers 413, or a backend without
// the limit gets all of it), sent with or without a length.
func TestBodies(t *testing.T) {
	addrs := backendAddrs(t, 2)
	limited := startAPI(t, &fakeAPI{name: "limited", addr: addrs[0]})
	_, base := startEdge(t, testConfig(portOf(limited.addr), 0), newFakeDNS(limited.addr).resolve, false)
	c := newClient()
	for _, n := range []int{0, 1, maxReplayBody - 1, maxReplayBody} {
		for _, first := range []byte{'a', 'b'} { // odd first byte: chunked
			body := bytes.Repeat([]byte{first}, n)
			if _, err := call(c, http.MethodPost, base+"/x", body); err != nil {
				t.Errorf("%d bytes (first %q): %v", n, first, err)
			}
		}
	}
	for _, first := range []byte{'a', 'b'} {
		body := bytes.Repeat([]byte{first}, maxReplayBody+1)
		_, err := call(c, http.MethodPost, base+"/x", body)
		if err == nil || !strings.Contains(err.Error(), "413") {
			t.Errorf("64 KiB + 1 (first %q): %v, want the API's 413", first, err)
		}
	}

	big := startAPI(t, &fakeAPI{name: "big", addr: addrs[1], unlimited: true})
	_, base = startEdge(t, testConfig(portOf(big.addr), 0), newFakeDNS(big.addr).resolve, false)
	for _, first := range []byte{'a', 'b'} {
		body := bytes.Repeat([]byte{first, 'x', 'y'}, 1<<20)
		if _, err := call(c, http.MethodPost, base+"/x", body); err != nil {
			t.Errorf("3 MiB (first %q): %v", first, err)
		}
	}
}

// TestStreaming: neither a request body over 64 KiB nor a response is
// held until complete. Each side waits for the other to see its first
// part before sending the rest, which deadlocks (and times out) if the
// edge buffers either whole.
func TestStreaming(t *testing.T) {
	addrs := backendAddrs(t, 1)
	firstPart := make(chan struct{})
	rest := make(chan struct{})
	const part = maxReplayBody + 4096
	a := &fakeAPI{name: "A", addr: addrs[0], handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" {
			if _, err := io.ReadFull(r.Body, make([]byte, part)); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			close(firstPart)
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%d", part+int(n))
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "first")
		http.NewResponseController(w).Flush()
		select {
		case <-rest:
		case <-time.After(20 * time.Second):
		}
		fmt.Fprintln(w, "second")
	})}
	startAPI(t, a)
	_, base := startEdge(t, testConfig(portOf(a.addr), 0), newFakeDNS(a.addr).resolve, false)

	t.Run("request body", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write(make([]byte, part))
			select {
			case <-firstPart:
			case <-time.After(20 * time.Second):
			}
			_, _ = pw.Write(make([]byte, 1000))
			pw.Close()
		}()
		resp, err := newClient().Post(base+"/upload", "application/octet-stream", pr)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(raw) != fmt.Sprint(part+1000) {
			t.Errorf("backend read %s bytes, want %d", raw, part+1000)
		}
		select {
		case <-firstPart:
		default:
			t.Error("the backend saw the body only once complete")
		}
	})
	t.Run("response", func(t *testing.T) {
		resp, err := newClient().Get(base + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		got := make(chan string, 1)
		go func() { line, _ := r.ReadString('\n'); got <- line }()
		select {
		case line := <-got:
			if line != "first\n" {
				t.Fatalf("first line %q", line)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the first part did not arrive before the response ended")
		}
		close(rest)
		if line, _ := r.ReadString('\n'); line != "second\n" {
			t.Errorf("second line %q", line)
		}
	})
}

// TestPassThrough: what the client sends is what the API gets, and back,
// except the forwarding headers, which the edge sets.
func TestPassThrough(t *testing.T) {
	addrs := backendAddrs(t, 1)
	a := startAPI(t, &fakeAPI{name: "A", addr: addrs[0], handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("X-Request-Id", "abc")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		_ = json.NewEncoder(w).Encode(echo{
			Method: r.Method, URI: r.RequestURI, Host: r.Host, Len: len(b), Sum: sum(b), Header: r.Header,
		})
	})})
	_, base := startEdge(t, testConfig(portOf(a.addr), 0), newFakeDNS(a.addr).resolve, false)

	const uri = "/api/people/a%2Fb/?search=luke&page=2&x=1&x=2&odd=a;b"
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		body := []byte(`{"email":"luke@rebels.org"}`)
		req, _ := http.NewRequest(method, base+uri, bytes.NewReader(body))
		req.Host = "starwars.example"
		req.Header.Set("Authorization", "Bearer t0ken")
		req.Header.Add("X-Test", "one")
		req.Header.Add("X-Test", "two")
		req.Header.Set("X-Forwarded-For", "6.6.6.6") // spoofed: replaced
		req.Header.Set("Content-Type", "application/json")
		resp, err := newClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e echo
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header(e.Header)
		for _, c := range []struct{ what, got, want string }{
			{"status", resp.Status, "418 I'm a teapot"},
			{"Set-Cookie", strings.Join(resp.Header.Values("Set-Cookie"), ","), "a=1,b=2"},
			{"X-Request-Id", resp.Header.Get("X-Request-Id"), "abc"},
			{"method", e.Method, method},
			{"uri", e.URI, uri},
			{"host", e.Host, "starwars.example"},
			{"body", fmt.Sprint(e.Len, e.Sum), fmt.Sprint(len(body), sum(body))},
			{"Authorization", h.Get("Authorization"), "Bearer t0ken"},
			{"X-Test", strings.Join(h.Values("X-Test"), ","), "one,two"},
			{"Content-Type", h.Get("Content-Type"), "application/json"},
			{"X-Forwarded-For", strings.Join(h.Values("X-Forwarded-For"), ","), "127.0.0.1"},
			{"X-Forwarded-Proto", h.Get("X-Forwarded-Proto"), "http"},
			{"X-Forwarded-Host", h.Get("X-Forwarded-Host"), "starwars.example"},
		} {
			if c.got != c.want {
				t.Errorf("%s: %s %q, want %q", method, c.what, c.got, c.want)
			}
		}
	}

	// /edge/ is the edge's own: never forwarded.
	before := a.served.Load()
	for path, want := range map[string]int{edgeHealthPath: 200, "/edge/other": 404} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %s %q, want %d", path, resp.Status, resp.Header.Get("Content-Type"), want)
		}
	}
	if a.served.Load() != before {
		t.Error("an /edge/ path reached the backend")
	}
}

// TestRetryPolicy: a connection dropped before any answer is retried when
// the request cannot have been handled (a kept-alive connection closed
// under it, or a method safe to repeat), and only then.
func TestRetryPolicy(t *testing.T) {
	addrs := backendAddrs(t, 1)
	// The backend drops one connection without answering: the first
	// request that drop chooses by its number on its connection.
	type connKey struct{}
	var (
		mu      sync.Mutex
		drop    func(nth int64) bool
		dropped bool
		calls   atomic.Int64
	)
	a := &fakeAPI{name: "A", addr: addrs[0]}
	a.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		n := r.Context().Value(connKey{}).(*atomic.Int64).Add(1)
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		d := !dropped && drop(n)
		dropped = dropped || d
		mu.Unlock()
		if d {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
			return
		}
		_ = json.NewEncoder(w).Encode(echo{Backend: "A", Method: r.Method, Len: len(b), Sum: sum(b)})
	})
	a.connContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, new(atomic.Int64))
	}
	startAPI(t, a)
	p, base := startEdge(t, testConfig(portOf(a.addr), 0), newFakeDNS(a.addr).resolve, false)
	be := p.view.Load().healthy[0]

	for _, tc := range []struct {
		name       string
		method     string
		keptAlive  bool // drop a request on a kept-alive connection, else on a new one
		wantCalls  int64
		wantAnswer bool
	}{
		{"POST on a kept-alive connection", "POST", true, 2, true},
		{"GET on a kept-alive connection", "GET", true, 2, true},
		{"GET on a new connection", "GET", false, 2, true},
		{"POST on a new connection: it may have run", "POST", false, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be.closeIdle()
			mu.Lock()
			dropped = false
			drop = func(n int64) bool { return (n == 1) != tc.keptAlive }
			mu.Unlock()
			var body []byte
			if tc.method == "POST" {
				body = []byte(`{"name":"Luke"}`)
			}
			c := newClient()
			// On a kept-alive connection: send until a request lands on
			// one (the first always opens a connection).
			for i := 0; ; i++ {
				calls.Store(0)
				_, err := call(c, tc.method, base+"/x", body)
				mu.Lock()
				d := dropped
				mu.Unlock()
				if !d {
					if err != nil {
						t.Fatal(err)
					}
					if i == 10 {
						t.Fatal("no request was dropped")
					}
					continue
				}
				if tc.wantAnswer && err != nil {
					t.Errorf("want an answer after a retry, got %v", err)
				}
				if !tc.wantAnswer && (err == nil || !strings.Contains(err.Error(), "503")) {
					t.Errorf("want 503 (no retry), got %v", err)
				}
				if n := calls.Load(); n != tc.wantCalls {
					t.Errorf("the backend got the request %d times, want %d", n, tc.wantCalls)
				}
				return
			}
		})
	}
}
