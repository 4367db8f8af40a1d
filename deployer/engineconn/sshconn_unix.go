//go:build unix

package engineconn

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

func terminate(p *os.Process) { _ = p.Signal(syscall.SIGTERM) }

// controlDir is where ssh keeps its multiplexing sockets: a directory only
// this user can enter, with a path short enough for a socket name (about
// 100 bytes with ssh's 40-character %C). "" turns multiplexing off.
func controlDir() string {
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	dir := filepath.Join(base, fmt.Sprintf("swdeploy-ssh-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return ""
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
		return ""
	}
	return dir
}
