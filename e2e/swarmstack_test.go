package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
)

// The lab's manager is node1 at .11 of the lab's subnet; edge publishes
// the API there, in host mode.
const swarmEdge = "10.213.0.11"

// newSwarmDeployment is the stack on the lab's swarm, through the CLI with
// --target swarm: the manager's engine and every node's.
func newSwarmDeployment(t *testing.T, lab *swarmLab) *deployment {
	t.Helper()
	d := &deployment{
		t: t, project: "swe2e" + randomHex(3), port: 5003, host: swarmEdge, dir: repoRoot(),
		files:  []string{"stack/compose.yaml", "e2e/testdata/swapi.yaml", "e2e/testdata/swarm.yaml"},
		global: []string{"--target", "swarm", "-H", lab.manager},
	}
	d.env = []string{"STARWARS_PUBLISHED_PORT=5003", "SWDEPLOY_SECRET_ADMIN_PASSWORD=" + swarmAdminPassword, "STARWARS_SWAPI_URL=http://swapi:8000/api/", "SWDEPLOY_NODE_HOSTS=" + strings.Join(lab.nodes[1:], ",")}
	return d
}

// swarmAdminPassword is an operator-given secret value, looked for where no
// value may be.
const swarmAdminPassword = "Operator-Given-Value-7f3a9c"

// swarmStatus is `status --format json` on the swarm target.
type swarmStatus struct {
	Target   string `json:"target"`
	Services []struct {
		Service  string `json:"service"`
		Replicas string `json:"replicas"`
		Tasks    []struct {
			Node    string `json:"node"`
			State   string `json:"state"`
			Desired string `json:"desired_state"`
			Health  string `json:"health"`
		} `json:"tasks"`
	} `json:"services"`
}

func (d *deployment) swarmStatus(t *testing.T) swarmStatus {
	t.Helper()
	out := d.must("status", "--format", "json")
	var st swarmStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	return st
}

// apiNodes are the nodes running a healthy API task.
func (s swarmStatus) apiNodes() []string {
	var out []string
	for _, svc := range s.Services {
		if svc.Service != "api" {
			continue
		}
		for _, tk := range svc.Tasks {
			if tk.State == "running" && tk.Desired == "running" && tk.Health == "healthy" {
				out = append(out, tk.Node)
			}
		}
	}
	slices.Sort(out)
	return out
}

// serviceVersions are the project's services' spec versions on the
// manager: an update, even to the same spec, raises one.
func serviceVersions(t *testing.T, lab *swarmLab, project string) map[string]uint64 {
	t.Helper()
	list, err := connectEngine(t, lab.manager).ServiceList(context.Background(), dockerswarm.ServiceListOptions{
		Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, s := range list {
		out[s.Spec.Name] = s.Version.Index
	}
	return out
}

// TestSwarmStack is the swarm target end to end on a three-node lab whose
// images are on the manager only: a cold up that builds there and copies
// to the workers, the API flow through edge, a no-op up, a rolling update
// with a client loop, a broken update rolled back, a secret rotation, a
// worker killed under load, and down --volumes leaving nothing.
func TestSwarmStack(t *testing.T) {
	lab := startSwarmLab(t, 3)
	swarmLabScript(t, "load", "--node", "node1", "swdeploy-offline/mysql:8.4", "swdeploy-offline/redis:7", "swdeploy-offline/golang:1.26", swapiImage)
	d := newSwarmDeployment(t, lab)
	ctx := context.Background()

	// Not a manager: one line, exit 1.
	if _, errOut, code := d.swdWith([]string{"--target", "swarm", "-H", lab.nodes[1]}, "plan"); code != 1 || !strings.Contains(errOut, "not a manager") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Errorf("plan against a worker: exit %d, want 1 and one line:\n%s", code, errOut)
	}

	start := time.Now()
	out, errOut, code := d.swd("up")
	cold := time.Since(start)
	if code != 0 {
		t.Fatalf("cold up: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("cold up on 3 nodes (build on the manager, copies to the workers): %.1fs", cold.Seconds())
	t.Logf("FIGURE swarm cold up: %.1fs", cold.Seconds())
	st := d.swarmStatus(t)
	if st.Target != "swarm" || len(st.apiNodes()) != 3 {
		t.Fatalf("want 3 healthy api tasks, status:\n%+v", st)
	}
	if nodes := slices.Compact(st.apiNodes()); len(nodes) < 2 {
		t.Errorf("api tasks all on %v: want them spread", nodes)
	}

	t.Run("no secret value in inspect output", func(t *testing.T) {
		m := connectEngine(t, lab.manager)
		f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+d.project))
		services, _ := m.ServiceList(ctx, dockerswarm.ServiceListOptions{Filters: f})
		secrets, _ := m.SecretList(ctx, dockerswarm.SecretListOptions{Filters: f})
		nodes, _ := m.NodeList(ctx, dockerswarm.NodeListOptions{})
		raw, err := json.Marshal([]any{services, secrets, nodes})
		if err != nil || len(services) == 0 || len(secrets) == 0 {
			t.Fatalf("%d services, %d secrets: %v", len(services), len(secrets), err)
		}
		if strings.Contains(string(raw), swarmAdminPassword) {
			t.Errorf("a secret value is in the services', secrets' or nodes' inspect output")
		}
	})

	email, password := "leia@example.com", "Alderaan1977"
	signUpAndVerify(t, d, email, password)
	token := login(t, d, email, password)
	if code, films := call(t, "GET", d.url("/films/v1/"), token, nil); code != 200 || films["count"] != float64(6) {
		t.Fatalf("films: %d %v", code, films)
	}

	t.Run("no-op up changes nothing", func(t *testing.T) {
		before := serviceVersions(t, lab, d.project)
		if _, _, code := d.swd("plan", "--detailed-exitcode"); code != 0 {
			out, _, _ := d.swd("plan")
			t.Fatalf("plan after up: exit %d, want 0\n%s", code, out)
		}
		_, errOut, code := d.swd("up")
		if code != 0 || !strings.Contains(errOut, "up to date") {
			t.Fatalf("no-op up: %d\n%s", code, errOut)
		}
		if after := serviceVersions(t, lab, d.project); !maps.Equal(before, after) {
			t.Errorf("service versions moved: %v -> %v", before, after)
		}
	})

	t.Run("api rolling update drops no request", func(t *testing.T) {
		d.env = append(d.env, "STARWARS_SMTP_FROM=rollout-1@example.com")
		stop, _ := requestLoop(d, token)
		time.Sleep(time.Second)
		out := d.must("up", "--yes")
		time.Sleep(time.Second)
		ok, failed, samples := stop()
		t.Logf("FIGURE swarm api rollout: %d requests, %d failed %v", ok+failed, failed, samples)
		if failed != 0 || ok < 50 {
			t.Fatalf("want zero failed requests of many, got %d failed, %d ok\n%s", failed, ok, out)
		}
	})

	t.Run("a broken api is rolled back", func(t *testing.T) {
		d.env = append(d.env, "STARWARS_REDIS_PORT=not-a-port")
		_, errOut, code := d.swd("up", "--yes", "--wait-timeout", "3m")
		d.env = d.env[:len(d.env)-1]
		if code != 1 || !strings.Contains(errOut, "rolled back") {
			t.Fatalf("want exit 1 with a rollback, got %d:\n%s", code, errOut)
		}
		t.Logf("broken update: %s", errOut)
		if code, _ := call(t, "GET", d.url("/films/v1/1"), token, nil); code != 200 {
			t.Fatalf("the previous api does not serve after the rollback: %d", code)
		}
	})

	t.Run("a rotated secret moves the services and the old version goes", func(t *testing.T) {
		before := secretNames(t, lab, d.project, "jwt_access_secret")
		d.must("secrets", "rotate", "jwt_access_secret", "--yes")
		after := secretNames(t, lab, d.project, "jwt_access_secret")
		if len(before) != 1 || len(after) != 1 || before[0] == after[0] {
			t.Fatalf("jwt_access_secret versions: before %v, after %v; want one each, different", before, after)
		}
		if code, _ := call(t, "GET", d.url("/films/v1/1"), token, nil); code != 401 {
			t.Errorf("a token signed with the rotated secret: %d, want 401", code)
		}
		token = login(t, d, email, password)
	})

	t.Run("with a registry the image is pushed and pulled by digest", func(t *testing.T) {
		reg := startLabRegistry(t, registryBinary(t))
		ref := reg.host + "/starwars-api:e2e"
		// The image up built, under the registry's name: pushed, not built again.
		if err := connectEngine(t, lab.manager).ImageTag(ctx, "starwars-api:latest", ref); err != nil {
			t.Fatal(err)
		}
		override := filepath.Join(t.TempDir(), "registry.yaml")
		if err := os.WriteFile(override, []byte("services:\n  api:\n    image: "+ref+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		files, env := d.files, d.env
		d.files = append(slices.Clone(files), override)
		d.env = append(slices.Clone(env), "DOCKER_CONFIG="+reg.dockerConfig)
		defer func() { d.files, d.env = files, env }()
		plan := d.must("plan")
		if !strings.Contains(plan, "push image "+ref) || strings.Contains(plan, "build image") {
			t.Fatalf("want a push and no build:\n%s", plan)
		}
		d.must("up", "--yes")
		svc, _, err := connectEngine(t, lab.manager).ServiceInspectWithRaw(ctx, d.project+"_api", dockerswarm.ServiceInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img := svc.Spec.TaskTemplate.ContainerSpec.Image; !strings.HasPrefix(img, reg.host+"/starwars-api@sha256:") {
			t.Fatalf("api runs %s, want %s by digest", img, reg.host+"/starwars-api")
		}
		if code, _ := call(t, "GET", d.url("/films/v1/1"), token, nil); code != 200 {
			t.Fatalf("films after the move to the registry image: %d", code)
		}
		if _, _, code := d.swd("plan", "--detailed-exitcode"); code != 0 {
			t.Errorf("plan after the registry up: exit %d, want 0 (nothing to push again)", code)
		}
	})

	t.Run("a worker dies under load", func(t *testing.T) {
		victim := ""
		for _, n := range d.swarmStatus(t).apiNodes() {
			if n != "swlab-node1" {
				victim = n
			}
		}
		if victim == "" {
			t.Fatal("no api task on a worker")
		}
		stop, _ := requestLoop(d, token)
		time.Sleep(time.Second)
		killed := time.Now()
		swarmLabScript(t, "kill", strings.TrimPrefix(victim, "swlab-"))
		var rescheduled time.Duration
		for time.Since(killed) < 3*time.Minute {
			nodes := d.swarmStatus(t).apiNodes()
			if len(nodes) == 3 && !slices.Contains(nodes, victim) {
				rescheduled = time.Since(killed)
				break
			}
			time.Sleep(time.Second)
		}
		time.Sleep(time.Second)
		ok, failed, samples := stop()
		t.Logf("FIGURE swarm node failure (%s killed): %d requests, %d failed %v; 3 api tasks again after %.1fs", victim, ok+failed, failed, samples, rescheduled.Seconds())
		if rescheduled == 0 {
			t.Errorf("the api tasks of %s were not rescheduled within 3 minutes", victim)
		}
		if failed > (ok+failed)/100 {
			t.Errorf("%d of %d requests failed while a worker died: want at most 1%%", failed, ok+failed)
		}
		swarmLabScript(t, "start", strings.TrimPrefix(victim, "swlab-"))
	})

	t.Run("down --volumes leaves nothing", func(t *testing.T) {
		d.must("down", "--volumes")
		m := connectEngine(t, lab.manager)
		f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+d.project))
		if list, _ := m.ServiceList(ctx, dockerswarm.ServiceListOptions{Filters: f}); len(list) != 0 {
			t.Errorf("services left: %d", len(list))
		}
		if list, _ := m.SecretList(ctx, dockerswarm.SecretListOptions{Filters: f}); len(list) != 0 {
			t.Errorf("secrets left: %d", len(list))
		}
		if list, _ := m.NetworkList(ctx, network.ListOptions{Filters: f}); len(list) != 0 {
			t.Errorf("networks left: %d", len(list))
		}
		for _, host := range lab.nodes {
			if vs, err := connectEngine(t, host).VolumeList(ctx, volume.ListOptions{Filters: f}); err != nil || len(vs.Volumes) != 0 {
				t.Errorf("%s: volumes left: %v %v", host, vs.Volumes, err)
			}
		}
		nodes, _ := m.NodeList(ctx, dockerswarm.NodeListOptions{})
		for _, n := range nodes {
			for k := range n.Spec.Labels {
				if strings.HasPrefix(k, d.project+".") {
					t.Errorf("node %s keeps label %s", n.Description.Hostname, k)
				}
			}
		}
	})
}

// secretNames are the swarm secrets of one of the project's secrets.
func secretNames(t *testing.T, lab *swarmLab, project, secret string) []string {
	t.Helper()
	list, err := connectEngine(t, lab.manager).SecretList(context.Background(), dockerswarm.SecretListOptions{
		Filters: filters.NewArgs(filters.Arg("label", "io.swdeploy.secret="+secret), filters.Arg("label", "com.docker.compose.project="+project))})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range list {
		out = append(out, s.Spec.Name)
	}
	slices.Sort(out)
	return out
}
