package bench

import (
	"net"
	"sync/atomic"
)

// CountingListener accepts TCP connections on every address of the host
// and counts them. Isolation checks listen with it and then see whether
// anything on an internal network reached the host.
type CountingListener struct {
	net.Listener
	accepted atomic.Int32
}

// ListenCounting starts a CountingListener on a free port; Close stops it.
func ListenCounting() (*CountingListener, error) {
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		return nil, err
	}
	cl := &CountingListener{Listener: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			cl.accepted.Add(1)
			c.Close()
		}
	}()
	return cl, nil
}

// Port is the port it listens on.
func (l *CountingListener) Port() int { return l.Addr().(*net.TCPAddr).Port }

// Accepted is how many connections it has accepted so far.
func (l *CountingListener) Accepted() int32 { return l.accepted.Load() }
