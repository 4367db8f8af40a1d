package engineconn

import "testing"

func TestIsRemoteHost(t *testing.T) {
	for host, want := range map[string]bool{
		"unix:///var/run/docker.sock": false,
		"npipe:////./pipe/docker":     false,
		"tcp://127.0.0.1:2376":        false,
		"tcp://localhost:2375":        false,
		"tcp://[::1]:2375":            false,
		"tcp://10.0.0.5:2376":         true,
		"tcp://engine.example:2376":   true,
		"ssh://deploy@engine.example": true,
		"ssh://root@127.0.0.1:2222":   true, // a VM behind a forwarded port
	} {
		if got := IsRemoteHost(host); got != want {
			t.Errorf("IsRemoteHost(%s) = %v, want %v", host, got, want)
		}
	}
}
