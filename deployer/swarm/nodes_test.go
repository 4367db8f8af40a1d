package swarm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMatchNodes(t *testing.T) {
	nodes := []Node{
		{ID: "w2", Hostname: "node3", Role: "worker", Availability: "active", State: "ready"},
		{ID: "m1", Hostname: "node1", Role: "manager", Availability: "active", State: "ready"},
		{ID: "w1", Hostname: "node2", Role: "worker", Availability: "drain", State: "down"},
	}
	manager := EngineSwarm{NodeID: "m1", State: "active", Manager: true}
	probes := []Probe{
		{Address: "unix:///run/node1.sock", Swarm: manager},
		{Address: "ssh://node3", Swarm: EngineSwarm{NodeID: "w2", State: "active"}},
		{Address: "unix:///nowhere.sock", Err: errors.New("cannot reach the Docker engine at unix:///nowhere.sock: no such file\nmore")},
		{Address: "tcp://lone:2375", Swarm: EngineSwarm{State: "inactive"}},
		{Address: "tcp://joining:2375", Swarm: EngineSwarm{NodeID: "p1", State: "pending"}},
		{Address: "tcp://other:2375", Swarm: EngineSwarm{NodeID: "x9", State: "active"}},
		{Address: "tcp://node3:2375", Swarm: EngineSwarm{NodeID: "w2", State: "active"}},
	}
	got := MatchNodes("unix:///run/node1.sock", manager, nodes, probes)
	want := Report{
		Nodes: []Node{
			{ID: "m1", Hostname: "node1", Role: "manager", Availability: "active", State: "ready", Self: true, Engine: "unix:///run/node1.sock"},
			{ID: "w1", Hostname: "node2", Role: "worker", Availability: "drain", State: "down"},
			{ID: "w2", Hostname: "node3", Role: "worker", Availability: "active", State: "ready", Engine: "ssh://node3"},
		},
		Unused: []Unused{
			{Address: "unix:///nowhere.sock", Reason: Unreachable, Detail: "cannot reach the Docker engine at unix:///nowhere.sock: no such file"},
			{Address: "tcp://lone:2375", Reason: NotInSwarm, Detail: "its engine is not part of a swarm"},
			{Address: "tcp://joining:2375", Reason: NotInSwarm, Detail: "its engine is not part of a swarm"},
			{Address: "tcp://other:2375", Reason: OtherSwarm, Detail: "its engine is node x9, which this swarm's manager does not know"},
			{Address: "tcp://node3:2375", Reason: Duplicate, Detail: "the same engine as ssh://node3 (node node3)"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("report:\n%+v\nwant:\n%+v", got, want)
	}
	if u := got.Unreachable(); len(u) != 1 || u[0].ID != "w1" {
		t.Errorf("unreachable nodes: %+v, want node2 only", u)
	}
	if nodes[1].Self || nodes[1].Engine != "" {
		t.Errorf("the input was changed: %+v", nodes[1])
	}
}

func TestMatchNodesNoNodeHosts(t *testing.T) {
	nodes := []Node{{ID: "m1", Hostname: "node1"}, {ID: "w1", Hostname: "node2"}}
	got := MatchNodes("unix:///m.sock", EngineSwarm{NodeID: "m1", State: "active", Manager: true}, nodes, nil)
	if !got.Nodes[0].Reachable() || got.Nodes[1].Reachable() || len(got.Unused) != 0 {
		t.Fatalf("only the manager's node is reachable without node hosts: %+v", got)
	}
}

func TestCheckManager(t *testing.T) {
	for _, tc := range []struct {
		swarm EngineSwarm
		want  string // part of the message; "" for no error
	}{
		{EngineSwarm{NodeID: "m1", State: "active", Manager: true}, ""},
		{EngineSwarm{State: "inactive"}, "is not in a swarm: run `docker swarm init` there to start one, or `docker swarm join` it"},
		{EngineSwarm{NodeID: "w1", State: "active"}, "is a swarm worker, not a manager: point -H at a manager"},
		{EngineSwarm{NodeID: "p1", State: "pending"}, "is still joining a swarm"},
		{EngineSwarm{NodeID: "m1", State: "locked"}, "`docker swarm unlock`"},
		{EngineSwarm{State: "error", Error: "bad cert\ndetails"}, "has a swarm error (bad cert)"},
	} {
		err := CheckManager("tcp://h:2376", tc.swarm)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.swarm, err)
			}
			continue
		}
		var nm *NotManagerError
		if !errors.As(err, &nm) {
			t.Fatalf("%+v: want a *NotManagerError, got %v", tc.swarm, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "the engine at tcp://h:2376 ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%+v: message %q, want one line with %q", tc.swarm, msg, tc.want)
		}
	}
}
