package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// conns is a lean HTTP/1.1 client to one backend, for requests whose body
// is in memory (most are bodiless): it writes the request and reads the
// answer on the handler's own goroutine. http.Transport hands every
// request to two goroutines per connection and back, which cost the edge
// more than the forwarding itself. Requests that stream a body or upgrade
// the connection still go through http.Transport.
type conns struct {
	addr        string
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	respTimeout time.Duration // bound of the wait for the response headers

	mu   sync.Mutex
	idle []*bconn // most recently used last
	gen  uint64   // bumped by closeIdle: a connection from before is not kept
}

// maxIdle and idleTimeout are as in newTransport: the edge closes an idle
// connection before the API (120s) would.
const (
	maxIdle     = 256
	idleTimeout = 60 * time.Second
)

// bconn is one kept-alive connection to the backend.
type bconn struct {
	net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	gen    uint64
	idleAt time.Time
}

// attemptInfo is how far one try got.
type attemptInfo struct {
	connected bool // a connection was obtained: the request may have been sent
	reused    bool // ...and it was a kept-alive one
	answered  bool // a response byte arrived
}

// aLongTimeAgo, as a deadline, makes pending reads and writes fail at once.
var aLongTimeAgo = time.Unix(1, 0)

func newConns(cfg config, addr string) *conns {
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	return &conns{addr: addr, dial: dialer.DialContext, respTimeout: cfg.ResponseTimeout}
}

// get takes the most recently used idle connection, dropping any idle
// too long; nil when none is left. gen is for a connection dialled now:
// taken before dialling, so that closeIdle meanwhile drops it too.
func (c *conns) get(now time.Time) (pc *bconn, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := len(c.idle); n > 0; n = len(c.idle) {
		pc = c.idle[n-1]
		c.idle[n-1] = nil
		c.idle = c.idle[:n-1]
		if now.Sub(pc.idleAt) < idleTimeout {
			return pc, c.gen
		}
		pc.Close()
	}
	return nil, c.gen
}

// put keeps pc for the next request, unless the pool is full or was
// emptied since pc was opened.
func (c *conns) put(pc *bconn) {
	pc.idleAt = time.Now()
	c.mu.Lock()
	if pc.gen == c.gen && len(c.idle) < maxIdle {
		c.idle = append(c.idle, pc)
		pc = nil
	}
	c.mu.Unlock()
	if pc != nil {
		pc.Close()
	}
}

// closeIdle closes every idle connection, and those in use once their
// request is done.
func (c *conns) closeIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.gen++
	c.mu.Unlock()
	for _, pc := range idle {
		pc.Close()
	}
}

// reap closes the connections idle longer than idleTimeout.
func (c *conns) reap(now time.Time) {
	c.mu.Lock()
	var old []*bconn
	c.idle = slices.DeleteFunc(c.idle, func(pc *bconn) bool {
		if now.Sub(pc.idleAt) >= idleTimeout {
			old = append(old, pc)
			return true
		}
		return false
	})
	c.mu.Unlock()
	for _, pc := range old {
		pc.Close()
	}
}

// roundTrip sends req, whose body (if any) can be read at once, and reads
// the response headers. The response body hands the connection back when
// read to its end and closed; done runs then, or when no response comes.
func (c *conns) roundTrip(req *http.Request, done func()) (*http.Response, attemptInfo, error) {
	var a attemptInfo
	ctx := req.Context()
	pc, gen := c.get(time.Now())
	if pc == nil {
		nc, err := c.dial(ctx, "tcp", c.addr)
		if err != nil {
			done()
			return nil, a, err
		}
		pc = &bconn{Conn: nc, br: bufio.NewReaderSize(nc, 4<<10), bw: bufio.NewWriterSize(nc, 4<<10), gen: gen}
	} else {
		a.reused = true
	}
	a.connected = true
	// The client going away ends the wait at once.
	stop := context.AfterFunc(ctx, func() { _ = pc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, attemptInfo, error) {
		stop()
		pc.Close()
		done()
		return nil, a, err
	}
	if err := req.Write(pc.bw); err != nil {
		return fail(err)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err)
	}
	if c.respTimeout > 0 {
		_ = pc.SetReadDeadline(time.Now().Add(c.respTimeout))
	}
	var resp *http.Response
	for {
		if _, err := pc.br.Peek(1); err != nil {
			return fail(err)
		}
		a.answered = true
		var err error
		if resp, err = http.ReadResponse(pc.br, req); err != nil {
			return fail(err)
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return fail(errors.New("backend switched protocols unasked"))
		}
		if resp.StatusCode >= 200 {
			break
		}
		// 1xx (100 Continue, 103 Early Hints): headers only, then the
		// real answer.
	}
	if c.respTimeout > 0 {
		_ = pc.SetReadDeadline(time.Time{})
	}
	bounded := resp.Body == http.NoBody || resp.ContentLength >= 0 || slices.Contains(resp.TransferEncoding, "chunked")
	resp.Body = &leanBody{body: resp.Body, c: c, pc: pc, stop: stop, done: done,
		keep: bounded && !resp.Close && !req.Close}
	return resp, a, nil
}

// leanBody is a response body read from a bconn: closed after its end, it
// hands the connection back to the pool; closed early, it drops it.
type leanBody struct {
	body io.ReadCloser
	c    *conns
	pc   *bconn
	stop func() bool
	done func()
	keep bool // the connection may carry another request
	eof  bool
}

func (b *leanBody) Read(p []byte) (int, error) {
	if b.pc == nil {
		return 0, errors.New("read on closed response body")
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *leanBody) Close() error {
	if b.pc == nil {
		return nil
	}
	// stop reports false when the client's going away has already
	// spoilt the connection's deadline. A body not read to its end is
	// dropped with its connection: closing it first keeps Close from
	// reading the rest.
	keep := b.stop() && b.keep && b.eof
	if !keep {
		b.pc.Close()
	}
	err := b.body.Close()
	if keep {
		b.c.put(b.pc)
	}
	b.pc = nil
	b.done()
	return err
}
