package httpapi

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// switchDNS answers lookups of one name from a list the test changes.
type switchDNS struct {
	mu    sync.Mutex
	addrs []netip.Addr
	calls int
}

func (d *switchDNS) set(addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addrs = nil
	for _, a := range addrs {
		d.addrs = append(d.addrs, netip.MustParseAddr(a))
	}
}

func (d *switchDNS) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if host != "starwars-edge" {
		return nil, &netipError{host}
	}
	return append([]netip.Addr(nil), d.addrs...), nil
}

type netipError struct{ host string }

func (e *netipError) Error() string { return "no such host " + e.host }

func clientOf(t *testing.T, tp *TrustedProxies, peer string, xff ...string) string {
	t.Helper()
	r := httptest.NewRequest("POST", "/users/v1/login", nil)
	r.RemoteAddr = peer
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return tp.ClientAddr(r)
}

// TestClientAddr: X-Forwarded-For counts only from a trusted peer, and
// then its last entry a trusted proxy did not write; IPv6 clients count
// by /64.
func TestClientAddr(t *testing.T) {
	tp, err := NewTrustedProxies([]string{"10.1.0.0/24", "fd00::5"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.9:4000", nil, "203.0.113.9"},
		{"203.0.113.9:4000", []string{"198.51.100.1"}, "203.0.113.9"}, // untrusted peer: header ignored
		{"10.1.0.7:4000", nil, "10.1.0.7"},                            // the proxy itself
		{"10.1.0.7:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"10.1.0.7:4000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},   // a client's own entry comes first
		{"10.1.0.7:4000", []string{"6.6.6.6", "198.51.100.1"}, "198.51.100.1"}, // two header lines
		{"10.1.0.7:4000", []string{"198.51.100.1, 10.1.0.8"}, "198.51.100.1"},  // two proxies
		{"10.1.0.7:4000", []string{"not-an-ip"}, "10.1.0.7"},
		{"10.1.0.7:4000", []string{"198.51.100.1, junk"}, "10.1.0.7"},
		{"[::ffff:10.1.0.7]:4000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"[fd00::5]:4000", []string{"2001:db8:1:2:aaaa::1"}, "2001:db8:1:2::/64"},
		{"[2001:db8:1:2::9]:4000", nil, "2001:db8:1:2::/64"},
		{"garbage", nil, "unknown"},
	} {
		if got := clientOf(t, tp, c.peer, c.xff...); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %q, want %q", c.peer, c.xff, got, c.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "edge proxy", "http://edge"} {
		if _, err := NewTrustedProxies([]string{bad}, nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestTrustedProxyNamesFollowDNS: a proxy given by name is trusted at the
// addresses the name has now: a new edge container is trusted as soon as
// it sends (after at most proxyRetry since the last lookup), and a
// replaced one stops being trusted within proxyRefresh.
func TestTrustedProxyNamesFollowDNS(t *testing.T) {
	dns := &switchDNS{}
	dns.set("10.1.0.5")
	tp, err := NewTrustedProxies([]string{"starwars-edge"}, dns.lookup)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tp.now = func() time.Time { return now }

	if got := clientOf(t, tp, "10.1.0.5:1", "198.51.100.1"); got != "198.51.100.1" {
		t.Fatalf("from the edge: %q", got)
	}
	if got := clientOf(t, tp, "10.1.0.9:1", "198.51.100.1"); got != "10.1.0.9" {
		t.Fatalf("from another peer: %q", got)
	}
	// A new edge at another address; the old one leaves.
	dns.set("10.1.0.6")
	before := dns.calls
	if got := clientOf(t, tp, "10.1.0.6:1", "198.51.100.1"); got != "10.1.0.6" || dns.calls != before {
		t.Fatalf("new edge within proxyRetry of a lookup: %q, %d lookups", got, dns.calls-before)
	}
	now = now.Add(proxyRetry)
	if got := clientOf(t, tp, "10.1.0.6:1", "198.51.100.1"); got != "198.51.100.1" {
		t.Fatalf("new edge after proxyRetry: %q", got)
	}
	// Known peers cause no lookups until proxyRefresh.
	before = dns.calls
	for range 5 {
		clientOf(t, tp, "10.1.0.6:1", "198.51.100.1")
	}
	if dns.calls != before {
		t.Errorf("%d lookups for a known proxy", dns.calls-before)
	}
	if got := clientOf(t, tp, "10.1.0.5:1", "198.51.100.1"); got != "10.1.0.5" {
		t.Errorf("the old edge's address is still trusted: %q", got)
	}
	dns.set()
	now = now.Add(proxyRefresh)
	if got := clientOf(t, tp, "10.1.0.6:1", "198.51.100.1"); got != "10.1.0.6" {
		t.Errorf("an edge gone from DNS is still trusted after proxyRefresh: %q", got)
	}
}
