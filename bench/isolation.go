package bench

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"sort"
	"strings"
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

// internalServices are the stack's services on the internal network only.
var internalServices = []string{"mysql", "redis", "cache"}

// isolation checks that nothing outside the internal network reaches MySQL
// or the Redis servers and that nothing on it reaches out.
func (h *Harness) isolation(ctx context.Context, p *Project) (*Table, error) {
	t := &Table{Head: []string{"from", "to", "expected", "got", "as expected"}}
	w := map[bool]string{true: "connects", false: "no connection"}
	add := func(from, to string, want, got bool) {
		t.Add(from, to, w[want], w[got], yesNo(want == got))
	}
	// addTalk records a probe that also read what the server said, so that
	// a connection is known to have reached the database itself.
	addTalk := func(from, to string, a talk) {
		got := w[a.connected]
		if a.connected {
			if a.answer != "" {
				got += ", and the server answered: " + a.answer
			} else {
				got += ", but no answer in 2 s"
			}
		}
		t.Add(from, to, w[false], got, yesNo(!a.connected))
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
	db := map[string]int{"mysql": 3306, "redis": 6379, "cache": 6379}
	for _, svc := range internalServices {
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

	// Outside -> in. Traffic must never leave this machine: an address is
	// tried only when the host has an address in its subnet (so the packet
	// stays on a local bridge). Without one, the only route to it leads
	// off the machine: nothing is sent, and that is the isolation itself.
	for _, svc := range internalServices {
		addr := cs[svc].Networks[internal]
		own := hostAddrsIn(addr)
		t.Add("host", "its own addresses in the subnet of "+svc+" "+addr, "none", orNone(own), yesNo(len(own) == 0))
		target := net.JoinHostPort(addr, fmt.Sprint(db[svc]))
		if !onThisMachine(addr) {
			t.Add("host", svc+" "+target, w[false], "not sent: no route to it stays on this machine", "yes")
			continue
		}
		addTalk("host", svc+" "+target, hostTalk(target))
	}
	var fromPublic []string
	for _, svc := range internalServices {
		addr := cs[svc].Networks[internal]
		if onThisMachine(addr) {
			fromPublic = append(fromPublic, net.JoinHostPort(addr, fmt.Sprint(db[svc])))
		} else {
			// From the public network the packet would go to the host and
			// out by its default route: not sent.
			t.Add("a container on "+public, svc+" "+net.JoinHostPort(addr, fmt.Sprint(db[svc])), w[false],
				"not sent: its only route goes through the host, which has no address on "+internal, "yes")
		}
	}
	// (No probe by name: a name the embedded DNS does not know would be
	// forwarded to the host's resolvers.)
	if len(fromPublic) > 0 {
		talks, err := h.talkFromNetwork(ctx, p, public, fromPublic)
		if err != nil {
			return nil, err
		}
		for _, target := range fromPublic {
			addTalk("a container on "+public, target, talks[target])
		}
	}
	apiAddr := net.JoinHostPort(cs["api"].Networks[public], "5003")
	got, err := h.tcpFromNetwork(ctx, p, public, []string{apiAddr})
	if err != nil {
		return nil, err
	}
	add("a container on "+public+" (control)", "api "+apiAddr, true, got[apiAddr])
	ctl := net.JoinHostPort(cs["mysql"].Networks[internal], "3306")
	add("redis (control: inside the internal network)", "mysql "+ctl, true, tcpFrom(ctx, cs["redis"].ID, []string{ctl})[ctl])
	op, err := p.Operator(ctx)
	if err != nil {
		return nil, err
	}
	r, err := op.Do(ctx, "GET", "/readyz", "", nil)
	add("api (control: on both networks, /readyz)", "mysql and redis", true, err == nil && r.Status == 200)

	// Inside -> out: a listener on every host bridge address.
	l, err := ListenCounting()
	if err != nil {
		return nil, err
	}
	defer l.Close()
	port := l.Port()
	nets, err := h.engine.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, err
	}
	var gateways []string
	seen := map[string]bool{}
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if c.Gateway != "" && !strings.Contains(c.Gateway, ":") && !seen[c.Gateway] && hostOwns(c.Gateway) {
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
	before := l.Accepted()
	ctlTarget := net.JoinHostPort(pubGW, fmt.Sprint(port))
	got, err = h.tcpFromNetwork(ctx, p, public, []string{ctlTarget})
	if err != nil {
		return nil, err
	}
	add("a container on "+public+" (control)", "host listener "+ctlTarget, true, got[ctlTarget] && l.Accepted() > before)
	before = l.Accepted()
	var outTargets []string
	for svc, c := range cs {
		if a := c.Networks[public]; a != "" && !slices.Contains(internalServices, svc) && onThisMachine(a) {
			for _, port := range exposedPorts(ctx, h, c.ID) {
				outTargets = append(outTargets, svc+" "+net.JoinHostPort(a, port))
			}
		}
	}
	sort.Strings(outTargets)
	for _, svc := range internalServices {
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
	leaked := l.Accepted() - before
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

// talk is a connection attempt that also read the first bytes the server sent.
type talk struct {
	connected bool
	answer    string // printable start of the answer
}

func printable(b []byte) string {
	var o strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			o.WriteByte(c)
		} else {
			o.WriteByte('.')
		}
	}
	return "`" + strings.ReplaceAll(o.String(), "`", "'") + "`"
}

func hostTalk(target string) talk {
	conn, err := net.DialTimeout("tcp", target, 3*time.Second)
	if err != nil {
		return talk{}
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	conn.Write([]byte("PING\r\n"))
	buf := make([]byte, 40)
	n, _ := conn.Read(buf)
	a := talk{connected: true}
	if n > 0 {
		a.answer = printable(buf[:n])
	}
	return a
}

// talkFromNetwork connects to each target from a throwaway container on
// netName, sends PING and prints what came back (hex), all at once.
func (h *Harness) talkFromNetwork(ctx context.Context, p *Project, netName string, targets []string) (map[string]talk, error) {
	var parts []string
	for i, t := range targets {
		host, port, _ := net.SplitHostPort(t)
		parts = append(parts, fmt.Sprintf(`(if timeout 3 bash -c 'exec 3<>/dev/tcp/%s/%s' 2>/dev/null; then timeout 3 bash -c 'exec 3<>/dev/tcp/%s/%s; printf "PING\r\n" >&3; timeout 2 head -c 40 <&3' 2>/dev/null | od -An -tx1 | tr -d ' \n' >/tmp/a%d; echo "OK %s $(cat /tmp/a%d)"; else echo "NO %s"; fi) &`,
			host, port, host, port, i, t, i, t))
	}
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--network", netName,
		"--label", "com.docker.compose.project="+p.Name, "--label", labelBench+"=1",
		"--entrypoint", "bash", "swdeploy-offline/mysql:8.4", "-c", strings.Join(parts, " ")+" wait").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("probe container on %s: %v\n%s", netName, err, out)
	}
	res := map[string]talk{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		a := talk{connected: f[0] == "OK"}
		if len(f) == 3 {
			if b, err := hex.DecodeString(f[2]); err == nil && len(b) > 0 {
				a.answer = printable(b)
			}
		}
		res[f[1]] = a
	}
	if len(res) != len(targets) {
		return nil, fmt.Errorf("probe container on %s answered for %d of %d targets:\n%s", netName, len(res), len(targets), out)
	}
	return res, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// hostNets are the subnets of this machine's own IPv4 addresses.
func hostNets() []*net.IPNet {
	var out []*net.IPNet
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			out = append(out, n)
		}
	}
	return out
}

// onThisMachine tells whether packets to ip stay on this machine: it is
// loopback or in the subnet of one of the host's own addresses (a local
// bridge). Anything else would be routed off the machine.
func onThisMachine(ip string) bool {
	a := net.ParseIP(ip)
	if a == nil {
		return false
	}
	if a.IsLoopback() {
		return true
	}
	for _, n := range hostNets() {
		if n.Contains(a) && !n.IP.IsLoopback() && !isDefaultRouteNet(n) {
			return true
		}
	}
	return false
}

// isDefaultRouteNet tells whether n is the subnet of an interface that
// leads off the machine (one that is not a Docker bridge or loopback).
func isDefaultRouteNet(n *net.IPNet) bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return true
	}
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if in, ok := a.(*net.IPNet); ok && in.String() == n.String() {
				return !(strings.HasPrefix(i.Name, "br-") || strings.HasPrefix(i.Name, "docker") || i.Flags&net.FlagLoopback != 0)
			}
		}
	}
	return true
}

// hostOwns tells whether ip is one of the host's own bridge addresses.
func hostOwns(ip string) bool {
	for _, n := range hostNets() {
		if n.IP.String() == ip && !isDefaultRouteNet(n) {
			return true
		}
	}
	return false
}

// hostAddrsIn lists the host's own addresses in the subnet that holds ip.
func hostAddrsIn(ip string) []string {
	a := net.ParseIP(ip)
	var out []string
	for _, n := range hostNets() {
		if a != nil && n.Contains(a) && !isDefaultRouteNet(n) {
			out = append(out, n.IP.String())
		}
	}
	return out
}
