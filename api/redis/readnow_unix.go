//go:build unix

package redis

import (
	"errors"
	"io"
	"syscall"
)

// canReadNow says readNow works here.
const canReadNow = true

// readNow reads what the socket holds without waiting: 0 bytes when it
// holds nothing, io.EOF when the peer closed it.
func readNow(raw syscall.RawConn, buf []byte) (int, error) {
	var n int
	var rerr error
	err := raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), buf)
			if rerr != syscall.EINTR {
				return true // never wait for more
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errors.Is(rerr, syscall.EAGAIN):
		return 0, nil
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}
