package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// tracker keeps revocation keys read from Redis in memory, and forgets
// them as soon as Redis says they changed: RESP3 client tracking in
// broadcast mode on the revocation prefix, on a connection of its own.
//
// Nothing reads that connection in the background. Every lookup first
// takes whatever Redis has sent on it (a read that does not wait), so an
// invalidation Redis sent before the answer to the revoking client, on
// any instance, is applied before this instance answers from memory.
// While the connection is down or quiet for too long, lookups miss and
// the caller asks Redis, and what was kept is dropped.
type tracker struct {
	opts   Options
	prefix string
	now    func() time.Time

	// reads counts the reads of conn begun; a lookup that finds one began
	// after it arrived needs no read of its own.
	reads atomic.Uint64

	mu    sync.Mutex
	conn  *net.TCPConn // nil while not tracking
	raw   *nowReader
	in    []byte // read from conn, not parsed yet
	rbuf  []byte // scratch for reads
	vals  map[string]kept
	seq   uint64    // moves on each invalidation, so that stores racing one are dropped
	alive time.Time // when Redis last answered a PING on conn
}

// kept is a key's value as last read; ok false when it did not exist.
type kept struct {
	val string
	ok  bool
}

const (
	// trackedKeys bounds the keys kept (about 100 bytes each).
	trackedKeys = 1 << 16
	// trackPing is how often the connection is checked and reconnected;
	// trackQuiet is how long without an answer before memory is not
	// trusted (a silently broken connection would carry no
	// invalidations).
	trackPing  = time.Second
	trackQuiet = 3 * trackPing
)

func newTracker(o Options, prefix string) *tracker {
	return &tracker{opts: o, prefix: prefix, now: time.Now, vals: make(map[string]kept)}
}

// run keeps the connection up and checked until ctx ends.
func (t *tracker) run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		t.mu.Lock()
		connected := t.conn != nil
		if connected {
			t.pingLocked()
		}
		t.mu.Unlock()
		if !connected {
			// A failure leaves lookups missing; the next tick tries again.
			_ = t.connect(ctx)
		}
		select {
		case <-ctx.Done():
			t.mu.Lock()
			t.dropLocked()
			t.mu.Unlock()
			return
		case <-tick.C:
		}
	}
}

// lookup answers keys from memory when every one is kept and the
// connection is sound. seq is to be handed to store after a miss.
func (t *tracker) lookup(keys []string, vals []any) (seq uint64, hit bool) {
	arrived := t.reads.Load()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.syncLocked(arrived) {
		return t.seq, false
	}
	for i, k := range keys {
		v, ok := t.vals[k]
		if !ok {
			return t.seq, false
		}
		vals[i] = nil
		if v.ok {
			vals[i] = v.val
		}
	}
	return t.seq, true
}

// store keeps values read from Redis (MGET's answer for keys), unless an
// invalidation came since lookup returned seq: the values may predate it.
func (t *tracker) store(seq uint64, keys []string, vals []any) {
	arrived := t.reads.Load()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.syncLocked(arrived) || t.seq != seq {
		return
	}
	if len(t.vals)+len(keys) > trackedKeys {
		for k := range t.vals {
			if len(t.vals) < trackedKeys*3/4 {
				break
			}
			delete(t.vals, k)
		}
	}
	for i, k := range keys {
		s, ok := vals[i].(string)
		t.vals[k] = kept{val: s, ok: ok}
	}
}

// syncLocked applies what Redis has sent and reports whether memory may
// be trusted. A read begun after the caller arrived (reads moved past
// arrived) took all that had come by then: under load, one read serves
// the lookups queued behind it.
func (t *tracker) syncLocked(arrived uint64) bool {
	if t.conn == nil {
		return false
	}
	if t.reads.Load() == arrived {
		if err := t.readLocked(); err != nil {
			t.dropLocked()
			return false
		}
	}
	// Part of a message read (an invalidation, maybe) is not applied yet.
	return len(t.in) == 0 && t.now().Sub(t.alive) < trackQuiet
}

// readLocked reads what is waiting on conn, without waiting, and applies
// every complete message.
func (t *tracker) readLocked() error {
	t.reads.Add(1)
	for {
		n, err := t.raw.readNow(t.rbuf)
		if err != nil {
			return err
		}
		t.in = append(t.in, t.rbuf[:n]...)
		if n < len(t.rbuf) {
			break
		}
	}
	for len(t.in) > 0 {
		v, n, err := parseRESP(t.in)
		if errors.Is(err, errIncomplete) {
			return nil
		}
		if err != nil {
			return err
		}
		t.in = t.in[n:]
		if err := t.applyLocked(v); err != nil {
			return err
		}
	}
	t.in = nil // let the buffer go between messages
	return nil
}

func (t *tracker) applyLocked(v resp) error {
	switch {
	case v.kind == '>' && len(v.elems) == 2 && v.elems[0].str == "invalidate":
		t.seq++
		if v.elems[1].kind == '_' {
			// FLUSHDB and the like: everything goes.
			clear(t.vals)
			return nil
		}
		for _, k := range v.elems[1].elems {
			delete(t.vals, k.str)
		}
	case v.kind == '-':
		return fmt.Errorf("redis: %s", v.str)
	case v.kind == '+' && v.str == "PONG":
		t.alive = t.now()
	}
	return nil
}

// pingLocked applies what came and asks Redis for a sign of life, which
// the next read applies.
func (t *tracker) pingLocked() {
	if err := t.readLocked(); err != nil {
		t.dropLocked()
		return
	}
	_ = t.conn.SetWriteDeadline(t.now().Add(trackPing))
	if _, err := t.conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		t.dropLocked()
	}
}

// dropLocked closes the connection and forgets everything: invalidations
// sent while it was down are lost.
func (t *tracker) dropLocked() {
	if t.conn != nil {
		t.conn.Close()
	}
	t.conn, t.raw, t.in = nil, nil, nil
	t.seq++
	clear(t.vals)
}

// connect opens the tracking connection: HELLO 3 (with the password),
// then CLIENT TRACKING ON BCAST for the prefix, each answered before the
// connection is used.
func (t *tracker) connect(ctx context.Context) error {
	if !canReadNow {
		return errors.ErrUnsupported
	}
	d := net.Dialer{Timeout: 3 * time.Second}
	c, err := d.DialContext(ctx, "tcp", t.opts.Addr)
	if err != nil {
		return err
	}
	conn := c.(*net.TCPConn)
	hello := []string{"HELLO", "3", "SETNAME", "starwars-revocations"}
	if t.opts.Password != "" {
		hello = append(hello, "AUTH", "default", t.opts.Password)
	}
	var in []byte
	for _, cmd := range [][]string{hello, {"CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", t.prefix}} {
		if in, err = roundTrip(conn, cmd, in); err != nil {
			conn.Close()
			return fmt.Errorf("track revocations: %s: %w", cmd[0], err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	raw, err := newNowReader(conn)
	if err != nil {
		conn.Close()
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropLocked()
	t.conn, t.raw, t.in, t.alive = conn, raw, in, t.now()
	if t.rbuf == nil {
		t.rbuf = make([]byte, 4096)
	}
	return nil
}

// roundTrip sends cmd and reads its answer, waiting at most 3s. in holds
// bytes read before; what follows the answer is returned.
func roundTrip(conn *net.TCPConn, cmd []string, in []byte) ([]byte, error) {
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := conn.Write(encodeCommand(cmd)); err != nil {
		return nil, err
	}
	var buf [4096]byte
	for {
		v, n, err := parseRESP(in)
		if err == nil {
			if v.kind == '-' {
				return nil, errors.New(v.str)
			}
			return in[n:], nil
		}
		if !errors.Is(err, errIncomplete) {
			return nil, err
		}
		m, err := conn.Read(buf[:])
		if err != nil {
			return nil, err
		}
		in = append(in, buf[:m]...)
	}
}

func encodeCommand(args []string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// resp is one RESP3 value: kind is its type byte; str holds simple,
// blob and error strings and numbers as text; elems the elements of
// arrays, sets, pushes and maps (keys and values in turn).
type resp struct {
	kind  byte
	str   string
	elems []resp
}

var errIncomplete = errors.New("incomplete RESP value")

// maxBlob bounds one string or collection length, against a corrupt
// stream asking for a huge allocation.
const maxBlob = 1 << 20

// parseRESP reads one value from b: the value, the bytes it took, or
// errIncomplete when b ends before it does.
func parseRESP(b []byte) (resp, int, error) {
	line, n, err := respLine(b)
	if err != nil {
		return resp{}, 0, err
	}
	kind, text := line[0], string(line[1:])
	switch kind {
	case '+', '-', ':', ',', '(', '#', '_':
		return resp{kind: kind, str: text}, n, nil
	case '$', '=', '!':
		size, err := strconv.Atoi(text)
		if err != nil || size > maxBlob {
			return resp{}, 0, fmt.Errorf("bad RESP length %q", text)
		}
		if size < 0 {
			return resp{kind: '_'}, n, nil
		}
		if len(b) < n+size+2 {
			return resp{}, 0, errIncomplete
		}
		if kind == '!' {
			kind = '-'
		}
		return resp{kind: kind, str: string(b[n : n+size])}, n + size + 2, nil
	case '*', '~', '>', '%', '|':
		count, err := strconv.Atoi(text)
		if err != nil || count > maxBlob {
			return resp{}, 0, fmt.Errorf("bad RESP length %q", text)
		}
		if count < 0 {
			return resp{kind: '_'}, n, nil
		}
		if kind == '%' || kind == '|' {
			count *= 2
		}
		v := resp{kind: kind, elems: make([]resp, 0, min(count, 64))}
		for range count {
			e, m, err := parseRESP(b[n:])
			if err != nil {
				return resp{}, 0, err
			}
			v.elems = append(v.elems, e)
			n += m
		}
		if kind == '|' {
			// Attributes annotate the value that follows: skip them.
			next, m, err := parseRESP(b[n:])
			if err != nil {
				return resp{}, 0, err
			}
			return next, n + m, nil
		}
		return v, n, nil
	}
	return resp{}, 0, fmt.Errorf("unknown RESP type %q", kind)
}

// respLine returns the first line of b without its CRLF, and the bytes
// up to the line's end.
func respLine(b []byte) ([]byte, int, error) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		if len(b) > maxBlob {
			return nil, 0, errors.New("RESP line too long")
		}
		return nil, 0, errIncomplete
	}
	if i == 0 {
		return nil, 0, errors.New("empty RESP line")
	}
	return b[:i], i + 2, nil
}
