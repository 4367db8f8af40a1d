package swarm

import (
	"crypto/rand"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/swarm"

	"github.com/fathat101/swdeploy/deployer"
)

// The swarm's plans, from a state that the test builds as apply would
// leave it, and from that state changed the ways an operator or a node
// failure changes it. Each plan is compared as text with a golden file.

var testNodes = []Node{
	{ID: "n1", Hostname: "node1", Role: "manager", Availability: "active", State: "ready", Self: true, Engine: "unix:///n1.sock"},
	{ID: "n2", Hostname: "node2", Role: "worker", Availability: "active", State: "ready", Engine: "unix:///n2.sock"},
	{ID: "n3", Hostname: "node3", Role: "worker", Availability: "active", State: "ready", Engine: "unix:///n3.sock"},
}

// imageIDs are the images the manager has, one per service.
func imageIDs(d *deployer.Desired) map[string]ImageState {
	out := map[string]ImageState{}
	for i, svc := range d.Services {
		st := ImageState{Ref: svc.Image, ID: fmt.Sprintf("sha256:%064d", i+1)}
		if svc.Build != nil {
			st.BuildDigest = svc.Build.Digest
		}
		out[svc.Name] = st
	}
	return out
}

// chosen keeps each secret's version, as a run that generated them before.
func chosen(t *testing.T, d *deployer.Desired) map[string]ChosenSecret {
	out := map[string]ChosenSecret{}
	for _, s := range d.Secrets {
		v, err := NewSecretVersion(d.Project.Name, s.Key, secretValue(s.Key))
		if err != nil {
			t.Fatal(err)
		}
		v.ID, v.Generated = "id-"+v.Name, true
		out[s.Key] = ChosenSecret{Key: s.Key, Version: v, Source: "kept on the swarm"}
	}
	return out
}

// deployed is the state after a successful up of d: the nodes labelled,
// networks and secrets made, every service running its replicas.
func deployed(t *testing.T, d *deployer.Desired) *State {
	t.Helper()
	st := &State{Nodes: append([]Node(nil), testNodes...), Networks: map[string]ObservedNetwork{}, Images: imageIDs(d), Volumes: map[string][]string{}, OtherSecrets: map[string]bool{}}
	st.Nodes[0].Labels = map[string]string{}
	for _, n := range d.Networks {
		st.Networks[n.Name] = ObservedNetwork{ID: "net-" + n.Key, Name: n.Name, Hash: n.Hash, Internal: n.Config.Internal}
	}
	secrets := chosen(t, d)
	for _, c := range secrets {
		st.Secrets = append(st.Secrets, c.Version)
	}
	pl, err := Reconcile(d, st, secrets, deployer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range pl.Services {
		if s.Stateful {
			st.Nodes[0].Labels[PinLabel(d.Project.Name, s.Service)] = "true"
		}
		spec := s.ToSwarm()
		svc := swarm.Service{ID: "svc-" + s.Service, Spec: spec, UpdateStatus: &swarm.UpdateStatus{State: swarm.UpdateStateCompleted}}
		n := 1
		if s.Replicas != nil {
			n = int(*s.Replicas)
		}
		var tasks []swarm.Task
		for i := range n {
			tasks = append(tasks, swarm.Task{ID: fmt.Sprintf("task-%s-%d", s.Service, i+1), ServiceID: svc.ID, Slot: i + 1, NodeID: testNodes[i%3].ID,
				Spec: spec.TaskTemplate, DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}})
		}
		st.Services = append(st.Services, collect(d.Project.Name, []swarm.Service{svc}, tasks)...)
	}
	return st
}

func planText(t *testing.T, pl *Planned) string {
	t.Helper()
	var b strings.Builder
	if err := pl.Plan.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func reconcileGolden(t *testing.T, name string, d *deployer.Desired, st *State, secrets map[string]ChosenSecret) *Planned {
	t.Helper()
	pl, err := Reconcile(d, st, secrets, deployer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-"+name+".txt", planText(t, pl))
	return pl
}

func scaled(d *deployer.Desired, service string, n int) *deployer.Desired {
	svc := d.Service(service)
	cfg := svc.Config
	dc := *cfg.Deploy
	dc.Replicas = &n
	cfg.Deploy = &dc
	svc.Config = cfg
	return d
}

func TestReconcileFromNothing(t *testing.T) {
	d := realDesired(t)
	st := &State{Nodes: testNodes, Networks: map[string]ObservedNetwork{}, Images: map[string]ImageState{}, Volumes: map[string][]string{}}
	for name, img := range imageIDs(d) {
		if d.Service(name).Build == nil {
			img.Lacking = []string{"node2", "node3"}
			st.Images[name] = img
		}
	}
	secrets := chosen(t, d)
	for k, c := range secrets {
		c.Create, c.Source, c.Value = true, "generated", secretValue(k)
		secrets[k] = c
	}
	pl := reconcileGolden(t, "from-nothing", d, st, secrets)
	if pl.Pins["mysql"].Node.Hostname != "node1" || !pl.Pins["mysql"].Label {
		t.Errorf("mysql pinned to %+v, want node1, to be labelled", pl.Pins["mysql"])
	}
}

func TestReconcileUpToDate(t *testing.T) {
	d := realDesired(t)
	st := deployed(t, d)
	pl := reconcileGolden(t, "up-to-date", d, st, chosen(t, d))
	if !pl.Plan.Empty() {
		t.Errorf("a deployed stack plans actions:\n%s", planText(t, pl))
	}
}

func TestReconcileEnvironmentChanged(t *testing.T) {
	d := realDesired(t)
	st := deployed(t, d)
	api := d.Service("api")
	v := "rollout@example.com"
	api.Config.Environment["STARWARS_SMTP_FROM"] = &v
	reconcileGolden(t, "api-environment-changed", d, st, chosen(t, d))
}

func TestReconcileScaledByHand(t *testing.T) {
	d := realDesired(t)
	st := deployed(t, d)
	for i := range st.Services {
		if st.Services[i].Service == "api" {
			st.Services[i].Summary.Replicas = "5"
		}
	}
	reconcileGolden(t, "api-scaled-by-hand", d, st, chosen(t, d))
}

func TestReconcileTaskDown(t *testing.T) {
	d := scaled(realDesired(t), "api", 3)
	st := deployed(t, d)
	for i := range st.Services {
		if o := &st.Services[i]; o.Service == "api" {
			o.Tasks[2].State, o.Tasks[2].DesiredState, o.Tasks[2].Error = "failed", "shutdown", "node is down"
		}
	}
	reconcileGolden(t, "api-task-down", d, st, chosen(t, d))
}

func TestReconcileSecretRotated(t *testing.T) {
	d := realDesired(t)
	st := deployed(t, d)
	secrets := chosen(t, d)
	c := secrets["jwt_access_secret"]
	v, err := NewSecretVersion("starwars", "jwt_access_secret", []byte("a new value"))
	if err != nil {
		t.Fatal(err)
	}
	c.Version, c.Value, c.Create, c.Source = v, []byte("a new value"), true, "rotated"
	secrets["jwt_access_secret"] = c
	reconcileGolden(t, "secret-rotated", d, st, secrets)
}

func TestReconcileImageRebuilt(t *testing.T) {
	d := realDesired(t)
	st := deployed(t, d)
	img := st.Images["api"]
	img.BuildDigest = "older"
	st.Images["api"] = img
	reconcileGolden(t, "api-image-rebuilt", d, st, chosen(t, d))
}

func TestReconcileNodeLacksImage(t *testing.T) {
	d := realDesired(t)
	st := deployed(t, d)
	img := st.Images["redis"]
	img.Lacking = []string{"node3"}
	st.Images["redis"] = img
	reconcileGolden(t, "node-lacks-image", d, st, chosen(t, d))
}

func TestReconcileRegistryImage(t *testing.T) {
	d := realDesired(t)
	api := d.Service("api")
	api.Image = "registry.test:5000/starwars-api:1"
	st := deployed(t, d)
	pl := reconcileGolden(t, "api-registry-image", d, st, chosen(t, d))
	if a, ok := pl.Plan.Action("push:api"); !ok || a.Op != deployer.OpPush {
		t.Errorf("want a push of the api image, got %+v", pl.Plan.Actions)
	}
}

func TestChooseSecretsKeepsGenerated(t *testing.T) {
	d := realDesired(t)
	st := deployed(t, d)
	src := deployer.SecretSources{LookupEnv: func(string) (string, bool) { return "", false }, ReadFile: func(string) ([]byte, error) { return nil, errNotExist }, Random: rand.Reader}
	got, err := ChooseSecrets(d, st, src)
	if err != nil {
		t.Fatal(err)
	}
	for k, c := range got {
		if c.Create || c.Source != "kept on the swarm" || c.Value != nil {
			t.Errorf("secret %s: %+v, want the kept version without its value", k, c)
		}
	}
	src.Rotate = []string{"jwt_access_secret"}
	got, err = ChooseSecrets(d, st, src)
	if err != nil {
		t.Fatal(err)
	}
	if c := got["jwt_access_secret"]; !c.Create || c.Source != "rotated" || !c.Version.Generated {
		t.Errorf("rotated: %+v", c)
	}
	if c := got["jwt_refresh_secret"]; c.Create {
		t.Errorf("a secret not rotated changes: %+v", c)
	}
}

var errNotExist = fs.ErrNotExist
