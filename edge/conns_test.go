package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestClientGoneEndsBackendRequest: a client that hangs up while the
// backend works gets the backend's request ended too, so that a slow
// backend is not kept busy for nobody.
func TestClientGoneEndsBackendRequest(t *testing.T) {
	addrs := backendAddrs(t, 1)
	started := make(chan struct{}, 1)
	ended := make(chan struct{})
	a := startAPI(t, &fakeAPI{name: "A", addr: addrs[0], handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			close(ended)
		case <-time.After(20 * time.Second):
		}
	})})
	_, base := startEdge(t, testConfig(portOf(a.addr), 0), newFakeDNS(a.addr).resolve, false)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/slow", nil)
	go func() {
		if resp, err := newClient().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the request did not reach the backend")
	}
	cancel()
	select {
	case <-ended:
	case <-time.After(15 * time.Second):
		t.Fatal("the backend's request outlived its client")
	}
}

// TestConnectionsOfAnOutOfRotationBackend: a backend taken out of
// rotation (draining, gone) keeps no connection from the edge, neither
// the one that was busy then, once its answer is done, nor one idle past
// the idle timeout.
func TestConnectionsOfAnOutOfRotationBackend(t *testing.T) {
	addrs := backendAddrs(t, 1)
	var (
		mu     sync.Mutex
		held   string              // the client address of the /hold request
		closed = map[string]bool{} // client addresses whose connection closed
	)
	inHandler := make(chan struct{}, 1)
	release := make(chan struct{})
	a := &fakeAPI{name: "A", addr: addrs[0], handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			mu.Lock()
			held = r.RemoteAddr
			mu.Unlock()
			inHandler <- struct{}{}
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(okBody)
	})}
	a.connState = func(c net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			mu.Lock()
			closed[c.RemoteAddr().String()] = true
			mu.Unlock()
		}
	}
	startAPI(t, a)
	p, base := startEdge(t, testConfig(portOf(a.addr), 0), newFakeDNS(a.addr).resolve, false)
	be := p.view.Load().healthy[0]
	isClosed := func(addr string) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return closed[addr] }
	}

	t.Run("busy when taken out", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			resp, err := newClient().Get(base + "/hold")
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		<-inHandler
		be.closeIdle() // as when the backend turns unhealthy or leaves DNS
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		addr := held
		mu.Unlock()
		waitFor(t, "the busy connection closed", isClosed(addr))
	})
	t.Run("idle too long", func(t *testing.T) {
		go func() { <-inHandler }()
		resp, err := newClient().Get(base + "/hold")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		addr := held
		mu.Unlock()
		be.conns.reap(time.Now().Add(idleTimeout))
		waitFor(t, "the idle connection closed", isClosed(addr))
	})
}
