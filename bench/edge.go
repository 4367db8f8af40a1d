package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Goals of the edge proxy against the same API without it, and against
// HAProxy in front of the same API.
const (
	goalEdgeDirect  = 0.70 // edge requests/s ≥ 0.70 × the API container's own
	goalEdgeHAProxy = 0.90 // edge requests/s ≥ 0.90 × HAProxy's
)

// routeStaysHere tells whether the host reaches addr over loopback or a
// local bridge: the harness's own check of the host's addresses, and
// `ip route get` naming a bridge (br-*, docker*) or lo.
func routeStaysHere(ctx context.Context, addr string) bool {
	if !onThisMachine(addr) {
		return false
	}
	out, err := exec.CommandContext(ctx, "ip", "route", "get", addr).Output()
	if err != nil {
		return false
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			dev := f[i+1]
			return dev == "lo" || strings.HasPrefix(dev, "br-") || strings.HasPrefix(dev, "docker")
		}
	}
	return false
}

// haproxyConfig forwards listen (on loopback) to backend with HTTP
// keep-alive on both sides, as the edge does.
func haproxyConfig(listen, backend string) string {
	return fmt.Sprintf(`# Written by swbench for one measurement; removed afterwards.
global
	maxconn 4096

defaults
	mode http
	option http-keep-alive
	timeout connect 5s
	timeout client 30s
	timeout server 30s

frontend swbench
	bind %s
	default_backend api

backend api
	http-reuse always
	server api %s
`, listen, backend)
}

// StartHAProxy runs haproxy in the foreground on a loopback port in front
// of backend (host:port) and waits until GET /healthz answers through it.
func (h *Harness) StartHAProxy(ctx context.Context, backend string) (string, *proc, error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := filepath.Join(h.tmp, "haproxy-"+randHex(3)+".cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(listen, backend)), 0o644); err != nil {
		return "", nil, err
	}
	p, err := h.start(ctx, "haproxy", nil, "haproxy", "-db", "-f", cfg)
	if err != nil {
		return "", nil, fmt.Errorf("haproxy: %w", err)
	}
	base := "http://" + listen
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := (API{Base: base}).Do(ctx, "GET", "/healthz", "", nil)
		if err == nil && r.Status == 200 {
			return base, p, nil
		}
		if time.Now().After(deadline) {
			p.Stop()
			log, _ := os.ReadFile(p.log)
			return "", nil, fmt.Errorf("haproxy in front of %s: no 200 on /healthz: %v %d\n%s", backend, err, r.Status, tail(string(log), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// edgeSection measures GET /healthz through the stack's edge, at the API
// container directly, and through HAProxy in front of the same container.
func (h *Harness) edgeSection(ctx context.Context, rep *Report, p *Project) error {
	h.logf("edge against direct and HAProxy")
	s := rep.Section("6. `GET /healthz` through the edge proxy, directly, and through HAProxy")
	cs, err := p.Containers(ctx)
	if err != nil {
		return err
	}
	netName := p.Name + "_service-network"
	edgeAddr, apiAddr := cs["edge"].Networks[netName], cs["api"].Networks[netName]
	for svc, addr := range map[string]string{"edge": edgeAddr, "api": apiAddr} {
		// Both are dialled from the host: only over a local bridge.
		if !routeStaysHere(ctx, addr) {
			return fmt.Errorf("the %s container's address %q on %s is not on a local bridge (`ip route get`): not dialled", svc, addr, netName)
		}
	}
	haURL, ha, err := h.StartHAProxy(ctx, apiAddr+":5003")
	if err != nil {
		return err
	}
	defer ha.Stop()

	const (
		edgeOwn   = "edge container at its own address on the service network"
		edgePort  = "edge through the published port (loopback → docker-proxy → edge)"
		direct    = "API container directly at its own address on the service network"
		haproxyTo = "HAProxy on the host (loopback) → API container's address"
	)
	type target struct{ name, url string }
	targets := []target{
		{edgeOwn, "http://" + edgeAddr + ":5003/healthz"},
		{edgePort, p.URL() + "/healthz"},
		{direct, "http://" + apiAddr + ":5003/healthz"},
		{haproxyTo, haURL + "/healthz"},
	}
	rps := map[string]Samples{}
	type lat struct{ p50, p99 Samples }
	lats := map[string]*lat{}
	errs := map[string]int64{}
	for run := 0; run < h.cfg.WrkRuns; run++ {
		for _, tg := range targets {
			w, err := h.Wrk(ctx, tg.url, "", h.cfg.WrkDuration)
			if err != nil {
				return err
			}
			rps[tg.name] = append(rps[tg.name], w.RPS())
			if lats[tg.name] == nil {
				lats[tg.name] = &lat{}
			}
			lats[tg.name].p50 = append(lats[tg.name].p50, w.P50US/1000)
			lats[tg.name].p99 = append(lats[tg.name].p99, w.P99US/1000)
			errs[tg.name] += w.Status + w.SocketErrors()
		}
	}
	s.Text = append(s.Text, fmt.Sprintf("wrk %s, %d connections, %d threads, `GET /healthz` (no token; the API answers it itself), %d run(s) per row, side by side (each run goes through every row in turn). "+
		"All four reach the same API container of the shared swdeploy deployment. HAProxy (`haproxy -db`, default threads, HTTP keep-alive to the backend) runs on the host with a configuration the harness writes, forwarding to the API container's address on the service network; "+
		"the host dials container addresses only after `ip route get` names a local bridge. "+
		"Goals: edge ≥ %.2f× direct, edge ≥ %.2f× HAProxy (median requests/s).",
		h.cfg.WrkDuration, h.cfg.Connections, h.cfg.Threads, h.cfg.WrkRuns, goalEdgeDirect, goalEdgeHAProxy))
	t := s.Table("path to the API", "requests/s min", "requests/s median", "requests/s max", "p50 median (ms)", "p99 median (ms)", "errors (non-2xx + socket)")
	for _, tg := range targets {
		r := rps[tg.name]
		t.Add(tg.name, fnum(r.Min(), 0), fnum(r.Median(), 0), fnum(r.Max(), 0), fnum(lats[tg.name].p50.Median(), 2), fnum(lats[tg.name].p99.Median(), 2), fmt.Sprint(errs[tg.name]))
	}
	t = s.Table("edge", "against", "ratio of medians", "goal", "met")
	for _, e := range []string{edgeOwn, edgePort} {
		for _, c := range []struct {
			name string
			goal float64
		}{{direct, goalEdgeDirect}, {haproxyTo, goalEdgeHAProxy}} {
			q := rps[e].Median() / rps[c.name].Median()
			t.Add(e, c.name, fnum(q, 2), fmt.Sprintf("≥ %.2f", c.goal), met(q >= c.goal && errs[e] == 0))
		}
	}
	return nil
}
