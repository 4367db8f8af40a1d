package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
)

// poolOf is a pool over the given backends, without DNS or checks.
func poolOf(states map[string]health) (*pool, map[string]*backend) {
	p := newPool(defaultConfig(), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	bs := map[string]*backend{}
	for addr, s := range states {
		b := &backend{addr: addr, state: s, transport: newTransport(p.cfg)}
		p.backends[addr], bs[addr] = b, b
	}
	p.mu.Lock()
	p.publish()
	p.mu.Unlock()
	return p, bs
}

func TestPick(t *testing.T) {
	p, bs := poolOf(map[string]health{"a:1": healthy, "b:1": healthy, "c:1": healthy, "new:1": unchecked, "sick:1": unhealthy})
	count := map[string]int{}
	for range 300 {
		count[p.pick(nil, nil).addr]++
	}
	if count["a:1"] != 100 || count["b:1"] != 100 || count["c:1"] != 100 {
		t.Errorf("round-robin over the healthy: %v", count)
	}

	bs["a:1"].inflight.Store(3)
	bs["b:1"].inflight.Store(1)
	bs["c:1"].inflight.Store(2)
	if got := p.pick(nil, nil); got != bs["b:1"] {
		t.Errorf("fewest in flight: got %s", got.addr)
	}
	if got := p.pick([]*backend{bs["b:1"]}, nil); got != bs["c:1"] {
		t.Errorf("fewest in flight, b tried: got %s", got.addr)
	}
	all := []*backend{bs["a:1"], bs["b:1"], bs["c:1"]}
	if got := p.pick(all, nil); got == nil || got.state != healthy {
		t.Errorf("every healthy one tried: want one again, got %v", got)
	}
	if got := p.pick(all, all); got != nil {
		t.Errorf("every healthy one refused: got %s, want none (the others are not healthy)", got.addr)
	}

	p, bs = poolOf(map[string]health{"new:1": unchecked, "sick:1": unhealthy})
	seen := map[string]bool{}
	for range 10 {
		seen[p.pick(nil, nil).addr] = true
	}
	if !seen["new:1"] || !seen["sick:1"] {
		t.Errorf("none healthy: want every resolved one tried, got %v", seen)
	}
	if got := p.pick(nil, []*backend{bs["new:1"], bs["sick:1"]}); got != nil {
		t.Errorf("all refused: got %s", got.addr)
	}
}

// TestResolveErrors: a name that does not exist empties the pool; any
// other lookup error keeps the last answer.
func TestResolveErrors(t *testing.T) {
	dns := newFakeDNS("127.0.0.2:1", "127.0.0.3:1")
	cfg := testConfig("1", 0)
	p := newPool(cfg, dns.resolve, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p.refresh(context.Background())()
	if n := len(p.view.Load().resolved); n != 2 {
		t.Fatalf("resolved %d", n)
	}
	dns.fail(errors.New("i/o timeout"))
	p.refresh(context.Background())()
	if n := len(p.view.Load().resolved); n != 2 {
		t.Errorf("after a lookup error: %d resolved, want the last 2", n)
	}
	dns.fail(&net.DNSError{Err: "no such host", Name: "starwars-api", IsNotFound: true})
	p.refresh(context.Background())()
	if n := len(p.view.Load().resolved); n != 0 {
		t.Errorf("after not found: %d resolved, want 0", n)
	}
}
