package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawRequest sends method and uri exactly as given (no client-side
// cleaning) and returns the answer with its body.
func rawRequest(t *testing.T, base, method, uri string) (*http.Response, string) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, method+" "+uri+" HTTP/1.1\r\nHost: starwars.example\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestOperatorPathsStayInside: /metrics and /readyz answer on the API's
// own port only. From the edge's port every spelling of them, however the
// API's router might normalise it, is the contract's 404 and never reaches
// the API; other paths still do.
func TestOperatorPathsStayInside(t *testing.T) {
	addrs := backendAddrs(t, 1)
	a := startAPI(t, &fakeAPI{name: "A", addr: addrs[0]})
	_, base := startEdge(t, testConfig(portOf(a.addr), 0), newFakeDNS(a.addr).resolve, false)

	for _, uri := range []string{
		"/metrics", "/metrics/", "//metrics", "/./metrics", "/x/../metrics", "/%6Detrics", "/%6detrics",
		"/%2Fmetrics", "/metrics%2F", "/%256Detrics", "/METRICS", "/metrics?x=1", "/metrics/?format=text",
		"/metrics/extra", "http://starwars.example/metrics",
		"/readyz", "/readyz/", "//readyz", "/./readyz", "/%72eadyz", "/readyz?verbose=1", "/ReadyZ", "///readyz//",
	} {
		for _, method := range []string{"GET", "HEAD", "POST"} {
			before := a.served.Load()
			resp, body := rawRequest(t, base, method, uri)
			if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: %s %q, want 404 application/json", method, uri, resp.Status, resp.Header.Get("Content-Type"))
			}
			if method != "HEAD" && body != string(notFoundBody) {
				t.Errorf("%s %s: body %q", method, uri, body)
			}
			if a.served.Load() != before {
				t.Errorf("%s %s reached the API", method, uri)
			}
		}
	}
	for _, uri := range []string{"/healthz", "/metricsx", "/readyzz", "/users/v1/metrics", "/films/v1/?x=/metrics"} {
		before := a.served.Load()
		if resp, body := rawRequest(t, base, "GET", uri); resp.StatusCode != http.StatusOK || (uri != "/healthz" && a.served.Load() != before+1) {
			t.Errorf("GET %s: %s %s, want it forwarded", uri, resp.Status, body)
		}
	}
}

// TestForwardedForIsThePeer: the API learns the client's address from the
// edge alone: whatever forwarding headers the client sends, the API gets
// one X-Forwarded-For naming the client's own peer address and no
// Forwarded header.
func TestForwardedForIsThePeer(t *testing.T) {
	addrs := backendAddrs(t, 1)
	a := startAPI(t, &fakeAPI{name: "A", addr: addrs[0]})
	_, base := startEdge(t, testConfig(portOf(a.addr), 0), newFakeDNS(a.addr).resolve, false)
	for _, spoof := range []http.Header{
		{},
		{"X-Forwarded-For": {"6.6.6.6"}},
		{"X-Forwarded-For": {"6.6.6.6, 7.7.7.7", "8.8.8.8"}},
		{"X-Forwarded-For": {"127.0.0.1"}, "Forwarded": {"for=6.6.6.6"}},
		{"X-Forwarded-For": {"garbage,,"}, "X-Real-Ip": {"6.6.6.6"}},
	} {
		req, _ := http.NewRequest("GET", base+"/x", nil)
		for k, vs := range spoof {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
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
		if got := h.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("client sent %v: API got X-Forwarded-For %q, want [127.0.0.1]", spoof, got)
		}
		if got := h.Values("Forwarded"); len(got) != 0 {
			t.Errorf("client sent %v: API got Forwarded %q", spoof, got)
		}
	}
}
