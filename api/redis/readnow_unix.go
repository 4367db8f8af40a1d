//go:build unix

package redis

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// canReadNow says readNow works here.
const canReadNow = true

// nowReader reads a socket without waiting. Not safe for concurrent use.
type nowReader struct {
	raw  syscall.RawConn
	read func(fd uintptr) bool // made once: a closure per read would allocate
	buf  []byte
	n    int
	err  error
}

func newNowReader(c *net.TCPConn) (*nowReader, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &nowReader{raw: raw}
	r.read = func(fd uintptr) bool {
		for {
			r.n, r.err = syscall.Read(int(fd), r.buf)
			if r.err != syscall.EINTR {
				return true // never wait for more
			}
		}
	}
	return r, nil
}

// readNow reads what the socket holds: 0 bytes when it holds nothing,
// io.EOF when the peer closed it.
func (r *nowReader) readNow(buf []byte) (int, error) {
	r.buf = buf
	err := r.raw.Read(r.read)
	r.buf = nil
	switch {
	case err != nil:
		return 0, err
	case errors.Is(r.err, syscall.EAGAIN):
		return 0, nil
	case r.err != nil:
		return 0, r.err
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}
