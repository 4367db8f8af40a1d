package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	dockerswarm "github.com/docker/docker/api/types/swarm"

	"github.com/fathat101/swdeploy/deployer/engineconn"
	"github.com/fathat101/swdeploy/deployer/swarm"
)

// TestSwarmTargetFoundation drives the swarm target's building blocks
// against a real three-node lab: the node report, an image copied from the
// manager to the workers without a registry, and secret versions created,
// kept while used and pruned once not.
func TestSwarmTargetFoundation(t *testing.T) {
	lab := startSwarmLab(t, 3)
	probe := buildProbeImage(t)
	lab.load(t, probe)
	ctx := context.Background()
	manager := connectEngine(t, lab.manager)
	connect := swarm.EngineConnector(10 * time.Second)

	t.Run("nodes", func(t *testing.T) {
		const bogus = "unix:///run/swdeploy-e2e-no-such-engine.sock"
		nodes, err := swarm.Discover(ctx, manager, lab.manager, append(slices.Clone(lab.nodes), bogus), connect)
		if err != nil {
			t.Fatal(err)
		}
		defer nodes.Close()
		var got []string
		for _, n := range nodes.Nodes {
			got = append(got, fmt.Sprintf("%s %s %s %s self=%v engine=%s", n.Hostname, n.Role, n.Availability, n.State, n.Self, n.Engine))
		}
		want := []string{
			"swlab-node1 manager active ready self=true engine=" + lab.manager,
			"swlab-node2 worker active ready self=false engine=" + lab.nodes[1],
			"swlab-node3 worker active ready self=false engine=" + lab.nodes[2],
		}
		if !slices.Equal(got, want) {
			t.Errorf("nodes:\n%q\nwant:\n%q", got, want)
		}
		if len(nodes.Unused) != 1 || nodes.Unused[0].Address != bogus || nodes.Unused[0].Reason != swarm.Unreachable {
			t.Errorf("unused node hosts %+v, want %s unreachable", nodes.Unused, bogus)
		}
		t.Logf("%s: %s", bogus, nodes.Unused[0].Detail)

		// Without node2's engine, node2 is listed but out of reach.
		some, err := swarm.Discover(ctx, manager, lab.manager, []string{lab.nodes[2]}, connect)
		if err != nil {
			t.Fatal(err)
		}
		defer some.Close()
		if u := some.Unreachable(); len(u) != 1 || u[0].Hostname != "swlab-node2" {
			t.Errorf("unreachable nodes %+v, want swlab-node2", u)
		}

		worker := connectEngine(t, lab.nodes[1])
		_, err = swarm.Discover(ctx, worker, lab.nodes[1], nil, connect)
		var nm *swarm.NotManagerError
		if !errors.As(err, &nm) {
			t.Fatalf("discover from a worker: %v, want a *NotManagerError", err)
		}
		t.Logf("from a worker: %v", err)
	})

	t.Run("images", func(t *testing.T) {
		id := importUniqueImage(t, manager)
		nodes, err := swarm.Discover(ctx, manager, lab.manager, lab.nodes, connect)
		if err != nil {
			t.Fatal(err)
		}
		defer nodes.Close()
		for _, host := range lab.nodes[1:] {
			if _, err := connectEngine(t, host).ImageInspect(ctx, id); err == nil {
				t.Fatalf("%s has the image before it is copied", host)
			}
		}

		copies, err := swarm.Distribute(ctx, manager, nodes, id)
		if err != nil {
			t.Fatal(err)
		}
		want := []swarm.Copy{{Node: "swlab-node2", Copied: true}, {Node: "swlab-node3", Copied: true}}
		if !sameCopies(copies, want) {
			t.Errorf("first distribution %+v, want %+v", copies, want)
		}
		for _, host := range lab.nodes[1:] {
			got, err := connectEngine(t, host).ImageInspect(ctx, id)
			if err != nil || got.ID != id {
				t.Errorf("%s: image %s after the copy: %s %v", host, id, got.ID, err)
			}
		}

		copies, err = swarm.Distribute(ctx, manager, nodes, id)
		if err != nil {
			t.Fatal(err)
		}
		want = []swarm.Copy{{Node: "swlab-node2"}, {Node: "swlab-node3"}}
		if !sameCopies(copies, want) {
			t.Errorf("second distribution %+v, want %+v (nothing copied)", copies, want)
		}

		const missing = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
		if _, err := swarm.Distribute(ctx, manager, nodes, missing); err == nil || !strings.Contains(err.Error(), "on the manager's engine") {
			t.Errorf("distributing an image the manager lacks: %v", err)
		}
	})

	t.Run("secrets", func(t *testing.T) {
		project := "swe2e" + randomHex(4)
		v1 := secretVersion(t, project, "token", "first value")
		v2 := secretVersion(t, project, "token", "second value")

		got, created, err := swarm.CreateSecrets(ctx, manager, project, []swarm.SecretValue{{Version: v1, Value: []byte("first value")}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(created, []string{v1.Name}) || len(got) != 1 || got[0].ID == "" {
			t.Fatalf("created %v (%+v), want %s", created, got, v1.Name)
		}
		v1 = got[0]
		if _, created, err = swarm.CreateSecrets(ctx, manager, project, []swarm.SecretValue{{Version: v1, Value: []byte("first value")}}); err != nil || len(created) != 0 {
			t.Fatalf("second create: created %v, %v; want nothing", created, err)
		}
		inspected, _, err := manager.SecretInspectWithRaw(ctx, v1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(inspected.Spec.Data) != 0 {
			t.Errorf("the swarm gives the secret's value back: %q", inspected.Spec.Data)
		}

		// A service on v1; the value changes to v2.
		svc, err := manager.ServiceCreate(ctx, secretProbeService(project, probe, v1), dockerswarm.ServiceCreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		serviceUp := true
		defer func() {
			if serviceUp {
				manager.ServiceRemove(ctx, svc.ID)
			}
		}()
		if _, created, err = swarm.CreateSecrets(ctx, manager, project, []swarm.SecretValue{{Version: v2, Value: []byte("second value")}}); err != nil || !slices.Equal(created, []string{v2.Name}) {
			t.Fatalf("changed value: created %v, %v; want %s", created, err, v2.Name)
		}
		keep := map[string]bool{v2.Name: true}
		removed, err := swarm.PruneSecrets(ctx, manager, project, keep)
		if err != nil || len(removed) != 0 {
			t.Fatalf("prune while the service uses %s: removed %+v, %v; want nothing", v1.Name, removed, err)
		}
		assertSecretNames(t, manager, project, v1.Name, v2.Name)

		if err := manager.ServiceRemove(ctx, svc.ID); err != nil {
			t.Fatal(err)
		}
		serviceUp = false
		removed, err = swarm.PruneSecrets(ctx, manager, project, keep)
		if err != nil || len(removed) != 1 || removed[0].Name != v1.Name {
			t.Fatalf("prune once unused: removed %+v, %v; want %s", removed, err, v1.Name)
		}
		assertSecretNames(t, manager, project, v2.Name)
		if removed, err = swarm.PruneSecrets(ctx, manager, project, nil); err != nil || len(removed) != 1 {
			t.Fatalf("prune all: removed %+v, %v", removed, err)
		}
	})
}

func connectEngine(t *testing.T, host string) *engineconn.Client {
	t.Helper()
	c, err := engineconn.Connect(context.Background(), engineconn.ConnectOptions{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// importUniqueImage makes an image of one file of random content on the
// engine, so that no other engine can have it, and returns its ID.
func importUniqueImage(t *testing.T, e *engineconn.Client) string {
	t.Helper()
	ctx := context.Background()
	nonce := randomHex(16)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "nonce", Mode: 0o644, Size: int64(len(nonce)), Typeflag: tar.TypeReg})
	io.WriteString(tw, nonce)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	ref := "swdeploy-e2e/swarmcopy:" + nonce[:12]
	rc, err := e.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	img, err := e.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	return img.ID
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func sameCopies(got, want []swarm.Copy) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Node != want[i].Node || got[i].Copied != want[i].Copied || got[i].NodeID == "" {
			return false
		}
	}
	return true
}

func secretVersion(t *testing.T, project, name, value string) swarm.SecretVersion {
	t.Helper()
	v, err := swarm.NewSecretVersion(project, name, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// secretProbeService is one swarmprobe task with the secret mounted.
func secretProbeService(project, probe string, secret swarm.SecretVersion) dockerswarm.ServiceSpec {
	replicas := uint64(1)
	return dockerswarm.ServiceSpec{
		Annotations: dockerswarm.Annotations{Name: project + "_probe", Labels: map[string]string{swarm.LabelProject: project}},
		TaskTemplate: dockerswarm.TaskSpec{ContainerSpec: &dockerswarm.ContainerSpec{
			Image: probe,
			Args:  []string{"serve", "8080"},
			Secrets: []*dockerswarm.SecretReference{{
				File:       &dockerswarm.SecretReferenceFileTarget{Name: secret.Secret, UID: "0", GID: "0", Mode: 0o400},
				SecretID:   secret.ID,
				SecretName: secret.Name,
			}},
		}},
		Mode:         dockerswarm.ServiceMode{Replicated: &dockerswarm.ReplicatedService{Replicas: &replicas}},
		EndpointSpec: &dockerswarm.EndpointSpec{Mode: dockerswarm.ResolutionModeDNSRR},
	}
}

func assertSecretNames(t *testing.T, m swarm.Manager, project string, want ...string) {
	t.Helper()
	have, err := swarm.ListSecrets(context.Background(), m, project)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range have {
		names = append(names, v.Name)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("secrets of %s: %v, want %v", project, names, want)
	}
}
