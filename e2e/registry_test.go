package e2e

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/registry"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/fathat101/swdeploy/deployer/engineconn"
	"github.com/fathat101/swdeploy/deployer/swarm"
)

// TestSwarmRegistryPush: an image that only the manager has is pushed from
// the manager's engine to a real registry (TLS, htpasswd) with the
// credentials of a docker config, as the swarm target's registry path
// does; a service names it by the digest the push gave, with the encoded
// credentials, and its tasks run on the two workers, which pulled it. A
// push without credentials or with a wrong password fails, naming the
// registry.
func TestSwarmRegistryPush(t *testing.T) {
	bin := registryBinary(t)
	lab := startSwarmLab(t, 3)
	reg := startLabRegistry(t, bin)
	ctx := context.Background()
	manager := connectEngine(t, lab.manager)
	workers := []*engineconn.Client{connectEngine(t, lab.nodes[1]), connectEngine(t, lab.nodes[2])}

	probe := buildProbeImage(t)
	loadIntoEngine(t, manager, probe)
	ref := reg.host + "/swdeploy-probe:test"
	if err := manager.ImageTag(ctx, probe, ref); err != nil {
		t.Fatal(err)
	}
	host, ok := swarm.RegistryHost(ref)
	if !ok || host != reg.host {
		t.Fatalf("RegistryHost(%s) = %q, %v", ref, host, ok)
	}

	t.Run("anonymous push fails", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", t.TempDir()) // no config.json: anonymous
		auth, err := swarm.Credentials(ctx, host)
		if err != nil || auth != (registry.AuthConfig{}) {
			t.Fatalf("credentials from an empty config: %+v, %v", auth, err)
		}
		_, err = swarm.Push(ctx, manager, ref, auth)
		if err == nil || !strings.Contains(err.Error(), "registry "+reg.host) || !strings.Contains(err.Error(), "docker login "+reg.host) {
			t.Fatalf("anonymous push: %v; want an error naming the registry and the login", err)
		}
		t.Logf("anonymous: %v", err)
		_, err = swarm.Push(ctx, manager, ref, registry.AuthConfig{Username: reg.user, Password: "not-" + reg.password})
		if err == nil || !strings.Contains(err.Error(), "registry "+reg.host) || !strings.Contains(err.Error(), "as user "+reg.user) {
			t.Fatalf("push with a wrong password: %v; want an error naming the registry and the user", err)
		}
		t.Logf("wrong password: %v", err)
	})

	t.Setenv("DOCKER_CONFIG", reg.dockerConfig)
	auth, err := swarm.Credentials(ctx, host)
	if err != nil || auth.Username != reg.user || auth.Password != reg.password {
		t.Fatalf("credentials from the test's docker config: user %q, %v", auth.Username, err)
	}
	start := time.Now()
	pushed, err := swarm.Push(ctx, manager, ref, auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pushed %s in %.2fs", pushed, time.Since(start).Seconds())
	name, digest, _ := strings.Cut(pushed, "@")
	if name != reg.host+"/swdeploy-probe" || !strings.HasPrefix(digest, "sha256:") || len(digest) != 71 {
		t.Fatalf("pushed %q, want %s/swdeploy-probe@sha256:<64 hex>", pushed, reg.host)
	}
	// The registry holds that manifest under the tag.
	code, header, err := reg.get("/v2/swdeploy-probe/manifests/test", true,
		"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json")
	if err != nil || code != http.StatusOK || header.Get("Docker-Content-Digest") != digest {
		t.Fatalf("the registry's manifest for :test: %d %s %v; want %s", code, header.Get("Docker-Content-Digest"), err, digest)
	}

	for i, w := range workers {
		if _, err := w.ImageInspect(ctx, pushed); !errdefs.IsNotFound(err) {
			t.Fatalf("worker %s has %s before any pull: %v", lab.nodes[i+1], pushed, err)
		}
	}

	encoded, err := registry.EncodeAuthConfig(auth)
	if err != nil {
		t.Fatal(err)
	}
	replicas := uint64(2)
	start = time.Now()
	created, err := manager.ServiceCreate(ctx, dockerswarm.ServiceSpec{
		Annotations: dockerswarm.Annotations{Name: "swregistry" + randomHex(4)},
		TaskTemplate: dockerswarm.TaskSpec{
			ContainerSpec: &dockerswarm.ContainerSpec{Image: pushed, Args: []string{"serve", "8080"}},
			Placement:     &dockerswarm.Placement{Constraints: []string{"node.role==worker"}, MaxReplicas: 1},
		},
		Mode:         dockerswarm.ServiceMode{Replicated: &dockerswarm.ReplicatedService{Replicas: &replicas}},
		EndpointSpec: &dockerswarm.EndpointSpec{Mode: dockerswarm.ResolutionModeDNSRR},
	}, dockerswarm.ServiceCreateOptions{EncodedRegistryAuth: encoded})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { manager.ServiceRemove(ctx, created.ID) })

	running := waitRunningTasks(t, manager, created.ID, 2, 60*time.Second)
	t.Logf("2 tasks running %.2fs after the service was created", time.Since(start).Seconds())

	nodes, err := manager.NodeList(ctx, dockerswarm.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hostname := map[string]string{}
	for _, n := range nodes {
		hostname[n.ID] = n.Description.Hostname
	}
	var on []string
	for _, task := range running {
		on = append(on, hostname[task.NodeID])
		if task.Spec.ContainerSpec.Image != pushed {
			t.Errorf("task on %s runs %s, want %s", hostname[task.NodeID], task.Spec.ContainerSpec.Image, pushed)
		}
	}
	slices.Sort(on)
	if !slices.Equal(on, []string{"swlab-node2", "swlab-node3"}) {
		t.Errorf("tasks run on %v, want the two workers", on)
	}
	// Each worker pulled the image from the registry: it has it now, with
	// the registry's digest.
	for i, w := range workers {
		img, err := w.ImageInspect(ctx, pushed)
		if err != nil {
			t.Errorf("worker %s after the tasks started: %v", lab.nodes[i+1], err)
		} else if !slices.Contains(img.RepoDigests, pushed) {
			t.Errorf("worker %s has the image with repo digests %v, want %s", lab.nodes[i+1], img.RepoDigests, pushed)
		}
	}
}

// loadIntoEngine copies an image from the host engine into another engine
// only (swarmLab.load loads every node).
func loadIntoEngine(t *testing.T, to *engineconn.Client, ref string) {
	t.Helper()
	ctx := context.Background()
	rc, err := engine.ImageSave(ctx, []string{ref})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	resp, err := to.ImageLoad(ctx, rc, client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := to.ImageInspect(ctx, ref); err != nil {
		t.Fatalf("%s after the load: %v", ref, err)
	}
}

// waitRunningTasks waits for n running tasks of a service and returns
// them; on timeout it fails with every task's state and error.
func waitRunningTasks(t *testing.T, m *engineconn.Client, serviceID string, n int, timeout time.Duration) []dockerswarm.Task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tasks, err := m.TaskList(context.Background(), dockerswarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", serviceID))})
		if err != nil {
			t.Fatal(err)
		}
		var running []dockerswarm.Task
		for _, task := range tasks {
			if task.Status.State == dockerswarm.TaskStateRunning && task.DesiredState == dockerswarm.TaskStateRunning {
				running = append(running, task)
			}
		}
		if len(running) == n {
			return running
		}
		if time.Now().After(deadline) {
			var states []string
			for _, task := range tasks {
				states = append(states, string(task.Status.State)+" "+task.Status.Err)
			}
			t.Fatalf("%d of %d tasks running after %s: %q", len(running), n, timeout, states)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
