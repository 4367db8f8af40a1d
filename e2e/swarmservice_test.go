package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"

	"github.com/fathat101/swdeploy/deployer"
	"github.com/fathat101/swdeploy/deployer/swarm"
)

// TestSwarmServiceObserved creates a service on the three-node lab from a
// desired service, translated and made into the SDK's spec as the swarm
// target does, by image ID, on an overlay network of the project; then
// observes it through the project's label: two running tasks on two
// nodes, the spec's config hash read back.
func TestSwarmServiceObserved(t *testing.T) {
	lab := startSwarmLab(t, 3)
	probe := buildProbeImage(t)
	lab.load(t, probe)
	ctx := context.Background()
	manager := connectEngine(t, lab.manager)
	img, err := engine.ImageInspect(ctx, probe)
	if err != nil {
		t.Fatal(err)
	}

	project := "swsvc" + randomHex(4)
	net := project + "_net"
	if _, err := manager.NetworkCreate(ctx, net, network.CreateOptions{Driver: "overlay", Labels: map[string]string{swarm.LabelProject: project}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeNetwork(t, manager, net) })

	p, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir: t.TempDir(),
		ConfigFiles: []types.ConfigFile{{Filename: "compose.yaml", Content: []byte(`
services:
  probe:
    image: ` + probe + `
    command: [serve, "8080"]
    networks:
      net: {aliases: [probe-alias]}
    deploy:
      replicas: 2
      placement: {max_replicas_per_node: 1}
networks:
  net: {name: ` + net + `, external: true}
`)}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName(project, true) })
	if err != nil {
		t.Fatal(err)
	}
	d, err := deployer.NewDesired(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	services, warnings, err := swarm.Translate(d, swarm.Inputs{Images: map[string]string{"probe": img.ID}})
	if err != nil || len(services) != 1 || len(warnings) != 0 {
		t.Fatalf("translate: %+v %q %v", services, warnings, err)
	}
	want := services[0]
	created, err := manager.ServiceCreate(ctx, want.ToSwarm(), dockerswarm.ServiceCreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { manager.ServiceRemove(ctx, created.ID) })

	var got []swarm.ObservedService
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, err = swarm.ObserveServices(ctx, manager, project)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && len(got[0].Running()) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two running tasks: %+v", got)
		}
		time.Sleep(300 * time.Millisecond)
	}
	s := got[0]
	if s.ID != created.ID || s.Name != project+"_probe" || s.Service != "probe" || s.Image != img.ID || s.Version == 0 {
		t.Errorf("observed %+v, want %s (%s) running %s", s, want.Name, created.ID, img.ID)
	}
	if s.ConfigHash == "" || s.ConfigHash != want.ConfigHash() {
		t.Errorf("config hash %q read back, want %q", s.ConfigHash, want.ConfigHash())
	}
	if s.Replicas == nil || *s.Replicas != 2 {
		t.Errorf("replicas %v, want 2", s.Replicas)
	}

	nodes, err := manager.NodeList(ctx, dockerswarm.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hostname := map[string]string{}
	for _, n := range nodes {
		hostname[n.ID] = n.Description.Hostname
	}
	var on []string
	for _, task := range s.Running() {
		if hostname[task.NodeID] == "" || task.ContainerID == "" || task.Error != "" {
			t.Errorf("task %+v: want a container on a node of the lab, no error", task)
		}
		on = append(on, hostname[task.NodeID])
	}
	slices.Sort(on)
	if len(on) != 2 || on[0] == on[1] {
		t.Errorf("running tasks on %v, want two nodes", on)
	}
	t.Logf("tasks on %v, version %d, config hash %s", on, s.Version, s.ConfigHash)

	// The swarm keeps what the translation asked for: dnsrr, the aliases.
	svc, _, err := manager.ServiceInspectWithRaw(ctx, created.ID, dockerswarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := svc.Spec.EndpointSpec.Mode; m != dockerswarm.ResolutionModeDNSRR {
		t.Errorf("endpoint mode %s, want dnsrr", m)
	}
	if n := svc.Spec.TaskTemplate.Networks; len(n) != 1 || !slices.Equal(n[0].Aliases, []string{"probe", "probe-alias"}) {
		t.Errorf("networks %+v, want %s with aliases probe, probe-alias", n, net)
	}

	if err := manager.ServiceRemove(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := swarm.ObserveServices(ctx, manager, project); err != nil || len(got) != 0 {
		t.Errorf("after removal: %+v, %v", got, err)
	}
}

// removeNetwork removes a network once the tasks that used it have left
// it, which the swarm does shortly after their service is removed.
func removeNetwork(t *testing.T, m interface {
	NetworkRemove(ctx context.Context, id string) error
}, name string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := m.NetworkRemove(context.Background(), name)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("remove network %s: %v", name, err)
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
}
