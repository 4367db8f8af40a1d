package swarm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"

	"github.com/fathat101/swdeploy/deployer/engineconn"
)

// Node is one node of the swarm, as the manager lists it, and whether
// swdeploy reaches its engine.
type Node struct {
	ID           string
	Hostname     string
	Role         string // manager or worker
	Availability string // active, pause or drain
	State        string // ready, down, disconnected or unknown
	// Self marks the node whose engine is the manager swdeploy talks to.
	Self bool
	// Engine is the address of the node's engine; empty when none of the
	// node hosts is its engine.
	Engine string
	// Labels are the node's own labels (node.labels.* in constraints) and
	// Version the spec version an update of them must name.
	Labels  map[string]string `json:",omitempty"`
	Version uint64            `json:"-"`
	Addr    string            `json:",omitempty"` // the address the swarm knows it by
}

// Reachable reports whether swdeploy can talk to the node's engine.
func (n Node) Reachable() bool { return n.Engine != "" }

// Reason says why swdeploy does not use a node host.
type Reason string

const (
	// Unreachable: no engine answered at the address.
	Unreachable Reason = "unreachable"
	// NotInSwarm: the engine is in no swarm, or not yet (pending).
	NotInSwarm Reason = "not in a swarm"
	// OtherSwarm: the engine's node ID is not one of this swarm's nodes.
	OtherSwarm Reason = "not in this swarm"
	// Duplicate: an earlier node host leads to the same engine.
	Duplicate Reason = "duplicate"
)

// Unused is a node host swdeploy does not use, and why.
type Unused struct {
	Address string
	Reason  Reason
	Detail  string // the cause, in one line
}

// Report is what swdeploy knows of a swarm's nodes.
type Report struct {
	Nodes  []Node   // every node of the swarm, by hostname
	Unused []Unused // node hosts that lead to no node, in the order given
}

// Unreachable lists the nodes whose engines swdeploy cannot reach.
func (r Report) Unreachable() []Node {
	var out []Node
	for _, n := range r.Nodes {
		if !n.Reachable() {
			out = append(out, n)
		}
	}
	return out
}

// EngineSwarm is an engine's own view of its part in a swarm.
type EngineSwarm struct {
	NodeID  string
	State   string // inactive, pending, active, error or locked
	Manager bool   // it serves the swarm's control API
	Error   string
}

func engineSwarm(info system.Info) EngineSwarm {
	return EngineSwarm{
		NodeID:  info.Swarm.NodeID,
		State:   string(info.Swarm.LocalNodeState),
		Manager: info.Swarm.ControlAvailable,
		Error:   info.Swarm.Error,
	}
}

// Probe is what one node host said: the swarm part of its engine, or why
// it could not be asked.
type Probe struct {
	Address string
	Swarm   EngineSwarm
	Err     error
}

// NotManagerError says that the engine swdeploy was pointed at cannot run
// a swarm deployment, and what to do about it.
type NotManagerError struct {
	Address string
	Swarm   EngineSwarm
}

func (e *NotManagerError) Error() string {
	at := "the engine at " + e.Address
	switch e.Swarm.State {
	case string(swarm.LocalNodeStateInactive), "":
		return at + " is not in a swarm: run `docker swarm init` there to start one, or `docker swarm join` it to yours and point -H at a manager"
	case string(swarm.LocalNodeStatePending):
		return at + " is still joining a swarm: wait for `docker swarm join` to finish, then point -H at a manager"
	case string(swarm.LocalNodeStateLocked):
		return at + " is a locked swarm manager: run `docker swarm unlock` there"
	case string(swarm.LocalNodeStateError):
		return at + " has a swarm error (" + oneLine(e.Swarm.Error) + "): fix it, or `docker swarm init` a new swarm"
	}
	return at + " is a swarm worker, not a manager: point -H at a manager, or `docker node promote` this node from one"
}

// CheckManager returns a *NotManagerError unless the engine is an active
// swarm manager.
func CheckManager(address string, s EngineSwarm) error {
	if s.State == string(swarm.LocalNodeStateActive) && s.Manager {
		return nil
	}
	return &NotManagerError{Address: address, Swarm: s}
}

// MatchNodes pairs node hosts with the manager's nodes by the node ID
// their engines report. The manager's own node is reached at
// managerAddress; a node host that is the manager again is no duplicate,
// since listing every node's engine is the natural thing to do.
func MatchNodes(managerAddress string, manager EngineSwarm, nodes []Node, probes []Probe) Report {
	r := Report{Nodes: slices.Clone(nodes)}
	slices.SortFunc(r.Nodes, func(a, b Node) int {
		return cmp.Or(cmp.Compare(a.Hostname, b.Hostname), cmp.Compare(a.ID, b.ID))
	})
	byID := map[string]int{}
	for i := range r.Nodes {
		n := &r.Nodes[i]
		n.Engine, n.Self = "", n.ID == manager.NodeID
		if n.Self {
			n.Engine = managerAddress
		}
		byID[n.ID] = i
	}
	for _, p := range probes {
		u := Unused{Address: p.Address}
		i, known := byID[p.Swarm.NodeID]
		switch {
		case p.Err != nil:
			u.Reason, u.Detail = Unreachable, oneLine(p.Err.Error())
		case p.Swarm.NodeID == "" || p.Swarm.State == string(swarm.LocalNodeStatePending):
			u.Reason, u.Detail = NotInSwarm, "its engine is not part of a swarm"
		case !known:
			u.Reason, u.Detail = OtherSwarm, fmt.Sprintf("its engine is node %s, which this swarm's manager does not know", p.Swarm.NodeID)
		case r.Nodes[i].Self:
			continue
		case r.Nodes[i].Engine != "":
			u.Reason, u.Detail = Duplicate, fmt.Sprintf("the same engine as %s (node %s)", r.Nodes[i].Engine, r.Nodes[i].Hostname)
		default:
			r.Nodes[i].Engine = p.Address
			continue
		}
		r.Unused = append(r.Unused, u)
	}
	return r
}

func nodeFromSwarm(n swarm.Node) Node {
	return Node{
		ID:           n.ID,
		Hostname:     n.Description.Hostname,
		Role:         string(n.Spec.Role),
		Availability: string(n.Spec.Availability),
		State:        string(n.Status.State),
		Labels:       n.Spec.Labels,
		Version:      n.Version.Index,
		Addr:         n.Status.Addr,
	}
}

// Connector connects to the engine at an address, any address -H accepts.
type Connector func(ctx context.Context, address string) (NodeEngine, error)

// EngineConnector connects the way swdeploy connects to the manager, with
// the docker CLI's rules (TLS material, ssh), each within timeout.
func EngineConnector(timeout time.Duration) Connector {
	return func(ctx context.Context, address string) (NodeEngine, error) {
		c, err := engineconn.Connect(ctx, engineconn.ConnectOptions{Host: address, Timeout: timeout})
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// Nodes is a swarm's nodes with connections to the engines swdeploy
// reaches. Close releases them.
type Nodes struct {
	Report
	engines map[string]NodeEngine // by node ID; the manager's own node has none
}

// Engine is the connection to a node's engine, or nil.
func (n *Nodes) Engine(nodeID string) NodeEngine { return n.engines[nodeID] }

// Close closes the connections to the nodes' engines.
func (n *Nodes) Close() error {
	var errs []error
	for _, e := range n.engines {
		errs = append(errs, e.Close())
	}
	return errors.Join(errs...)
}

// Discover checks that the engine at managerAddress is a swarm manager,
// connects to every node host at once, and matches them to the swarm's
// nodes. An engine that is not a manager gives a *NotManagerError; a node
// host that cannot be used is reported, not an error.
func Discover(ctx context.Context, m Manager, managerAddress string, nodeHosts []string, connect Connector) (*Nodes, error) {
	info, err := m.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine info: %w", err)
	}
	self := engineSwarm(info)
	if err := CheckManager(managerAddress, self); err != nil {
		return nil, err
	}
	list, err := m.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list swarm nodes: %w", err)
	}
	nodes := make([]Node, len(list))
	for i, n := range list {
		nodes[i] = nodeFromSwarm(n)
	}

	probes := make([]Probe, len(nodeHosts))
	engines := make([]NodeEngine, len(nodeHosts))
	var wg sync.WaitGroup
	for i, addr := range nodeHosts {
		wg.Go(func() {
			probes[i].Address = addr
			e, err := connect(ctx, addr)
			if err != nil {
				probes[i].Err = err
				return
			}
			info, err := e.Info(ctx)
			if err != nil {
				e.Close()
				probes[i].Err = fmt.Errorf("engine info: %w", err)
				return
			}
			probes[i].Swarm, engines[i] = engineSwarm(info), e
		})
	}
	wg.Wait()

	out := &Nodes{Report: MatchNodes(managerAddress, self, nodes, probes), engines: map[string]NodeEngine{}}
	kept := map[string]bool{}
	for _, n := range out.Nodes {
		if n.Reachable() && !n.Self {
			kept[n.Engine] = true
		}
	}
	for i, e := range engines {
		if e == nil {
			continue
		}
		if !kept[nodeHosts[i]] || out.engines[probes[i].Swarm.NodeID] != nil {
			e.Close()
			continue
		}
		out.engines[probes[i].Swarm.NodeID] = e
	}
	return out, nil
}

// oneLine keeps the first line of a message.
func oneLine(s string) string {
	for i, r := range s {
		if r == '\n' || r == '\r' {
			return s[:i]
		}
	}
	return s
}
