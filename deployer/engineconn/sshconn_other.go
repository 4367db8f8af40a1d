//go:build !unix

package engineconn

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) { _ = p.Kill() }

// controlDir returns "": Windows' OpenSSH cannot multiplex.
func controlDir() string { return "" }
