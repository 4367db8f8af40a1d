//go:build !unix

package redis

import (
	"errors"
	"net"
)

// canReadNow says readNow works here: not here, so revocations are
// always asked of Redis.
const canReadNow = false

type nowReader struct{}

func newNowReader(*net.TCPConn) (*nowReader, error) { return nil, errors.ErrUnsupported }

func (*nowReader) readNow([]byte) (int, error) { return 0, errors.ErrUnsupported }
