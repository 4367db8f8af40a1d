//go:build !unix

package redis

import (
	"errors"
	"syscall"
)

// canReadNow says readNow works here.
const canReadNow = false

// readNow is not available here: revocations are always asked of Redis.
func readNow(syscall.RawConn, []byte) (int, error) { return 0, errors.ErrUnsupported }
