//go:build unix && !linux

package engineconn

import "syscall"

// sysProcAttr puts ssh in a session of its own, so that it has no terminal
// to prompt on and a Ctrl-C reaches swdeploy alone.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
