package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/fathat101/swdeploy/deployer"
	"github.com/fathat101/swdeploy/deployer/engineconn"
)

// fakeEngine answers the engine's read calls from canned observed state.
// The commands tested here only observe; any other call reaches the nil
// embedded interface and panics, which fails the test loudly.
type fakeEngine struct {
	deployer.Engine
	containers []container.Summary
	images     map[string]image.InspectResponse
}

func (f *fakeEngine) ServerVersion(context.Context) (types.Version, error) {
	return types.Version{Version: "28.3.0", APIVersion: "1.51", Os: "linux", Arch: "amd64"}, nil
}

func (f *fakeEngine) ClientVersion() string { return "1.51" }

func (f *fakeEngine) ContainerList(_ context.Context, opts container.ListOptions) ([]container.Summary, error) {
	var out []container.Summary
	for _, c := range f.containers {
		match := true
		for _, l := range opts.Filters.Get("label") {
			k, v, _ := strings.Cut(l, "=")
			match = match && c.Labels[k] == v
		}
		if match {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	for _, c := range f.containers {
		if c.ID == id {
			return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: id, State: &container.State{Status: c.State, StartedAt: "2026-01-02T03:04:05Z"}}}, nil
		}
	}
	return container.InspectResponse{}, errdefs.NotFound(errors.New("no such container"))
}

func (f *fakeEngine) NetworkList(context.Context, network.ListOptions) ([]network.Summary, error) {
	return nil, nil
}

func (f *fakeEngine) VolumeList(context.Context, volume.ListOptions) (volume.ListResponse, error) {
	return volume.ListResponse{}, nil
}

func (f *fakeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if img, ok := f.images[ref]; ok {
		return img, nil
	}
	return image.InspectResponse{}, errdefs.NotFound(errors.New("no such image"))
}

const oneService = `name: demo
services:
  cache:
    image: redis:7-alpine
`

// run runs swdeploy with a Compose file and an engine, and returns the
// exit code and both outputs.
func run(t *testing.T, compose string, eng deployer.Engine, connectErr error, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	deps := Deps{
		Streams: IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		WorkDir: dir,
		Connect: func(context.Context, engineconn.ConnectOptions) (deployer.Engine, error) {
			if connectErr != nil {
				return nil, connectErr
			}
			return eng, nil
		},
		Secrets: deployer.SecretSources{
			LookupEnv: func(string) (string, bool) { return "", false },
			ReadFile:  os.ReadFile,
			Random:    rand.NewChaCha8([32]byte{}),
		},
	}
	code := Main(context.Background(), deps, append([]string{"-f", file, "--progress", "quiet"}, args...))
	return code, out.String(), errOut.String()
}

func TestPlanDetailedExitCode(t *testing.T) {
	eng := &fakeEngine{images: map[string]image.InspectResponse{"redis:7-alpine": {ID: "sha256:r"}}}
	code, out, errOut := run(t, oneService, eng, nil, "plan", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, "create container demo-cache-1 (missing)") {
		t.Errorf("changes pending: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if code, _, errOut := run(t, oneService, eng, nil, "plan"); code != 0 {
		t.Errorf("without --detailed-exitcode: exit %d: %s", code, errOut)
	}
	code, out, errOut = run(t, "name: demo\nservices: {}\n", eng, nil, "plan", "--detailed-exitcode")
	if code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("nothing to do: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestTargetFlag(t *testing.T) {
	eng := &fakeEngine{images: map[string]image.InspectResponse{"redis:7-alpine": {ID: "sha256:r"}}}
	code, _, errOut := run(t, oneService, eng, nil, "--target", "cluster", "plan")
	if code != 2 || !strings.Contains(errOut, `--target "cluster": want engine or swarm`) {
		t.Errorf("--target cluster: exit %d, stderr:\n%s", code, errOut)
	}
	code, out, errOut := run(t, oneService, eng, nil, "--target", "engine", "plan", "--format", "json")
	if code != 0 || !strings.Contains(out, `"target": "engine"`) || !strings.Contains(errOut, "Target: engine") {
		t.Errorf("--target engine: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestPlanJSON(t *testing.T) {
	eng := &fakeEngine{images: map[string]image.InspectResponse{"redis:7-alpine": {ID: "sha256:r"}}}
	code, out, errOut := run(t, oneService, eng, nil, "plan", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p struct {
		Project string            `json:"project"`
		Actions []deployer.Action `json:"actions"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if p.Project != "demo" || len(p.Actions) == 0 {
		t.Errorf("plan %+v", p)
	}
	for _, a := range p.Actions {
		if a.Op == "" || a.Kind == "" || a.Reason == "" {
			t.Errorf("action without op, kind or reason: %+v", a)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	eng := &fakeEngine{containers: []container.Summary{{
		ID: "c1", Names: []string{"/demo-cache-1"}, Image: "redis:7-alpine", State: "running", Status: "Up 2 minutes (healthy)",
		Labels: map[string]string{deployer.LabelProject: "demo", deployer.LabelService: "cache", deployer.LabelContainerNumber: "1"},
		Ports:  []container.Port{{IP: "127.0.0.1", PrivatePort: 6379, PublicPort: 6379, Type: "tcp"}},
	}, {
		ID: "o1", Names: []string{"/other-x-1"}, State: "running",
		Labels: map[string]string{deployer.LabelProject: "other", deployer.LabelService: "x"},
	}}}
	code, out, errOut := run(t, oneService, eng, nil, "status", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var s struct {
		SchemaVersion int                      `json:"schema_version"`
		Project       string                   `json:"project"`
		Containers    []deployer.ServiceStatus `json:"containers"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	want := deployer.ServiceStatus{Service: "cache", Container: "demo-cache-1", State: "running", Health: "healthy", Image: "redis:7-alpine", Ports: []string{"127.0.0.1:6379->6379/tcp"}, Status: "Up 2 minutes (healthy)"}
	if s.SchemaVersion != 1 || s.Project != "demo" || len(s.Containers) != 1 {
		t.Fatalf("status %+v", s)
	}
	got := s.Containers[0]
	got.StartedAt = want.StartedAt
	if got.Service != want.Service || got.Container != want.Container || got.Health != want.Health || strings.Join(got.Ports, ",") != strings.Join(want.Ports, ",") {
		t.Errorf("container %+v, want %+v", got, want)
	}
}

func TestExitCodes(t *testing.T) {
	eng := &fakeEngine{}
	for _, tc := range []struct {
		name       string
		compose    string
		connectErr error
		args       []string
		code       int
		stderr     string
	}{
		{"unknown flag", oneService, nil, []string{"plan", "--nope"}, ExitUsage, "unknown flag"},
		{"bad plan format", oneService, nil, []string{"plan", "--format", "yaml"}, ExitUsage, "--format"},
		{"bad up format", oneService, nil, []string{"up", "--format", "yaml"}, ExitUsage, "want text or json"},
		{"bad pull policy", oneService, nil, []string{"up", "--pull", "sometimes"}, ExitUsage, "--pull"},
		{"bad progress", oneService, nil, []string{"--progress", "fancy", "up"}, ExitUsage, "--progress"},
		{"bad status format", oneService, nil, []string{"status", "--format", "xml"}, ExitUsage, "--format"},
		{"extra argument", oneService, nil, []string{"plan", "extra"}, ExitUsage, "unknown command"},
		{"unknown command", oneService, nil, []string{"nope"}, ExitUsage, `unknown command "nope"`},
		{"rotate without a name", oneService, nil, []string{"secrets", "rotate"}, ExitUsage, "arg"},
		{"broken compose file", "name: demo\nservices:\n  cache:\n    image: [1\n", nil, []string{"plan"}, ExitUsage, "compose.yaml"},
		{"engine unreachable", oneService, errors.New("cannot reach the Docker engine at tcp://127.0.0.1:1: connection refused"), []string{"plan"}, ExitFailure, "swdeploy: cannot reach the Docker engine"},
		{"bad engine configuration", oneService, &engineconn.ConfigError{Msg: "--context and --host: choose one"}, []string{"status"}, ExitUsage, "choose one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, tc.compose, eng, tc.connectErr, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d, want %d; stderr %q, want it to contain %q", code, tc.code, errOut, tc.stderr)
			}
		})
	}
}
