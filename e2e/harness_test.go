package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/fathat101/swdeploy/api/swapi/local"
)

const swapiImage = "swdeploy-test/swapi-local:latest"

var (
	binary string         // the swdeploy binary under test
	engine *client.Client // for checks the CLI does not make
)

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "swdeploy-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := setup(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		return 1
	}
	return m.Run()
}

func setup(tmp string) error {
	binary = filepath.Join(tmp, "swdeploy")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build swdeploy: %v\n%s", err, out)
	}
	var err error
	engine, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, ref := range []string{"swdeploy-offline/mysql:8.4", "swdeploy-offline/redis:7", "swdeploy-offline/golang:1.26"} {
		if _, err := engine.ImageInspect(ctx, ref); err != nil {
			return fmt.Errorf("image %s is missing: run `make offline-images` first (%v)", ref, err)
		}
	}
	return buildSwapiImage(ctx, tmp)
}

// buildSwapiImage packs a static swapi-local and the SWAPI data set built
// into package local (as /data, which testdata/swapi.yaml serves) into an
// image, imported directly: no registry, no base.
func buildSwapiImage(ctx context.Context, tmp string) error {
	bin := filepath.Join(tmp, "swapi-local")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./api/cmd/swapi-local")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build swapi-local: %v\n%s", err, out)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, fsys fs.FS, src string, mode int64) error {
		b, err := fs.ReadFile(fsys, src)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	}
	if err := add("swapi-local", os.DirFS(tmp), "swapi-local", 0o755); err != nil {
		return err
	}
	files, err := fs.Glob(local.Data, "*.json")
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no built-in SWAPI data set: %v", err)
	}
	for _, f := range files {
		if err := add("data/"+f, local.Data, f, 0o644); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	rc, err := engine.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, swapiImage,
		image.ImportOptions{Changes: []string{`ENTRYPOINT ["/swapi-local"]`, "USER 65534", "EXPOSE 8000"}})
	if err != nil {
		return fmt.Errorf("import %s: %w", swapiImage, err)
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// deployment is one project on the engine, driven through the CLI.
type deployment struct {
	t       *testing.T
	project string
	port    int
	dir     string   // where swdeploy runs
	files   []string // -f arguments
	env     []string
	host    string   // where the published port is; empty: 127.0.0.1
	global  []string // flags before the others (--target swarm -H ...)
}

// newDeployment returns a deployment of the checkout's stack plus the
// local SWAPI, with a fresh project name and free port. Everything the
// project created is removed when the test ends.
func newDeployment(t *testing.T) *deployment {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	d := &deployment{
		t: t, project: "swe2e" + hex.EncodeToString(b), port: freePort(t), dir: repoRoot(),
		files: []string{"stack/compose.yaml", "e2e/testdata/swapi.yaml"},
	}
	d.env = []string{
		fmt.Sprintf("STARWARS_PUBLISHED_PORT=%d", d.port),
		"STARWARS_SWAPI_URL=http://swapi:8000/api/",
	}
	t.Cleanup(func() { d.destroy() })
	return d
}

func (d *deployment) args(args ...string) []string {
	out := append(slices.Clone(d.global), "-p", d.project, "--env-file", filepath.Join(repoRoot(), "stack", "offline.env"))
	for _, f := range d.files {
		out = append(out, "-f", f)
	}
	return append(out, args...)
}

// swd runs swdeploy and returns its output and exit code.
func (d *deployment) swd(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	return d.swdWith(d.global, args...)
}

// swdWith runs swdeploy with other global flags.
func (d *deployment) swdWith(global []string, args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	saved := d.global
	d.global = global
	defer func() { d.global = saved }()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, d.args(args...)...)
	cmd.Dir = d.dir
	cmd.Env = append(os.Environ(), d.env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		d.t.Fatalf("swdeploy %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// must runs swdeploy and fails the test unless it exits 0.
func (d *deployment) must(args ...string) string {
	d.t.Helper()
	start := time.Now()
	out, errOut, code := d.swd(args...)
	if code != 0 {
		d.t.Fatalf("swdeploy %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	d.t.Logf("swdeploy %s: %.1fs", strings.Join(args, " "), time.Since(start).Seconds())
	return out
}

// destroy removes everything labelled with the project, whatever state the
// test left it in.
func (d *deployment) destroy() {
	d.dir = repoRoot() // a test's temporary directory may be gone by now
	if _, errOut, code := d.swd("down", "--volumes"); code != 0 {
		d.t.Logf("down: %s", errOut)
	}
	ctx := context.Background()
	engine.ContainerRemove(ctx, d.project+"-swdeploy-lock", container.RemoveOptions{Force: true})
	f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+d.project))
	cs, _ := engine.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	for _, c := range cs {
		engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
	ns, _ := engine.NetworkList(ctx, network.ListOptions{Filters: f})
	for _, n := range ns {
		engine.NetworkRemove(ctx, n.ID)
	}
	vs, _ := engine.VolumeList(ctx, volume.ListOptions{Filters: f})
	for _, v := range vs.Volumes {
		engine.VolumeRemove(ctx, v.Name, true)
	}
}

// containers maps each service to its container's id and start time.
func (d *deployment) containers() map[string]string {
	d.t.Helper()
	ctx := context.Background()
	cs, err := engine.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+d.project))})
	if err != nil {
		d.t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cs {
		if c.Labels["com.docker.compose.service"] == "" {
			continue // the kept-state holder or the lock: not a service's
		}
		insp, err := engine.ContainerInspect(ctx, c.ID)
		if err != nil {
			d.t.Fatal(err)
		}
		out[c.Labels["com.docker.compose.service"]] = c.ID + "@" + insp.State.StartedAt
	}
	return out
}

// readyz asks the API's /readyz from a throw-away container on the
// service network (the edge does not forward /readyz from the published
// port, and the host dials no container address), and returns the status
// line.
func (d *deployment) readyz() string {
	d.t.Helper()
	script := `exec 3<>/dev/tcp/starwars-api/5003 && printf 'GET /readyz HTTP/1.0\r\nHost: starwars-api\r\n\r\n' >&3 && head -n 1 <&3`
	out, err := exec.Command("docker", "run", "--rm", "--network", d.project+"_service-network", "--entrypoint", "bash",
		"swdeploy-offline/mysql:8.4", "-c", script).CombinedOutput()
	if err != nil {
		d.t.Fatalf("readyz from the service network: %v %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// ready says whether readyz answered 200.
func ready(statusLine string) bool { return strings.Contains(statusLine, " 200 ") }

func (d *deployment) url(path string) string {
	host := d.host
	if host == "" {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("http://%s:%d%s", host, d.port, path)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// call makes a JSON request and decodes the JSON answer.
func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// containerStatus is one row of `swdeploy status --format json`.
type containerStatus struct{ Service, State, Health string }

// status runs `swdeploy status --format json` and returns its rows and the
// raw output (for failure messages).
func (d *deployment) status(t *testing.T) ([]containerStatus, string) {
	t.Helper()
	out := d.must("status", "--format", "json")
	var st struct {
		Containers []containerStatus `json:"containers"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	return st.Containers, out
}
