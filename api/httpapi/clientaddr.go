package httpapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

const (
	// proxyRefresh is how long resolved proxy names are trusted before
	// they are looked up again: a replaced edge container gets a new
	// address.
	proxyRefresh = 10 * time.Second
	// proxyRetry is how soon a peer outside the trusted set may cause
	// another lookup: a new edge may have started since the last one.
	proxyRetry = time.Second
)

// TrustedProxies finds a request's client address: the peer's, unless
// the peer is a trusted proxy, whose X-Forwarded-For then names the
// client. Proxies are given as CIDRs, addresses or host names; names are
// resolved lazily and again every proxyRefresh.
type TrustedProxies struct {
	prefixes []netip.Prefix
	names    []string
	lookup   func(ctx context.Context, host string) ([]netip.Addr, error)
	now      func() time.Time

	mu         sync.Mutex
	resolved   map[netip.Addr]bool
	resolvedAt time.Time
}

// NewTrustedProxies parses specs (CIDRs, addresses, host names). lookup
// resolves names; nil means the system resolver.
func NewTrustedProxies(specs []string, lookup func(ctx context.Context, host string) ([]netip.Addr, error)) (*TrustedProxies, error) {
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	t := &TrustedProxies{lookup: lookup, now: time.Now}
	for _, s := range specs {
		if p, err := netip.ParsePrefix(s); err == nil {
			t.prefixes = append(t.prefixes, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
		} else if s != "" && !strings.ContainsAny(s, "/: ") {
			t.names = append(t.names, s)
		} else {
			return nil, fmt.Errorf("trusted proxy %q: not a CIDR, address or host name", s)
		}
	}
	return t, nil
}

// ClientAddr returns r's client address as a budget key: an IPv4 address,
// or the /64 an IPv6 address is in (one host commonly holds a whole /64).
func (t *TrustedProxies) ClientAddr(r *http.Request) string {
	return budgetKey(t.client(r))
}

func (t *TrustedProxies) client(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap().WithZone("")
	if !t.trusted(r.Context(), addr, true) {
		return addr
	}
	// Walk the hops from the right, past trusted proxies, to the first
	// address no trusted proxy vouches for.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" && len(hops) == 1 {
			break // no header
		}
		hop, err := netip.ParseAddr(h)
		if err != nil {
			break // not written by a proxy we trust: stop at the last one that was
		}
		addr = hop.Unmap().WithZone("")
		if !t.trusted(r.Context(), addr, false) {
			break
		}
	}
	return addr
}

// trusted reports whether a is a trusted proxy. For the peer (retry set),
// an address outside the set may cause a fresh lookup of the names.
func (t *TrustedProxies) trusted(ctx context.Context, a netip.Addr, retry bool) bool {
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	if len(t.names) == 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	age := t.now().Sub(t.resolvedAt)
	if t.resolvedAt.IsZero() || age >= proxyRefresh || (retry && !t.resolved[a] && age >= proxyRetry) {
		t.resolve(ctx)
	}
	return t.resolved[a]
}

// resolve looks the names up again. A name that fails keeps no address:
// a proxy that left DNS is no longer trusted.
func (t *TrustedProxies) resolve(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	set := map[netip.Addr]bool{}
	for _, n := range t.names {
		addrs, _ := t.lookup(ctx, n)
		for _, a := range addrs {
			set[a.Unmap()] = true
		}
	}
	t.resolved, t.resolvedAt = set, t.now()
}

func budgetKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
