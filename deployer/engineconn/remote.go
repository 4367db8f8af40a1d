package engineconn

import (
	"net"
	"net/url"
	"strings"
)

// IsRemoteHost reports whether an engine address may lead to another
// machine, whose file system is not this one's. Sockets and tcp:// on a
// loopback address are local; ssh:// is always remote, even to
// 127.0.0.1, which is how virtual machines (Lima, Vagrant) are reached.
func IsRemoteHost(host string) bool {
	scheme, _, _ := strings.Cut(host, "://")
	switch scheme {
	case "unix", "npipe", "fd", "":
		return false
	case "tcp":
		u, err := url.Parse(host)
		if err != nil {
			return true
		}
		h := u.Hostname()
		if h == "localhost" {
			return false
		}
		ip := net.ParseIP(h)
		return ip == nil || !ip.IsLoopback()
	}
	return true
}
