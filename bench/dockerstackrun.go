package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// stackPort is where the docker stack's edge publishes on the manager: not
// swdeploy's port, so that nothing of one can answer for the other.
const stackPort = 5004

// stackRun is what `docker stack deploy` of the stack did on the lab.
type stackRun struct {
	name     string
	files    []string // the -c arguments
	override string   // the override file's text, for the report
	changes  []string
	refused  string // the CLI's answer to the files swdeploy deploys
	warnings string // what the CLI said about the files it deployed
	copied   []string
	copyTook time.Duration
	coldTook time.Duration
	ended    map[string]string // service -> tasks that ended before the stack settled
	placed   string
	rollout  loadRun
}

// dockerStack deploys the stack with `docker stack deploy` on the lab as
// far as it can: the images swdeploy built for sw, copied with their
// tags to every node, the secrets from files, and the changes of
// dockerStackFiles; then the API rolling update under the client loop.
func (h *Harness) dockerStack(ctx context.Context, lab *swarmLab, sw *Project) (*stackRun, error) {
	r := &stackRun{name: "swbk" + h.id}
	read := func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(h.cfg.Repo, rel)) }
	main, err := read("stack/compose.yaml")
	if err != nil {
		return nil, err
	}
	swapi, err := read("bench/testdata/stack.yaml")
	if err != nil {
		return nil, err
	}
	sf, err := dockerStackFiles(main, swapi)
	if err != nil {
		return nil, err
	}
	r.changes, r.override = sf.Changes, string(sf.Override)
	conv, over := filepath.Join(h.tmp, "stack-compose.yaml"), filepath.Join(h.tmp, "stack-override.yaml")
	if err := os.WriteFile(conv, sf.Main, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(over, sf.Override, 0o644); err != nil {
		return nil, err
	}
	offline, err := readEnvFile(filepath.Join(h.cfg.Repo, "stack", "offline.env"))
	if err != nil {
		return nil, err
	}
	env := append(offline, fmt.Sprintf("STARWARS_PUBLISHED_PORT=%d", stackPort),
		"STARWARS_SWAPI_URL=http://swapi:8000/api/", "SWDEPLOY_SECRETS_DIR="+h.secDir)
	others := []string{"bench/testdata/stack.yaml", "bench/testdata/swarm.yaml", sw.images}
	r.files = append(append([]string{conv}, others...), over)

	m, err := lab.engine(0)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	deploy := func(ctx context.Context, env []string, files ...string) (string, error) {
		args := []string{"-H", lab.manager, "stack", "deploy", "--resolve-image", "never"}
		for _, f := range files {
			args = append(args, "-c", f)
		}
		return h.run(ctx, env, "docker", append(args, r.name)...)
	}

	// The files swdeploy deploys, as they are: the CLI refuses them before
	// it creates anything.
	if out, err := deploy(ctx, env, append([]string{"stack/compose.yaml"}, others...)...); err == nil {
		r.refused = "accepted"
		h.logf("docker stack deploy took stack/compose.yaml unchanged: removing that stack")
		if _, err := h.run(ctx, nil, "docker", "-H", lab.manager, "stack", "rm", r.name); err != nil {
			return nil, err
		}
		if err := waitStackGone(ctx, m, r.name); err != nil {
			return nil, err
		}
	} else {
		r.refused = firstLine(out)
	}

	// It can neither build nor copy: the images, tagged, on every node.
	refs := []string{envValue(offline, "MYSQL_IMAGE"), envValue(offline, "REDIS_IMAGE"), swapiImage}
	refs = append(refs, sw.Images...)
	r.copied = refs
	h.logf("docker stack: copying %s to every node", strings.Join(refs, ", "))
	start := time.Now()
	if err := lab.copyTagged(ctx, refs); err != nil {
		return nil, err
	}
	r.copyTook = time.Since(start)

	h.logf("docker stack deploy %s", r.name)
	start = time.Now()
	out, err := deploy(ctx, env, r.files...)
	if err != nil {
		return nil, err
	}
	r.warnings = loaderMessages(out)
	if err := waitStack(ctx, m, r.name, 5*time.Minute); err != nil {
		return nil, err
	}
	r.coldTook = time.Since(start)
	if r.ended, err = endedTasks(ctx, m, labelStack, r.name); err != nil {
		return nil, err
	}
	if r.placed, err = stackPlacement(ctx, m, r.name); err != nil {
		return nil, err
	}

	base := fmt.Sprintf("http://%s:%d", lab.addr, stackPort)
	api := API{Base: base, Logs: func(ctx context.Context) (string, error) {
		return h.run(ctx, nil, "docker", "-H", lab.manager, "service", "logs", "--raw", r.name+"_api")
	}}
	users, err := api.NewUsers(ctx, "stack", 1)
	if err != nil {
		return nil, fmt.Errorf("docker stack: %w", err)
	}
	token := users[0].Access
	if err := warm(ctx, api, token); err != nil {
		return nil, err
	}
	h.logf("docker stack: API rolling update under load")
	before, err := runningTasks(ctx, m, r.name, "api")
	if err != nil {
		return nil, err
	}
	env = append(env, "STARWARS_SMTP_FROM=rollout-"+randHex(3)+"@example.com")
	r.rollout, err = h.underLoad(ctx, base, token, func() error {
		if _, err := deploy(ctx, env, r.files...); err != nil {
			return err
		}
		return waitStack(ctx, m, r.name, 5*time.Minute)
	})
	if err != nil {
		return nil, fmt.Errorf("docker stack rollout: %w", err)
	}
	after, err := runningTasks(ctx, m, r.name, "api")
	if err != nil {
		return nil, err
	}
	r.rollout.replaced = replacedCell(before, after)
	if _, err := h.run(ctx, nil, "docker", "-H", lab.manager, "stack", "rm", r.name); err != nil {
		return nil, err
	}
	return r, nil
}

// The label of a docker stack's services, and of swdeploy's: both name
// the services <name>_<service>.
const (
	labelStack   = "com.docker.stack.namespace"
	labelProject = "com.docker.compose.project"
)

// stackFilter selects a docker stack's services.
func stackFilter(name string) filters.Args {
	return filters.NewArgs(filters.Arg("label", labelStack+"="+name))
}

// stackTasks are the services labelled label=name and all their tasks
// the swarm keeps.
func stackTasks(ctx context.Context, c *client.Client, label, name string) ([]swarm.Service, []swarm.Task, error) {
	services, err := c.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", label+"="+name))})
	if err != nil || len(services) == 0 {
		return services, nil, err
	}
	f := filters.NewArgs()
	for _, s := range services {
		f.Add("service", s.ID)
	}
	tasks, err := c.TaskList(ctx, swarm.TaskListOptions{Filters: f})
	return services, tasks, err
}

// specKey identifies a task template: a task runs its service's current
// spec when the keys match.
func specKey(t swarm.TaskSpec) string {
	b, _ := json.Marshal(struct {
		C *swarm.ContainerSpec
		F uint64
	}{t.ContainerSpec, t.ForceUpdate})
	return string(b)
}

// runningTasks are the IDs of a stack service's running tasks.
func runningTasks(ctx context.Context, c *client.Client, name, service string) ([]string, error) {
	services, tasks, err := stackTasks(ctx, c, labelStack, name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range services {
		if s.Spec.Name != name+"_"+service {
			continue
		}
		for _, t := range tasks {
			if t.ServiceID == s.ID && t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
				out = append(out, t.ID)
			}
		}
	}
	return out, nil
}

// waitStack waits until every service of the stack runs exactly its
// replicas, all of its current spec: a task with a health check runs only
// once healthy.
func waitStack(ctx context.Context, c *client.Client, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		services, tasks, err := stackTasks(ctx, c, labelStack, name)
		if err != nil {
			return err
		}
		var pending []string
		for _, s := range services {
			want := 1
			if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
				want = int(*r.Replicas)
			}
			cur := specKey(s.Spec.TaskTemplate)
			running, desired := 0, 0
			for _, t := range tasks {
				if t.ServiceID != s.ID || t.DesiredState != swarm.TaskStateRunning {
					continue
				}
				desired++
				if t.Status.State == swarm.TaskStateRunning && specKey(t.Spec) == cur {
					running++
				}
			}
			if running != want || desired != want {
				pending = append(pending, fmt.Sprintf("%s %d/%d", s.Spec.Name, running, want))
			}
		}
		if len(services) > 0 && len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stack %s not settled after %s: %s", name, timeout, strings.Join(pending, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func waitStackGone(ctx context.Context, c *client.Client, name string) error {
	for deadline := time.Now().Add(2 * time.Minute); ; {
		services, err := c.ServiceList(ctx, swarm.ServiceListOptions{Filters: stackFilter(name)})
		if err != nil {
			return err
		}
		if len(services) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stack %s: %d services left", name, len(services))
		}
		time.Sleep(time.Second)
	}
}

// endedTasks counts, per service, the tasks that are no longer meant to
// run, with their most frequent error: on a first deploy these are the
// tasks that failed while what they need was not there yet.
func endedTasks(ctx context.Context, c *client.Client, label, name string) (map[string]string, error) {
	services, tasks, err := stackTasks(ctx, c, label, name)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range services {
		n, errs := 0, map[string]int{}
		for _, t := range tasks {
			if t.ServiceID == s.ID && t.DesiredState != swarm.TaskStateRunning {
				n++
				if t.Status.Err != "" {
					errs[t.Status.Err]++
				}
			}
		}
		svc := strings.TrimPrefix(s.Spec.Name, name+"_")
		if n == 0 {
			out[svc] = "0"
			continue
		}
		cell := fmt.Sprint(n)
		if len(errs) > 0 {
			cell += " (" + kindsString(errs) + ")"
		}
		out[svc] = cell
	}
	return out, nil
}

// stackPlacement says where the stack's running tasks are, by node.
func stackPlacement(ctx context.Context, c *client.Client, name string) (string, error) {
	services, tasks, err := stackTasks(ctx, c, labelStack, name)
	if err != nil {
		return "", err
	}
	nodes, err := c.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return "", err
	}
	host := map[string]string{}
	for _, n := range nodes {
		host[n.ID] = strings.TrimPrefix(n.Description.Hostname, "swlab-")
	}
	var parts []string
	for _, s := range services {
		var on []string
		for _, t := range tasks {
			if t.ServiceID == s.ID && t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
				on = append(on, host[t.NodeID])
			}
		}
		sort.Strings(on)
		parts = append(parts, strings.TrimPrefix(s.Spec.Name, name+"_")+": "+strings.Join(on, ", "))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; "), nil
}

// loaderMessages is what `docker stack deploy` says about the files before
// it creates anything: the lines before its first "Creating".
func loaderMessages(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "Creating ") || strings.HasPrefix(line, "Updating ") {
			break
		}
		if line == "" || strings.HasPrefix(line, "Since --detach") || strings.HasPrefix(line, "In a future release") {
			continue
		}
		// "Ignoring deprecated options:" is followed by its options.
		if n := len(keep); n > 0 && strings.HasSuffix(keep[n-1], ":") {
			keep[n-1] += " " + line
			continue
		}
		keep = append(keep, "`"+line)
	}
	for i := range keep {
		keep[i] += "`"
	}
	return strings.Join(keep, "; ")
}

func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// readEnvFile reads KEY=VALUE lines, skipping comments and blank lines.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || !strings.Contains(line, "=") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}
