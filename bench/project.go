package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"go.yaml.in/yaml/v4"

	"github.com/fathat101/swdeploy/deployer"
)

// Compose is the compose command the harness compares swdeploy with.
type Compose struct {
	Argv    []string // e.g. [docker compose] or [docker-compose]
	Version string   // what `version` printed, first line
	V1      bool     // docker-compose 1.x: cannot read the top-level name: key, has no --wait
}

func (c Compose) String() string { return strings.Join(c.Argv, " ") }

// DetectCompose returns the compose commands to compare with: spec when
// given (a command line such as "docker-compose"), else the `docker
// compose` plugin when it answers with v2 or later, else `docker-compose`.
// The second, when there is one, is a docker-compose v1 found beside a v2+
// first (v1spec: its command line; "none" for no second).
func DetectCompose(ctx context.Context, spec, v1spec, repo string) (Compose, *Compose, error) {
	var first Compose
	if spec != "" {
		c, err := composeVersion(ctx, strings.Fields(spec), repo)
		if err != nil {
			return Compose{}, nil, fmt.Errorf("compose command %q does not answer `version`: %w", spec, err)
		}
		first = c
	} else if c, err := composeVersion(ctx, []string{"docker", "compose"}, repo); err == nil && !c.V1 {
		first = c
	} else if c, err := composeVersion(ctx, []string{"docker-compose"}, repo); err == nil {
		first = c
	} else {
		return Compose{}, nil, errors.New("neither `docker compose` nor `docker-compose` is installed (scripts/ci-deps.sh installs docker-compose)")
	}
	if first.V1 || v1spec == "none" {
		return first, nil, nil
	}
	argv := []string{"docker-compose"}
	if v1spec != "" {
		argv = strings.Fields(v1spec)
	}
	second, err := composeVersion(ctx, argv, repo)
	if err != nil || !second.V1 {
		if v1spec != "" {
			return Compose{}, nil, fmt.Errorf("compose v1 command %q: not docker-compose 1.x (%v)", v1spec, err)
		}
		return first, nil, nil
	}
	return first, &second, nil
}

// composeVersion asks argv for its version.
func composeVersion(ctx context.Context, argv []string, repo string) (Compose, error) {
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], "version")...)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Compose{}, err
	}
	first := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	v1 := regexp.MustCompile(`(?i)docker-compose version 1\.`).MatchString(first)
	return Compose{Argv: argv, Version: first, V1: v1}, nil
}

// Tool is who deploys a project.
type Tool string

const (
	ToolSwdeploy  Tool = "swdeploy"
	ToolCompose   Tool = "compose"    // the first compose command (v2+ when installed)
	ToolComposeV1 Tool = "compose-v1" // docker-compose v1 beside a v2+ first
)

// Project is one deployment of the stack (plus the swapi stand-in) on the
// engine, driven by one tool, with a name and published port of its own.
type Project struct {
	h      *Harness
	Tool   Tool
	Name   string
	Port   int
	Image  string            // the API image this project builds
	Images []string          // every image this project builds (API first)
	images string            // the Compose file that names them
	Env    map[string]string // more variables for the Compose file (STARWARS_SMTP_FROM, ...)

	// A project elsewhere than on the host engine (the swarm lab): the
	// flags before the others (--target swarm -H ...), more Compose files
	// after the stack's, and the address of the published port.
	Global []string
	Extra  []string
	Host   string
}

var projectSeq int

// NewProject returns a project that nothing exists of yet; Close removes
// whatever it created.
func (h *Harness) NewProject(tool Tool) (*Project, error) {
	return h.newProject(tool, map[Tool]string{ToolSwdeploy: "s", ToolCompose: "c", ToolComposeV1: "v"}[tool])
}

// newProject names the project swb<short><run id><sequence>.
func (h *Harness) newProject(tool Tool, short string) (*Project, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	projectSeq++
	p := &Project{h: h, Tool: tool, Port: port, Env: map[string]string{},
		Name: fmt.Sprintf("swb%s%s%02d", short, h.id, projectSeq)}
	h.projects = append(h.projects, p)
	h.mu.Unlock()
	if err := p.writeImagesFile(); err != nil {
		return nil, err
	}
	if c := p.compose(); c != nil && c.V1 {
		if err := h.writeV1File(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// compose is the compose command of the project's tool (nil for swdeploy).
func (p *Project) compose() *Compose {
	switch p.Tool {
	case ToolCompose:
		return &p.h.compose
	case ToolComposeV1:
		return p.h.composeV1
	}
	return nil
}

// writeV1File writes stack/compose.yaml without its top-level name: line
// next to the original (so that build.context: .. and the secrets' paths
// resolve the same), for docker-compose 1.x. Close deletes it.
func (h *Harness) writeV1File() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.v1File != "" {
		return nil
	}
	src, err := os.ReadFile(filepath.Join(h.cfg.Repo, "stack", "compose.yaml"))
	if err != nil {
		return err
	}
	var out []string
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "name:") {
			continue
		}
		out = append(out, line)
	}
	rel := filepath.Join("stack", ".compose-v1-"+h.id+".yaml")
	if err := os.WriteFile(filepath.Join(h.cfg.Repo, rel), []byte(strings.Join(out, "\n")), 0o644); err != nil {
		return err
	}
	h.v1File = rel
	h.cleanups = append(h.cleanups, func() { os.Remove(filepath.Join(h.cfg.Repo, rel)) })
	return nil
}

func (p *Project) files() []string {
	stackFile := "stack/compose.yaml"
	if c := p.compose(); c != nil && c.V1 {
		stackFile = p.h.v1File
	}
	return append(append([]string{stackFile, "bench/testdata/stack.yaml"}, p.Extra...), p.images)
}

// forget drops a project that is gone from the ones Close removes.
func (h *Harness) forget(p *Project) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, q := range h.projects {
		if q == p {
			h.projects = append(h.projects[:i], h.projects[i+1:]...)
			return
		}
	}
}

// writeImagesFile names an image of the project's own for every service of
// stack/compose.yaml that has a build section and is in no profile (the
// harness enables none).
func (p *Project) writeImagesFile() error {
	src, err := os.ReadFile(filepath.Join(p.h.cfg.Repo, "stack", "compose.yaml"))
	if err != nil {
		return err
	}
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return fmt.Errorf("stack/compose.yaml: %w", err)
	}
	var names []string
	for name, svc := range doc.Services {
		_, build := svc["build"]
		_, profiled := svc["profiles"]
		if build && !profiled {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i] == "api" || (names[j] != "api" && names[i] < names[j]) })
	if len(names) == 0 || names[0] != "api" {
		return errors.New("stack/compose.yaml: no api service with a build section")
	}
	var b strings.Builder
	b.WriteString("# Written by swbench: images of this project only.\nservices:\n")
	p.Images = nil
	for _, n := range names {
		ref := fmt.Sprintf("swbench/%s:%s", n, p.Name)
		p.Images = append(p.Images, ref)
		fmt.Fprintf(&b, "  %s:\n    image: %s\n", n, ref)
	}
	p.Image = p.Images[0]
	p.images = filepath.Join(p.h.tmp, "images-"+p.Name+".yaml")
	return os.WriteFile(p.images, []byte(b.String()), 0o644)
}

func (p *Project) env() []string {
	env := []string{
		fmt.Sprintf("STARWARS_PUBLISHED_PORT=%d", p.Port),
		"STARWARS_SWAPI_URL=http://swapi:8000/api/",
		"SWDEPLOY_SECRETS_DIR=" + p.h.secDir,
	}
	keys := make([]string, 0, len(p.Env))
	for k := range p.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+p.Env[k])
	}
	return env
}

// Cmd runs the project's tool with args after the global flags.
func (p *Project) Cmd(ctx context.Context, args ...string) (string, error) {
	global := p.globalArgs()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	if p.Tool == ToolSwdeploy {
		return p.h.run(ctx, p.env(), p.h.swd, append(global, args...)...)
	}
	argv := p.compose().Argv
	return p.h.run(ctx, p.env(), argv[0], append(append(append([]string{}, argv[1:]...), global...), args...)...)
}

// CmdSplit is Cmd with standard output apart from standard error
// (swdeploy only).
func (p *Project) CmdSplit(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	if p.Tool != ToolSwdeploy {
		return "", "", fmt.Errorf("CmdSplit: %s is not swdeploy", p.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	return p.h.runSplit(ctx, p.env(), p.h.swd, append(p.globalArgs(), args...)...)
}

// globalArgs are the tool's flags before the command: the project, the
// stand-ins' variables and the files.
func (p *Project) globalArgs() []string {
	global := append(append([]string{}, p.Global...), "-p", p.Name, "--env-file", "stack/offline.env")
	for _, f := range p.files() {
		global = append(global, "-f", f)
	}
	return global
}

// Up applies the file: `swdeploy up --yes`, `docker compose up -d --wait`
// (v2+), or `docker-compose up -d` (v1 cannot wait; UpHealthy polls).
func (p *Project) Up(ctx context.Context) (string, error) {
	return p.Cmd(ctx, p.UpArgs()...)
}

// UpArgs are the arguments of Up after the global flags.
func (p *Project) UpArgs() []string {
	if p.Tool == ToolSwdeploy {
		return []string{"up", "--yes"}
	}
	return composeUpArgs(*p.compose())
}

// UpHealthy runs Up and waits until every container of the project runs
// and is healthy; the time covers both.
func (p *Project) UpHealthy(ctx context.Context) (time.Duration, string, error) {
	start := time.Now()
	out, err := p.Up(ctx)
	if err != nil {
		return 0, out, err
	}
	if err := p.WaitHealthy(ctx, 5*time.Minute); err != nil {
		return 0, out, err
	}
	return time.Since(start), out, nil
}

// Down removes the project's containers and networks (volumes too when asked).
func (p *Project) Down(ctx context.Context, volumes bool) (time.Duration, error) {
	args := []string{"down"}
	if volumes {
		args = append(args, "--volumes")
	}
	start := time.Now()
	_, err := p.Cmd(ctx, args...)
	return time.Since(start), err
}

func (p *Project) filter() filters.Args {
	return filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+p.Name))
}

// Container is one container of the project as the engine sees it.
type Container struct {
	ID, Name, Service, State, Health string
	Pid                              int
	StartedAt                        string
	Networks                         map[string]string // network name -> address
}

// Containers returns the project's containers by service.
func (p *Project) Containers(ctx context.Context) (map[string]Container, error) {
	cs, err := p.h.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: p.filter()})
	if err != nil {
		return nil, err
	}
	out := map[string]Container{}
	for _, c := range cs {
		svc := c.Labels["com.docker.compose.service"]
		if svc == "" {
			continue // a keeper or probe container, not a service
		}
		insp, err := p.h.engine.ContainerInspect(ctx, c.ID)
		if err != nil {
			if client.IsErrNotFound(err) {
				continue
			}
			return nil, err
		}
		ct := Container{ID: c.ID, Name: strings.TrimPrefix(insp.Name, "/"), Service: svc, Networks: map[string]string{}}
		if insp.State != nil {
			ct.State, ct.Pid, ct.StartedAt = insp.State.Status, insp.State.Pid, insp.State.StartedAt
			if insp.State.Health != nil {
				ct.Health = insp.State.Health.Status
			}
		}
		if insp.NetworkSettings != nil {
			for n, ep := range insp.NetworkSettings.Networks {
				ct.Networks[n] = ep.IPAddress
			}
		}
		out[svc] = ct
	}
	return out, nil
}

// WaitHealthy polls until every container runs and each that has a health
// check is healthy.
func (p *Project) WaitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		cs, err := p.Containers(ctx)
		if err != nil {
			return err
		}
		ok := len(cs) > 0
		var states []string
		for svc, c := range cs {
			states = append(states, fmt.Sprintf("%s=%s/%s", svc, c.State, c.Health))
			if c.State != "running" || (c.Health != "" && c.Health != "healthy") {
				ok = false
			}
		}
		if ok {
			return nil
		}
		sort.Strings(states)
		last = strings.Join(states, " ")
		if time.Now().After(deadline) {
			return fmt.Errorf("project %s not healthy after %s: %s", p.Name, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Logs returns the service's log (stdout and stderr).
func (p *Project) Logs(ctx context.Context, service string) (string, error) {
	cs, err := p.Containers(ctx)
	if err != nil {
		return "", err
	}
	c, ok := cs[service]
	if !ok {
		return "", fmt.Errorf("no %s container in %s", service, p.Name)
	}
	rc, err := p.h.engine.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var o bytes.Buffer
	if _, err := stdcopy.StdCopy(&o, &o, rc); err != nil {
		return "", err
	}
	return o.String(), nil
}

// URL is the project's published port, on loopback unless Host says
// otherwise.
func (p *Project) URL() string {
	host := p.Host
	if host == "" {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("http://%s:%d", host, p.Port)
}

// RemoveImage removes the project's image tags (so that the next up must
// build them).
func (p *Project) RemoveImage(ctx context.Context) error {
	for _, ref := range p.Images {
		_, err := p.h.engine.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true})
		if err != nil && !client.IsErrNotFound(err) {
			return err
		}
	}
	return nil
}

// Destroy removes everything labelled with the project, whatever state it
// is in, and its image tag.
func (p *Project) Destroy(ctx context.Context) {
	if _, err := p.Down(ctx, true); err != nil {
		p.h.logf("%s: down --volumes: %v", p.Name, err)
	}
	e := p.h.engine
	cs, _ := e.ContainerList(ctx, container.ListOptions{All: true, Filters: p.filter()})
	for _, c := range cs {
		e.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}
	// The deploy lock of an up that was killed carries no project label.
	e.ContainerRemove(ctx, deployer.LockName(p.Name), container.RemoveOptions{Force: true})
	ns, _ := e.NetworkList(ctx, network.ListOptions{Filters: p.filter()})
	for _, n := range ns {
		e.NetworkRemove(ctx, n.ID)
	}
	vs, _ := e.VolumeList(ctx, volume.ListOptions{Filters: p.filter()})
	for _, v := range vs.Volumes {
		e.VolumeRemove(ctx, v.Name, true)
	}
	if err := p.RemoveImage(ctx); err != nil {
		p.h.logf("%s: remove image: %v", p.Name, err)
	}
}
