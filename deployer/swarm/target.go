package swarm

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Target is a swarm reached through one manager's engine, with the node
// engines swdeploy could reach. It is the swarm side of the boundary whose
// engine side is the deployer package: Plan gives the shared
// deployer.Plan, Apply carries it out, and Status, Logs and Down read and
// remove what Apply made.
type Target struct {
	Client  Client
	Address string // the manager's engine, as given
	Nodes   *Nodes
	nodeMu  sync.Mutex // node spec updates, one at a time
}

// Open checks that the engine at address is a swarm manager and connects
// to the node hosts. A node host that cannot be used is reported in
// Nodes.Unused, not an error: the nodes swdeploy cannot reach still run
// tasks, they only cannot get images copied or volumes removed.
func Open(ctx context.Context, c Client, address string, nodeHosts []string, connect Connector) (*Target, error) {
	nodes, err := Discover(ctx, c, address, nodeHosts, connect)
	if err != nil {
		return nil, err
	}
	return &Target{Client: c, Address: address, Nodes: nodes}, nil
}

// Close releases the node engines' connections.
func (t *Target) Close() error { return t.Nodes.Close() }

// engine is the engine of a node: the manager's own client for its node.
func (t *Target) engine(n Node) NodeEngine {
	if n.Self {
		return managerAsNode{t.Client}
	}
	return t.Nodes.Engine(n.ID)
}

// managerAsNode lets the manager's client serve as its node's engine
// without closing the shared connection.
type managerAsNode struct{ Client }

func (managerAsNode) Close() error { return nil }

// Describe is one line on the target: the manager and which nodes swdeploy
// reaches, for plan and status to say what they speak of.
func (t *Target) Describe() string {
	var reach, not []string
	for _, n := range t.Nodes.Nodes {
		if n.Reachable() {
			reach = append(reach, n.Hostname)
		} else {
			not = append(not, n.Hostname)
		}
	}
	s := fmt.Sprintf("swarm, manager %s, %d node(s); engines reached: %s", t.Address, len(t.Nodes.Nodes), orNone(reach))
	if len(not) > 0 {
		s += "; not reached: " + strings.Join(not, ", ") + " (give their engines with --node-host)"
	}
	for _, u := range t.Nodes.Unused {
		s += fmt.Sprintf("; node host %s unused: %s (%s)", u.Address, u.Reason, u.Detail)
	}
	return s
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
