package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"
)

// TestDockerStackFiles: stack/compose.yaml as `docker stack deploy` can
// read it (the version 3 schema: no top-level name, no profiles, depends_on
// a list) and an override that gives every service of every file DNS round
// robin and publishes the edge's port in host mode on the managers. Apart
// from that the file is unchanged, every change is named for the report,
// and the docker CLI loads the result.
func TestDockerStackFiles(t *testing.T) {
	main, err := os.ReadFile("../stack/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	swapi, err := os.ReadFile("testdata/stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sf, err := dockerStackFiles(main, swapi)
	if err != nil {
		t.Fatal(err)
	}
	var orig, conv struct {
		Name     string                    `yaml:"name"`
		Services map[string]map[string]any `yaml:"services"`
		Secrets  map[string]any            `yaml:"secrets"`
	}
	if err := yaml.Unmarshal(main, &orig); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(sf.Main, &conv); err != nil {
		t.Fatal(err)
	}
	if conv.Name != "" {
		t.Errorf("top-level name kept: %q", conv.Name)
	}
	if _, ok := conv.Services["swapi-local"]; ok {
		t.Error("the profiled service swapi-local is kept")
	}
	for name, svc := range orig.Services {
		if _, profiled := svc["profiles"]; profiled {
			continue
		}
		c, ok := conv.Services[name]
		if !ok {
			t.Errorf("service %s lost", name)
			continue
		}
		for k, v := range svc {
			if k == "depends_on" {
				continue
			}
			if !yamlEqual(t, v, c[k]) {
				t.Errorf("service %s: %s changed: %v -> %v", name, k, v, c[k])
			}
		}
		if deps, ok := svc["depends_on"].(map[string]any); ok {
			list, _ := c["depends_on"].([]any)
			if len(list) != len(deps) {
				t.Errorf("service %s: depends_on %v, want the list of %v", name, c["depends_on"], deps)
			}
			for _, d := range list {
				if _, ok := deps[d.(string)]; !ok {
					t.Errorf("service %s: depends_on names %v, not in %v", name, d, deps)
				}
			}
		}
	}
	if !yamlEqual(t, orig.Secrets, conv.Secrets) {
		t.Error("secrets changed")
	}
	for _, want := range []string{"name:", "swapi-local", "depends_on", "endpoint_mode: dnsrr", "host mode", "node.role == manager"} {
		if !strings.Contains(strings.Join(sf.Changes, "\n"), want) {
			t.Errorf("no change names %q:\n%s", want, strings.Join(sf.Changes, "\n"))
		}
	}

	// The docker CLI reads the files as `docker stack deploy` would.
	dir := t.TempDir()
	for _, n := range secretNames {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conv1, over := filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "override.yaml")
	os.WriteFile(conv1, sf.Main, 0o644)
	os.WriteFile(over, sf.Override, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "stack", "config", "-c", conv1, "-c", "testdata/stack.yaml", "-c", "testdata/swarm.yaml", "-c", over)
	cmd.Env = append(os.Environ(), "SWDEPLOY_SECRETS_DIR="+dir, "STARWARS_PUBLISHED_PORT=5004")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker stack config: %v\n%s", err, out)
	}
	var merged struct {
		Services map[string]struct {
			Deploy struct {
				EndpointMode string `yaml:"endpoint_mode"`
				Replicas     *int   `yaml:"replicas"`
				Placement    struct {
					Constraints []string `yaml:"constraints"`
				} `yaml:"placement"`
			} `yaml:"deploy"`
			Ports []struct {
				Mode      string `yaml:"mode"`
				Target    int    `yaml:"target"`
				Published int    `yaml:"published"`
			} `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(out, &merged); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, name := range []string{"edge", "api", "mysql", "redis", "cache", "swapi"} {
		s, ok := merged.Services[name]
		if !ok {
			t.Errorf("service %s missing from docker stack config", name)
			continue
		}
		if s.Deploy.EndpointMode != "dnsrr" {
			t.Errorf("service %s: endpoint_mode %q, want dnsrr", name, s.Deploy.EndpointMode)
		}
	}
	edge := merged.Services["edge"]
	if len(edge.Ports) != 1 || edge.Ports[0].Mode != "host" || edge.Ports[0].Target != 5003 || edge.Ports[0].Published != 5004 {
		t.Errorf("edge ports %+v, want 5004:5003 in host mode only", edge.Ports)
	}
	if c := edge.Deploy.Placement.Constraints; len(c) != 1 || c[0] != "node.role == manager" {
		t.Errorf("edge constraints %v", c)
	}
	if r := merged.Services["api"].Deploy.Replicas; r == nil || *r != 3 {
		t.Errorf("api replicas %v, want 3 (testdata/swarm.yaml)", r)
	}
}

func yamlEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := yaml.Marshal(a)
	y, err2 := yaml.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// What `docker stack deploy` says about the files is the lines before it
// creates anything, a heading joined with what follows it, without the
// notice about --detach.
func TestLoaderMessages(t *testing.T) {
	out := "Ignoring unsupported options: build, restart, security_opt\n\nIgnoring deprecated options:\n\nexpose: Exposing ports is unnecessary.\n\n" +
		"Since --detach=false was not specified, tasks will be created in the background.\nIn a future release, --detach=false will become the default.\n" +
		"Creating network x_default\nCreating service x_api\n"
	want := "`Ignoring unsupported options: build, restart, security_opt`; `Ignoring deprecated options: expose: Exposing ports is unnecessary.`"
	if got := loaderMessages(out); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
