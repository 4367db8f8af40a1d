package swarm

import (
	"reflect"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/fathat101/swdeploy/deployer"
)

// TestCollect reads services and tasks as the manager lists them back
// into the project's types: other projects' services and their tasks left
// out, tasks by slot and newest first, the config hash and replicas from
// the spec.
func TestCollect(t *testing.T) {
	two := uint64(2)
	labels := func(project, service, hash string) map[string]string {
		return map[string]string{LabelProject: project, deployer.LabelService: service, deployer.LabelConfigHash: hash}
	}
	services := []swarm.Service{
		{ID: "s-web", Meta: swarm.Meta{Version: swarm.Version{Index: 12}}, Spec: swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Name: "demo_web", Labels: labels("demo", "web", "aaaa")},
			Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &two}},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "sha256:1234"}},
		}, UpdateStatus: &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, Message: "rollback completed"}},
		{ID: "s-other", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "other_web", Labels: labels("other", "web", "bbbb")}}},
		{ID: "s-agent", Meta: swarm.Meta{Version: swarm.Version{Index: 3}}, Spec: swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: "demo_agent", Labels: labels("demo", "agent", "cccc")},
			Mode:        swarm.ServiceMode{Global: &swarm.GlobalService{}},
		}},
	}
	at := func(s int) swarm.Meta { return swarm.Meta{CreatedAt: time.Unix(int64(s), 0)} }
	tasks := []swarm.Task{
		{ID: "t1-old", Meta: at(1), ServiceID: "s-web", Slot: 1, NodeID: "n1", DesiredState: swarm.TaskStateShutdown,
			Status: swarm.TaskStatus{State: swarm.TaskStateFailed, Err: "task: non-zero exit (1)", Message: "started"}},
		{ID: "t2", Meta: at(2), ServiceID: "s-web", Slot: 2, NodeID: "n2", DesiredState: swarm.TaskStateRunning,
			Status: swarm.TaskStatus{State: swarm.TaskStateRunning, Message: "started", ContainerStatus: &swarm.ContainerStatus{ContainerID: "c2"}}},
		{ID: "t1-new", Meta: at(3), ServiceID: "s-web", Slot: 1, NodeID: "n3", DesiredState: swarm.TaskStateRunning,
			Status: swarm.TaskStatus{State: swarm.TaskStateStarting, Message: "starting"}},
		{ID: "tx", ServiceID: "s-other", Slot: 1, NodeID: "n1", DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}},
		{ID: "ta", ServiceID: "s-agent", NodeID: "n1", DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}},
	}
	got := collect("demo", services, tasks)
	if got[1].Summary.Replicas != "2" || got[1].Summary.Image != "sha256:1234" || got[1].Spec == "" || got[1].Tasks[0].Created != time.Unix(3, 0) {
		t.Errorf("summary %+v, spec %q, first task created %v", got[1].Summary, got[1].Spec, got[1].Tasks[0].Created)
	}
	// What follows compares what the manager said, not what was derived.
	for i := range got {
		got[i].Summary, got[i].Spec = specSummary{}, ""
		for j := range got[i].Tasks {
			got[i].Tasks[j].Spec, got[i].Tasks[j].Created = "", time.Time{}
		}
	}
	want := []ObservedService{
		{ID: "s-agent", Name: "demo_agent", Service: "agent", Version: 3, ConfigHash: "cccc", Tasks: []ObservedTask{
			{ID: "ta", NodeID: "n1", State: "running", DesiredState: "running"},
		}},
		{ID: "s-web", Name: "demo_web", Service: "web", Version: 12, ConfigHash: "aaaa", Replicas: &two, Image: "sha256:1234",
			UpdateState: "rollback_completed", UpdateMessage: "rollback completed", Tasks: []ObservedTask{
				{ID: "t1-new", Slot: 1, NodeID: "n3", State: "starting", DesiredState: "running", Message: "starting"},
				{ID: "t1-old", Slot: 1, NodeID: "n1", State: "failed", DesiredState: "shutdown", Error: "task: non-zero exit (1)", Message: "started"},
				{ID: "t2", Slot: 2, NodeID: "n2", State: "running", DesiredState: "running", Message: "started", ContainerID: "c2"},
			}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("observed:\n%+v\nwant:\n%+v", got, want)
	}
	if r := got[1].Running(); len(r) != 1 || r[0].ID != "t2" {
		t.Errorf("running tasks %+v, want t2 only", r)
	}
}
