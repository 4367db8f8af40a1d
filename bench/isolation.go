package bench

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/network"
)

// tcpScript tries every host:port target at once with bash's /dev/tcp
// (3 s each) and prints "OK target" or "NO target" for each.
func tcpScript(targets []string) string {
	var parts []string
	for _, t := range targets {
		host, port, _ := net.SplitHostPort(t)
		parts = append(parts, fmt.Sprintf("(if timeout 3 bash -c 'echo > /dev/tcp/%s/%s' 2>/dev/null; then echo 'OK %s'; else echo 'NO %s'; fi) &", host, port, t, t))
	}
	return strings.Join(parts, " ") + " wait"
}

func parseTCP(out []byte) map[string]bool {
	res := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			res[f[1]] = f[0] == "OK"
		}
	}
	return res
}

// tcpFrom tries the targets from inside a running container and returns
// which connected.
func tcpFrom(ctx context.Context, containerID string, targets []string) map[string]bool {
	out, _ := exec.CommandContext(ctx, "docker", "exec", containerID, "bash", "-c", tcpScript(targets)).CombinedOutput()
	return parseTCP(out)
}

// tcpFromNetwork runs a throwaway container (labelled with the project) on
// network and tries each target from it; it returns which connected.
func (h *Harness) tcpFromNetwork(ctx context.Context, p *Project, netName string, targets []string) (map[string]bool, error) {
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--network", netName,
		"--label", "com.docker.compose.project="+p.Name, "--label", labelBench+"=1",
		"--entrypoint", "bash", "swdeploy-offline/mysql:8.4", "-c", tcpScript(targets)).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("probe container on %s: %v\n%s", netName, err, out)
	}
	return parseTCP(out), nil
}

// isolation checks that nothing outside the internal network reaches MySQL
// or Redis and that nothing on it reaches out.
func (h *Harness) isolation(ctx context.Context, p *Project) (*Table, error) {
	t := &Table{Head: []string{"from", "to", "expected", "got", "as expected"}}
	add := func(from, to string, want, got bool) {
		w := map[bool]string{true: "connects", false: "no connection"}
		t.Add(from, to, w[want], w[got], yesNo(want == got))
	}
	cs, err := p.Containers(ctx)
	if err != nil {
		return nil, err
	}
	internal := p.Name + "_internal-network"
	public := p.Name + "_service-network"
	inet, err := h.engine.NetworkInspect(ctx, internal, network.InspectOptions{})
	if err != nil {
		return nil, err
	}
	t.Add("engine", internal, "internal: true", fmt.Sprintf("internal: %v", inet.Internal), yesNo(inet.Internal))
	db := map[string]int{"mysql": 3306, "redis": 6379}
	for _, svc := range []string{"mysql", "redis"} {
		c, ok := cs[svc]
		if !ok {
			return nil, fmt.Errorf("no %s container", svc)
		}
		insp, err := h.engine.ContainerInspect(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		var published []string
		for port, b := range insp.NetworkSettings.Ports {
			if len(b) > 0 {
				published = append(published, string(port))
			}
		}
		var nets []string
		for n := range c.Networks {
			nets = append(nets, n)
		}
		sort.Strings(nets)
		okNets := len(nets) == 1 && nets[0] == internal
		t.Add("engine", svc+": networks and published ports", "only "+internal+", none published",
			strings.Join(nets, ", ")+"; published: "+fmt.Sprint(len(published)), yesNo(okNets && len(published) == 0))
	}

	// Outside -> in.
	for _, svc := range []string{"mysql", "redis"} {
		addr := cs[svc].Networks[internal]
		target := net.JoinHostPort(addr, fmt.Sprint(db[svc]))
		conn, err := net.DialTimeout("tcp", target, 3*time.Second)
		if err == nil {
			conn.Close()
		}
		add("host", svc+" "+target, false, err == nil)
	}
	var fromPublic []string
	for _, svc := range []string{"mysql", "redis"} {
		fromPublic = append(fromPublic, net.JoinHostPort(cs[svc].Networks[internal], fmt.Sprint(db[svc])),
			net.JoinHostPort("starwars-"+svc, fmt.Sprint(db[svc])))
	}
	apiAddr := net.JoinHostPort(cs["api"].Networks[public], "5003")
	got, err := h.tcpFromNetwork(ctx, p, public, append(fromPublic, apiAddr))
	if err != nil {
		return nil, err
	}
	for _, target := range fromPublic {
		add("a container on "+public, target, false, got[target])
	}
	add("a container on "+public+" (control)", "api "+apiAddr, true, got[apiAddr])
	ctl := net.JoinHostPort(cs["mysql"].Networks[internal], "3306")
	add("redis (control: inside the internal network)", "mysql "+ctl, true, tcpFrom(ctx, cs["redis"].ID, []string{ctl})[ctl])
	r, err := p.API().Do(ctx, "GET", "/readyz", "", nil)
	add("api (control: on both networks, /readyz)", "mysql and redis", true, err == nil && r.Status == 200)

	// Inside -> out: a listener on every host bridge address.
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	nets, err := h.engine.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, err
	}
	var gateways []string
	seen := map[string]bool{}
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if c.Gateway != "" && !strings.Contains(c.Gateway, ":") && !seen[c.Gateway] {
				seen[c.Gateway] = true
				gateways = append(gateways, c.Gateway)
			}
		}
	}
	sort.Strings(gateways)
	pnet, err := h.engine.NetworkInspect(ctx, public, network.InspectOptions{})
	if err != nil {
		return nil, err
	}
	pubGW := ""
	if len(pnet.IPAM.Config) > 0 {
		pubGW = pnet.IPAM.Config[0].Gateway
	}
	before := accepted.Load()
	ctlTarget := net.JoinHostPort(pubGW, fmt.Sprint(port))
	got, err = h.tcpFromNetwork(ctx, p, public, []string{ctlTarget})
	if err != nil {
		return nil, err
	}
	add("a container on "+public+" (control)", "host listener "+ctlTarget, true, got[ctlTarget] && accepted.Load() > before)
	before = accepted.Load()
	var outTargets []string
	for svc, c := range cs {
		if a := c.Networks[public]; a != "" && svc != "mysql" && svc != "redis" {
			for _, port := range exposedPorts(ctx, h, c.ID) {
				outTargets = append(outTargets, svc+" "+net.JoinHostPort(a, port))
			}
		}
	}
	sort.Strings(outTargets)
	for _, svc := range []string{"mysql", "redis"} {
		var targets []string
		for _, gw := range gateways {
			targets = append(targets, net.JoinHostPort(gw, fmt.Sprint(port)))
		}
		for _, tg := range outTargets {
			targets = append(targets, strings.Fields(tg)[1])
		}
		got := tcpFrom(ctx, cs[svc].ID, targets)
		if len(got) != len(targets) {
			return nil, fmt.Errorf("probe from %s answered for %d of %d targets", svc, len(got), len(targets))
		}
		reached := 0
		for _, gw := range gateways {
			if got[net.JoinHostPort(gw, fmt.Sprint(port))] {
				reached++
			}
		}
		add(svc, fmt.Sprintf("host listener on each of %d bridge addresses (%s), port %d", len(gateways), strings.Join(gateways, ", "), port), false, reached > 0)
		for _, tg := range outTargets {
			add(svc, "public network: "+tg, false, got[strings.Fields(tg)[1]])
		}
	}
	leaked := accepted.Load() - before
	t.Add("mysql, redis", "connections the host listener accepted from them", "0", fmt.Sprint(leaked), yesNo(leaked == 0))
	return t, nil
}

func exposedPorts(ctx context.Context, h *Harness, id string) []string {
	insp, err := h.engine.ContainerInspect(ctx, id)
	if err != nil || insp.Config == nil {
		return nil
	}
	var ports []string
	for p := range insp.Config.ExposedPorts {
		if p.Proto() == "tcp" {
			ports = append(ports, p.Port())
		}
	}
	sort.Strings(ports)
	return ports
}
