package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// resolver returns the addresses a host name stands for, like
// net.Resolver.LookupHost. Tests swap the "DNS answer" through it.
type resolver func(ctx context.Context, host string) ([]string, error)

// lookupTimeout bounds one resolution; on error the last answer stays.
const lookupTimeout = 2 * time.Second

// health is what the edge knows of one backend.
type health int

const (
	unchecked health = iota // seen in DNS, no check finished yet: no traffic
	healthy
	unhealthy
)

func (h health) String() string {
	return [...]string{"unchecked", "healthy", "unhealthy"}[h]
}

// backend is one API container, ip:port, with its own connection pool:
// when the backend leaves rotation its idle connections are closed at
// once, so that a draining API is not kept waiting on them and no request
// races the API closing them.
type backend struct {
	addr      string
	conns     *conns          // for requests whose body is in memory
	transport *http.Transport // for streamed bodies and upgrades
	inflight  atomic.Int64    // requests sent and not yet answered in full
	checking  atomic.Bool     // a health check is running
	state     health          // guarded by pool.mu
}

func newBackend(cfg config, addr string) *backend {
	return &backend{addr: addr, conns: newConns(cfg, addr), transport: newTransport(cfg)}
}

// closeIdle closes the backend's idle connections.
func (b *backend) closeIdle() {
	b.conns.closeIdle()
	b.transport.CloseIdleConnections()
}

// newTransport is the connection pool to one backend.
func newTransport(cfg config) *http.Transport {
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // never an HTTP_PROXY from the environment
		DialContext:           dialer.DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       60 * time.Second, // below the API's 120s: the edge closes first
		ResponseHeaderTimeout: cfg.ResponseTimeout,
		DisableCompression:    true, // bodies pass through as they are
	}
}

// view is an immutable snapshot of the pool for picking, replaced on
// every change so that picking takes no lock.
type view struct {
	healthy  []*backend // in address order
	resolved []*backend // every backend in the last DNS answer
}

// pool tracks the API containers behind the backend name: which exist (by
// DNS) and which may get new requests (by their health checks).
type pool struct {
	cfg        config
	host, port string // of cfg.Backend
	resolve    resolver
	checker    *http.Client
	logger     *slog.Logger

	checks sync.WaitGroup // running health checks

	mu       sync.Mutex
	backends map[string]*backend // the last DNS answer, by address
	lookErr  string              // the last lookup error, logged once

	view atomic.Pointer[view]
	next atomic.Uint64 // round-robin start
}

func newPool(cfg config, resolve resolver, logger *slog.Logger) *pool {
	host, port, _ := net.SplitHostPort(cfg.Backend)
	dialer := &net.Dialer{Timeout: cfg.HealthTimeout}
	p := &pool{
		cfg:     cfg,
		host:    host,
		port:    port,
		resolve: resolve,
		checker: &http.Client{
			Timeout: cfg.HealthTimeout,
			Transport: &http.Transport{
				DialContext:         dialer.DialContext,
				MaxIdleConnsPerHost: 1,
				IdleConnTimeout:     10 * cfg.Refresh,
				DisableCompression:  true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		logger:   logger,
		backends: map[string]*backend{},
	}
	p.view.Store(&view{})
	return p
}

// run refreshes the pool every interval until ctx ends, then waits for
// the health checks still running.
func (p *pool) run(ctx context.Context, every time.Duration) {
	defer p.checks.Wait()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.refresh(ctx)
		}
	}
}

// refresh resolves the backend host, updates the set of backends, and
// starts a health check of every backend not already being checked. A
// slow backend therefore never delays the checks of the others. The
// returned func waits for the checks this call started.
func (p *pool) refresh(ctx context.Context) (wait func()) {
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	addrs, err := p.resolve(lctx, p.host)
	cancel()
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		addrs, err = nil, nil // no API container carries the name now
	}

	p.mu.Lock()
	if err != nil {
		if ctx.Err() == nil && err.Error() != p.lookErr {
			p.logger.Warn("resolve backend: keeping the last answer", "backend", p.host, "err", err)
		}
		p.lookErr = err.Error()
	} else {
		if p.lookErr != "" {
			p.logger.Info("resolve backend: answering again", "backend", p.host)
		}
		p.lookErr = ""
		p.setResolved(addrs)
	}
	var todo []*backend
	now := time.Now()
	for _, b := range p.backends {
		b.conns.reap(now)
		if b.checking.CompareAndSwap(false, true) {
			todo = append(todo, b)
		}
	}
	p.mu.Unlock()

	var round sync.WaitGroup
	for _, b := range todo {
		p.checks.Add(1)
		round.Go(func() {
			defer p.checks.Done()
			defer b.checking.Store(false)
			p.mark(b, p.check(ctx, b))
		})
	}
	return round.Wait
}

// setResolved makes addrs the backend set. A new address starts
// unchecked (no traffic); a vanished one leaves the pool, while its
// in-flight requests go on. p.mu must be held.
func (p *pool) setResolved(addrs []string) {
	seen := make(map[string]bool, len(addrs))
	changed := false
	for _, a := range addrs {
		addr := net.JoinHostPort(a, p.port)
		seen[addr] = true
		if _, ok := p.backends[addr]; !ok {
			p.backends[addr] = newBackend(p.cfg, addr)
			p.logger.Info("backend found", "backend", addr)
			changed = true
		}
	}
	for addr, b := range p.backends {
		if !seen[addr] {
			delete(p.backends, addr)
			b.closeIdle()
			p.logger.Info("backend gone", "backend", addr, "was", b.state.String())
			changed = true
		}
	}
	if changed {
		p.publish()
	}
}

// check asks one backend's health path; nil means healthy.
func (p *pool) check(ctx context.Context, b *backend) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.addr+p.cfg.HealthPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "swdeploy-edge")
	resp, err := p.checker.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // keep the connection
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", p.cfg.HealthPath, resp.Status)
	}
	// A backend about to stop still answers 200 (it is alive and serving
	// what it has) but says so in a header: it gets no new requests.
	if resp.Header.Get(drainingHeader) != "" {
		return fmt.Errorf("%s: draining", p.cfg.HealthPath)
	}
	return nil
}

// drainingHeader is set on health answers by a backend that is shutting
// down: the API sets it during STARWARS_SHUTDOWN_DRAIN.
const drainingHeader = "X-Draining"

// mark records a check's outcome; a transition gets one log line.
func (p *pool) mark(b *backend, err error) {
	if err != nil && errors.Is(err, context.Canceled) {
		return // the edge is stopping
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.backends[b.addr] != b {
		return // left the pool while being checked
	}
	switch {
	case err == nil && b.state != healthy:
		b.state = healthy
		p.logger.Info("backend healthy", "backend", b.addr)
		p.publish()
	case err != nil && b.state != unhealthy:
		b.state = unhealthy
		p.logger.Info("backend unhealthy", "backend", b.addr, "reason", err.Error())
		p.publish()
		b.closeIdle()
	}
}

// markDown takes a backend out of rotation after it refused a
// connection, until its next health check passes.
func (p *pool) markDown(b *backend, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.backends[b.addr] == b && b.state == healthy {
		b.state = unhealthy
		p.logger.Info("backend unhealthy", "backend", b.addr, "reason", err.Error())
		p.publish()
		b.closeIdle()
	}
}

// publish replaces the view. p.mu must be held.
func (p *pool) publish() {
	v := &view{}
	for _, b := range p.backends {
		v.resolved = append(v.resolved, b)
		if b.state == healthy {
			v.healthy = append(v.healthy, b)
		}
	}
	byAddr := func(a, b *backend) int {
		switch {
		case a.addr < b.addr:
			return -1
		case a.addr > b.addr:
			return 1
		}
		return 0
	}
	slices.SortFunc(v.resolved, byAddr)
	slices.SortFunc(v.healthy, byAddr)
	p.view.Store(v)
}

// pick chooses the backend for the next attempt: a healthy one with the
// fewest requests in flight, ties going round-robin. With no healthy
// backend it picks among every resolved one, since the API may be up while
// its checks lag. It never picks a backend in refused, and picks one in
// tried only when no other is left (a retry after a dropped keep-alive
// connection may well succeed on a new connection to the same backend).
// Nil means no backend is left.
func (p *pool) pick(tried, refused []*backend) *backend {
	v := p.view.Load()
	cands := v.healthy
	if len(cands) == 0 {
		cands = v.resolved
	}
	n := uint64(len(cands))
	if n == 0 {
		return nil
	}
	start := p.next.Add(1)
	var best, again *backend
	for i := range n {
		b := cands[(start+i)%n]
		switch {
		case slices.Contains(refused, b):
		case slices.Contains(tried, b):
			if again == nil {
				again = b
			}
		case best == nil || b.inflight.Load() < best.inflight.Load():
			best = b
		}
	}
	if best == nil {
		return again
	}
	return best
}

// healthyCount is how many backends may get new requests.
func (p *pool) healthyCount() int { return len(p.view.Load().healthy) }

// close drops every idle connection.
func (p *pool) close() {
	p.checker.CloseIdleConnections()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.backends {
		b.closeIdle()
	}
}
