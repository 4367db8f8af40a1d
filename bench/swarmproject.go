package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// labPort is where edge publishes the API on the lab's manager (host
// mode: the manager's own address).
const labPort = 5003

// newSwarmProject is the stack with swdeploy --target swarm on the lab:
// the manager's engine, the other nodes' engines for copies and volumes,
// and three API replicas (bench/testdata/swarm.yaml).
func (h *Harness) newSwarmProject(lab *swarmLab) (*Project, error) {
	p, err := h.newProject(ToolSwdeploy, "w")
	if err != nil {
		return nil, err
	}
	p.Global = []string{"--target", "swarm", "-H", lab.manager}
	p.Extra = []string{"bench/testdata/swarm.yaml"}
	p.Host, p.Port = lab.addr, labPort
	p.Env["SWDEPLOY_NODE_HOSTS"] = strings.Join(lab.nodes[1:], ",")
	return p, nil
}

// swarmAPI is a client of the project's published API whose verification
// links come from `swdeploy logs api` (every task's log, through the
// manager).
func swarmAPI(p *Project) API {
	return API{Base: p.URL(), Logs: func(ctx context.Context) (string, error) {
		out, _, err := p.CmdSplit(ctx, "logs", "api", "--no-log-prefix")
		return out, err
	}}
}

// swarmStatus is `swdeploy --target swarm status --format json`.
type swarmStatus struct {
	Target   string          `json:"target"`
	Services []swarmSvcState `json:"services"`
}

type swarmSvcState struct {
	Service  string `json:"service"`
	Replicas string `json:"replicas"` // current/wanted
	Tasks    []struct {
		ID      string `json:"id"`
		Node    string `json:"node"`
		State   string `json:"state"`
		Desired string `json:"desired_state"`
		Health  string `json:"health"`
		Error   string `json:"error"`
	} `json:"tasks"`
}

func (p *Project) swarmStatus(ctx context.Context) (swarmStatus, error) {
	out, _, err := p.CmdSplit(ctx, "status", "--format", "json")
	if err != nil {
		return swarmStatus{}, err
	}
	var st swarmStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return swarmStatus{}, fmt.Errorf("status json: %w\n%s", err, tail(out, 20))
	}
	return st, nil
}

// wanted is the service's replica count ("3" of "2/3"; 0 when global).
func (s swarmSvcState) wanted() int {
	var n int
	_, w, _ := strings.Cut(s.Replicas, "/")
	fmt.Sscanf(w, "%d", &n)
	return n
}

// runningIDs are the IDs of the service's tasks that run and are meant to.
func (s swarmSvcState) runningIDs() []string {
	var out []string
	for _, t := range s.Tasks {
		if t.State == "running" && t.Desired == "running" {
			out = append(out, t.ID)
		}
	}
	return out
}

// healthyOn lists the nodes of the service's tasks that run, are meant to,
// and are healthy (or have no health check), except those on skip.
func (s swarmSvcState) healthyOn(skip string) []string {
	var out []string
	for _, t := range s.Tasks {
		if t.State == "running" && t.Desired == "running" && (t.Health == "" || t.Health == "healthy") && t.Node != skip {
			out = append(out, t.Node)
		}
	}
	sort.Strings(out)
	return out
}

func (st swarmStatus) service(name string) swarmSvcState {
	for _, s := range st.Services {
		if s.Service == name {
			return s
		}
	}
	return swarmSvcState{Service: name}
}

// settled tells whether every service has all its replicas healthy
// outside skip.
func (st swarmStatus) settled(skip string) bool {
	for _, s := range st.Services {
		if w := s.wanted(); w > 0 && len(s.healthyOn(skip)) < w {
			return false
		}
	}
	return len(st.Services) > 0
}

// placement says where each service's healthy tasks run: "api: node1,
// node2, node3; cache: node2".
func (st swarmStatus) placement() string {
	var parts []string
	for _, s := range st.Services {
		nodes := s.healthyOn("")
		for i, n := range nodes {
			nodes[i] = strings.TrimPrefix(n, "swlab-")
		}
		parts = append(parts, s.Service+": "+strings.Join(nodes, ", "))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// describe is every task of every service, for a log.
func (st swarmStatus) describe() string {
	var b strings.Builder
	for _, s := range st.Services {
		fmt.Fprintf(&b, "%s %s:", s.Service, s.Replicas)
		for _, t := range s.Tasks {
			fmt.Fprintf(&b, " [%.12s %s %s/%s %s %s]", t.ID, t.Node, t.State, t.Desired, t.Health, t.Error)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// on lists the services with a healthy task on node.
func (st swarmStatus) on(node string) []string {
	var out []string
	for _, s := range st.Services {
		n := 0
		for _, x := range s.healthyOn("") {
			if x == node {
				n++
			}
		}
		switch {
		case n == 1:
			out = append(out, s.Service)
		case n > 1:
			out = append(out, fmt.Sprintf("%s ×%d", s.Service, n))
		}
	}
	sort.Strings(out)
	return out
}
