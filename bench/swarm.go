package bench

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
)

// swarmColdUp is the cold `swdeploy --target swarm up`.
type swarmColdUp struct {
	took     time.Duration
	actions  int
	phases   []upPhase
	services []serviceStep
	placed   string
	ended    map[string]string // service -> its tasks that ended during the up
	apiAtEnd string            // healthy API tasks when the command ended
}

// nodeFailure is a worker killed under the client loop.
type nodeFailure struct {
	victim  string   // its hostname
	tasks   []string // the services with a healthy task on it
	load    loadRun
	down    time.Duration // until the manager had the node down (-1: not seen)
	apiBack time.Duration // until 3 healthy API tasks ran elsewhere (-1: not within the limit)
	allBack time.Duration // until every service had all its replicas healthy elsewhere
	placed  string        // where the healthy tasks ran then
}

// Swarm measures swdeploy on the swarm lab (a cold up, an API rolling
// update under load, a worker killed under load), the same rollout with
// swdeploy on the host engine and with `docker stack deploy` on the lab,
// and returns the report. It holds the lab's lock for the whole run and
// leaves the lab down.
func (h *Harness) Swarm(ctx context.Context) (*Report, error) {
	unlock, err := h.lockLab(ctx, h.cfg.LabLock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	began := time.Now()
	h.removeLeftovers(ctx)

	h.logf("swarm: one engine: swdeploy on the host engine")
	host, err := h.hostRollout(ctx)
	if err != nil {
		return nil, fmt.Errorf("one engine: %w", err)
	}

	lab, err := h.startLab(ctx, 3)
	if err != nil {
		return nil, err
	}
	offline, err := readEnvFile(h.cfg.Repo + "/stack/offline.env")
	if err != nil {
		return nil, err
	}
	standIns := []string{envValue(offline, "MYSQL_IMAGE"), envValue(offline, "REDIS_IMAGE"), envValue(offline, "GO_IMAGE"), swapiImage}
	if _, err := lab.run(ctx, append([]string{"load", "--node", "node1"}, standIns...)...); err != nil {
		return nil, err
	}
	labEngine, cli := h.labVersions(ctx, lab)

	p, err := h.newSwarmProject(lab)
	if err != nil {
		return nil, err
	}
	h.logf("swarm: cold up of %s", p.Name)
	cold, err := h.swarmCold(ctx, lab, p)
	if err != nil {
		return nil, err
	}
	api := swarmAPI(p)
	users, err := api.NewUsers(ctx, "swarm", 1)
	if err != nil {
		return nil, err
	}
	token := users[0].Access
	if err := warm(ctx, api, token); err != nil {
		return nil, err
	}
	h.logf("swarm: API rolling update under load")
	before, err := p.swarmStatus(ctx)
	if err != nil {
		return nil, err
	}
	p.Env["STARWARS_SMTP_FROM"] = "rollout-" + randHex(3) + "@example.com"
	swRollout, err := h.underLoad(ctx, p.URL(), token, func() error {
		_, err := p.Cmd(ctx, "up", "--yes")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("swarm rollout: %w", err)
	}
	after, err := p.swarmStatus(ctx)
	if err != nil {
		return nil, err
	}
	swRollout.replaced = replacedCell(before.service("api").runningIDs(), after.service("api").runningIDs())
	h.logf("swarm: a worker killed under load")
	nf, err := h.killWorker(ctx, lab, p, token)
	if err != nil {
		return nil, fmt.Errorf("node failure: %w", err)
	}
	h.logf("swarm: down --volumes")
	if _, err := p.Down(ctx, true); err != nil {
		return nil, err
	}
	h.forget(p)

	stack, err := h.dockerStack(ctx, lab, p)
	if err != nil {
		return nil, fmt.Errorf("docker stack deploy: %w", err)
	}
	if _, err := lab.run(ctx, "down"); err != nil {
		return nil, err
	}

	rep := &Report{Title: "swdeploy on a swarm"}
	rep.Intro = []string{"Produced by `go run ./bench/cmd/swbench swarm` (`make bench-swarm`) in one run; do not edit by hand. " +
		"The swarm is the lab of scripts/swarm-lab.sh: three Docker daemons in network namespaces of this machine, node1 the manager, joined over a bridge that leads nowhere else; all traffic stayed on this machine. " +
		"The stack is stack/compose.yaml + bench/testdata/stack.yaml (the local SWAPI stand-in) + bench/testdata/swarm.yaml (three API replicas, rolled one at a time) + a file naming the images per project, with the stand-in images of stack/offline.env and the same secrets, from files, for every deployer."}
	h.swarmMachineTable(rep.Section("Machine and run"), labEngine, cli, time.Since(began))
	h.coldSection(rep, cold)
	h.rolloutSection(rep, swRollout, host, stack, cold)
	h.nodeSection(rep, nf)
	return rep, nil
}

// removeLeftovers removes what an interrupted earlier run left on the host
// engine: the projects of its single-engine rollout (swbh...) and their
// image tags. Under the lab's lock no other swarm run is under way.
func (h *Harness) removeLeftovers(ctx context.Context) {
	f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project"))
	cs, _ := h.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	for _, c := range cs {
		if strings.HasPrefix(c.Labels["com.docker.compose.project"], "swbh") {
			h.engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
	// The deploy lock of a killed up carries no project label.
	locks, _ := h.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", "swbh"))})
	for _, c := range locks {
		for _, n := range c.Names {
			if n = strings.TrimPrefix(n, "/"); strings.HasPrefix(n, "swbh") && strings.HasSuffix(n, "-swdeploy-lock") {
				h.engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
			}
		}
	}
	ns, _ := h.engine.NetworkList(ctx, network.ListOptions{Filters: f})
	for _, n := range ns {
		if strings.HasPrefix(n.Labels["com.docker.compose.project"], "swbh") {
			h.engine.NetworkRemove(ctx, n.ID)
		}
	}
	vs, _ := h.engine.VolumeList(ctx, volume.ListOptions{Filters: f})
	for _, v := range vs.Volumes {
		if strings.HasPrefix(v.Labels["com.docker.compose.project"], "swbh") {
			h.engine.VolumeRemove(ctx, v.Name, true)
		}
	}
	imgs, _ := h.engine.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", "swbench/*:swbh*"))})
	for _, img := range imgs {
		for _, ref := range img.RepoTags {
			h.engine.ImageRemove(ctx, ref, image.RemoveOptions{})
		}
	}
}

// hostRollout is the same rollout with swdeploy on the host engine, the
// file without bench/testdata/swarm.yaml (one API container).
func (h *Harness) hostRollout(ctx context.Context) (loadRun, error) {
	var r loadRun
	p, err := h.newProject(ToolSwdeploy, "h")
	if err != nil {
		return r, err
	}
	defer func() {
		// Also when ctx was cancelled (SIGINT, SIGTERM): then most of all.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		p.Destroy(ctx)
		h.forget(p)
	}()
	if _, out, err := p.UpHealthy(ctx); err != nil {
		return r, fmt.Errorf("up %s: %w\n%s", p.Name, err, tail(out, 30))
	}
	api := p.API()
	users, err := api.NewUsers(ctx, "host", 1)
	if err != nil {
		return r, err
	}
	token := users[0].Access
	if err := warm(ctx, api, token); err != nil {
		return r, err
	}
	apiID := func() []string {
		cs, _ := p.Containers(ctx)
		if c, ok := cs["api"]; ok {
			return []string{c.ID}
		}
		return nil
	}
	before := apiID()
	p.Env["STARWARS_SMTP_FROM"] = "rollout-" + randHex(3) + "@example.com"
	r, err = h.underLoad(ctx, p.URL(), token, func() error {
		_, _, err := p.UpHealthy(ctx)
		return err
	})
	r.replaced = replacedCell(before, apiID())
	return r, err
}

// swarmCold runs the cold up with JSON progress and reads its phases.
func (h *Harness) swarmCold(ctx context.Context, lab *swarmLab, p *Project) (swarmColdUp, error) {
	var c swarmColdUp
	start := time.Now()
	_, errOut, err := p.CmdSplit(ctx, "up", "--yes", "--progress", "json")
	c.took = time.Since(start)
	if err != nil {
		return c, fmt.Errorf("cold up: %w", err)
	}
	evs := parseProgress(errOut)
	c.phases, c.services = upPhases(evs, start), serviceSteps(evs, start)
	for _, ph := range c.phases {
		c.actions += ph.Actions
	}
	st, err := p.swarmStatus(ctx)
	if err != nil {
		return c, err
	}
	c.apiAtEnd = fmt.Sprintf("%d of 3", len(st.service("api").healthyOn("")))
	if n := len(st.service("api").healthyOn("")); n != 3 {
		// Up said every service was healthy: say what the swarm has, and
		// wait for the API (the rest of the run needs it).
		h.logf("after the cold up, %d healthy API tasks, want 3:\n%sthe up's last events:\n%s", n, st.describe(), tail(errOut, 15))
		ended := time.Now()
		for time.Since(ended) < 2*time.Minute && len(st.service("api").healthyOn("")) < 3 {
			time.Sleep(time.Second)
			if st, err = p.swarmStatus(ctx); err != nil {
				return c, err
			}
		}
		if len(st.service("api").healthyOn("")) < 3 {
			return c, fmt.Errorf("after the cold up, not 3 healthy API tasks within 2 minutes:\n%s", st.describe())
		}
		c.apiAtEnd += fmt.Sprintf(" (3 of 3 %s s later)", fnum(time.Since(ended).Seconds(), 1))
		h.logf("3 healthy API tasks %s", c.apiAtEnd)
	}
	c.placed = st.placement()
	m, err := lab.engine(0)
	if err != nil {
		return c, err
	}
	defer m.Close()
	c.ended, err = endedTasks(ctx, m, labelProject, p.Name)
	return c, err
}

// killWorker kills a worker that runs an API task while the client loop
// runs, and waits until the API, then every service, has all its
// replicas healthy on the other nodes; then it starts the node again.
func (h *Harness) killWorker(ctx context.Context, lab *swarmLab, p *Project, token string) (nodeFailure, error) {
	nf := nodeFailure{down: -1, apiBack: -1, allBack: -1}
	st, err := p.swarmStatus(ctx)
	if err != nil {
		return nf, err
	}
	manager := "swlab-node1"
	for _, n := range st.service("api").healthyOn(manager) {
		nf.victim = n
		break
	}
	if nf.victim == "" {
		return nf, fmt.Errorf("no API task on a worker: %s", st.placement())
	}
	nf.tasks = st.on(nf.victim)
	m, err := lab.engine(0)
	if err != nil {
		return nf, err
	}
	defer m.Close()
	nodeDown := func() bool {
		nodes, err := m.NodeList(ctx, swarm.NodeListOptions{})
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.Description.Hostname == nf.victim {
				return n.Status.State == swarm.NodeStateDown
			}
		}
		return false
	}
	nf.load, err = h.underLoad(ctx, p.URL(), token, func() error {
		killed := time.Now()
		if _, err := lab.run(ctx, "kill", strings.TrimPrefix(nf.victim, "swlab-")); err != nil {
			return err
		}
		for time.Since(killed) < 3*time.Minute {
			since := time.Since(killed)
			if nf.down < 0 && nodeDown() {
				nf.down = since
			}
			if st, err := p.swarmStatus(ctx); err == nil {
				if nf.apiBack < 0 && len(st.service("api").healthyOn(nf.victim)) >= 3 {
					nf.apiBack = since
				}
				if nf.allBack < 0 && st.settled(nf.victim) {
					nf.allBack, nf.placed = since, st.placement()
				}
			}
			if nf.down >= 0 && nf.apiBack >= 0 && nf.allBack >= 0 {
				// The loop goes on 1 s more (underLoad): failures that
				// trail the recovery count.
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
		return nil
	})
	if err != nil {
		return nf, err
	}
	if _, err := lab.run(ctx, "start", strings.TrimPrefix(nf.victim, "swlab-")); err != nil {
		return nf, err
	}
	return nf, nil
}

// labVersions are the nodes' engine version and the docker CLI's.
func (h *Harness) labVersions(ctx context.Context, lab *swarmLab) (string, string) {
	engine := "unknown"
	if c, err := lab.engine(0); err == nil {
		if v, err := c.ServerVersion(ctx); err == nil {
			engine = "Docker Engine " + v.Version + " (API " + v.APIVersion + ")"
		}
		c.Close()
	}
	cli := "unknown"
	if out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Client.Version}}").Output(); err == nil {
		cli = "docker " + strings.TrimSpace(string(out))
	}
	return engine, cli
}

func (h *Harness) swarmMachineTable(s *Section, labEngine, cli string, took time.Duration) {
	m := h.Machine
	t := s.Table("what", "value")
	t.Add("date", m.Date)
	t.Add("commit", m.Commit)
	t.Add("cores", fmt.Sprintf("%d (%s)", m.Cores, m.CPU))
	t.Add("memory", fmt.Sprintf("%.0f GiB", m.MemGiB))
	t.Add("kernel", m.Kernel)
	t.Add("host engine (one-engine run)", m.Engine)
	t.Add("swarm lab", "3 nodes, "+labEngine+" each, on one machine (they share its cores)")
	t.Add("docker CLI (docker stack deploy)", cli)
	t.Add("swdeploy", m.Swdeploy)
	t.Add("Go", m.Go)
	t.Add("the whole run", fnum(took.Seconds(), 0)+" s")
}

func secsCell(d time.Duration) string {
	if d < 0 {
		return "not seen"
	}
	return fnum(d.Seconds(), 1)
}

func (h *Harness) coldSection(rep *Report, c swarmColdUp) {
	s := rep.Section("1. Cold `swdeploy --target swarm up` on three nodes",
		"A fresh lab whose only images are on the manager (node1): the stand-ins of stack/offline.env and the local SWAPI. "+
			"swdeploy builds the API and edge images on the manager's engine and copies every image a worker lacks to it (`docker save` on the manager streamed into `docker load` on the node: no registry), "+
			"then creates the services in dependency order, each waiting for what it depends on to be healthy. "+
			"Wall time is from the command's start to its exit; `up` waits (its default) until every service runs healthy. "+
			"The phases come from the command's `--progress json` events: a phase is the plan actions of one kind (their ids' prefix) that ran at once or back to back, from the first one's first event to their last done event, in seconds since the command started; "+
			"phases of different kinds overlap where swdeploy ran them at once.")
	t := s.Table("command", "wall time (s)", "plan actions", "healthy API tasks when it exited", "healthy tasks after it, by node")
	t.Add("`swdeploy --target swarm -H <node1> up --yes --progress json` (node hosts: node2, node3)", fnum(c.took.Seconds(), 1), fmt.Sprint(c.actions), c.apiAtEnd, c.placed)
	names := map[string]string{
		"node":    "pin the stateful services to a node (node labels)",
		"network": "networks (overlay)",
		"secret":  "secrets",
		"image":   "build images on the manager",
		"copy":    "copy images to the workers that lack them",
		"service": "services, in dependency order, until healthy",
	}
	t = s.Table("phase (plan actions, in the order they began)", "actions", "images copied to a node", "from (s)", "to (s)", "duration (s)")
	for _, ph := range c.phases {
		name := names[ph.Kind]
		if name == "" {
			name = ph.Kind
		}
		copies := ""
		if ph.Kind == "copy" {
			copies = fmt.Sprint(ph.Copies)
		}
		t.Add(name+" (`"+ph.Kind+":`)", fmt.Sprint(ph.Actions), copies, fnum(ph.Start.Seconds(), 1), secsCell(ph.End), secsCell(ph.End-ph.Start))
	}
	t = s.Table("service", "waited for its dependencies from (s)", "created from (s)", "healthy (done) at (s)", "tasks that ended meanwhile (the swarm keeps at most 5 per replica slot)")
	for _, sv := range c.services {
		t.Add(sv.Service, secsCell(sv.Waiting), secsCell(sv.Working), secsCell(sv.Done), c.ended[sv.Service])
	}
}

func (h *Harness) rolloutSection(rep *Report, sw, host loadRun, st *stackRun, cold swarmColdUp) {
	s := rep.Section("2. Failed requests during an API rolling update",
		"The API's environment changes (`STARWARS_SMTP_FROM`), so every deployer must replace the API. "+
			"While it does, 8 clients on this machine send requests to the published port as fast as they can, with keep-alive: 4 on `GET /healthz`, 4 on an authenticated `GET /films/v1/1` (cached), "+
			"from 1 s before the update's command until 1 s after the update is done. A failed request is a non-2xx answer or a connection error. "+
			"The update time is the command's, plus for `docker stack deploy`, which returns at once, the wait until every service runs its replicas of the new spec.")
	t := s.Table("deployer", "where", "API replicas", "update", "update time (s)", "API containers new afterwards", "requests", "failed", "failures")
	row := func(who, where, replicas, cmd string, r loadRun) {
		t.Add(who, where, replicas, cmd, fnum(r.took.Seconds(), 1), r.replaced, fmt.Sprint(r.requests), fmt.Sprint(r.failed), r.kinds)
	}
	row("swdeploy", fmt.Sprintf("the lab's swarm, through the manager; edge at node1:%d", labPort), "3, start-first, one at a time", "`swdeploy --target swarm up --yes`", sw)
	row("swdeploy", "the host engine (the file without bench/testdata/swarm.yaml)", "1, start-first", "`swdeploy up --yes`", host)
	row("`docker stack deploy`", fmt.Sprintf("the same lab, after swdeploy's project was removed; edge at node1:%d", stackPort), "3, start-first, one at a time", "`docker stack deploy` again, then the wait", st.rollout)

	s2 := rep.Section("2b. What `docker stack deploy` needed")
	s2.Text = append(s2.Text,
		fmt.Sprintf("Given the files swdeploy deploys, unchanged, the CLI refuses them before it creates anything: %q. ", st.refused)+
			"So the harness wrote stack/compose.yaml again for it, and an override file; every difference from what swdeploy got:")
	var list strings.Builder
	for _, c := range st.changes {
		list.WriteString("- " + c + "\n")
	}
	list.WriteString(fmt.Sprintf("- it can neither build nor copy images: the images swdeploy built for its project (on the manager) and the stand-ins were copied, with their tags, into every node by the harness (%s: %s s), and deployed with `--resolve-image never` (no registry)\n",
		strings.Join(st.copied, ", "), fnum(st.copyTook.Seconds(), 1)))
	list.WriteString("- the secrets came from the same files (`SWDEPLOY_SECRETS_DIR`), which `docker stack deploy` requires: it generates none")
	s2.Text = append(s2.Text, list.String())
	s2.Text = append(s2.Text, "The override, as written:\n\n```yaml\n"+strings.TrimRight(st.override, "\n")+"\n```")
	if st.warnings != "" {
		s2.Text = append(s2.Text, "What the CLI said about the files it deployed: "+st.warnings)
	}
	var first, last time.Duration = -1, -1
	for _, ph := range cold.phases {
		if ph.Kind == "service" {
			if first < 0 || ph.Start < first {
				first = ph.Start
			}
			last = max(last, ph.End)
		}
	}
	services := "n/a"
	if first >= 0 && last >= 0 {
		services = secsCell(last - first)
	}
	s2.Text = append(s2.Text, "`docker stack deploy` ignores depends_on: it creates every service at once, and a task that fails because what it needs is not there yet is restarted by the swarm. "+
		"Its first deploy (images already on every node), from the command until every service ran its replicas (healthy where there is a health check), and the tasks that had ended by then, which counts such restarts (the swarm keeps at most 5 per replica slot). "+
		"For comparison, swdeploy's services phase of section 1, in dependency order with health waits: "+services+" s.")
	t2 := s2.Table("first deploy until settled (s)", "tasks ended before it settled, by service", "where the tasks ran")
	var ended []string
	for _, svc := range sortedKeys(st.ended) {
		ended = append(ended, svc+": "+st.ended[svc])
	}
	t2.Add(fnum(st.coldTook.Seconds(), 1), strings.Join(ended, "; "), st.placed)
}

func (h *Harness) nodeSection(rep *Report, nf nodeFailure) {
	s := rep.Section("3. A worker dies under load",
		"On swdeploy's swarm deployment, while the client loop of section 2 runs, a worker running an API task is killed with everything on it (`scripts/swarm-lab.sh kill`: SIGKILL to its daemon, containerd and containers, as a machine losing power). "+
			"The harness polls `swdeploy --target swarm status --format json` every second for healthy tasks on the other nodes, and the manager's node list; the loop ends 1 s after all three are seen. Times are seconds since the kill. Then the node is started again.")
	t := s.Table("killed node", "its healthy tasks", "requests", "failed", "failures", "failed requests sent (s)", "node Down at (s)", "3 healthy API tasks again at (s)", "every service healthy again at (s)", "healthy tasks then, by node")
	t.Add(nf.victim, strings.Join(nf.tasks, ", "), fmt.Sprint(nf.load.requests), fmt.Sprint(nf.load.failed), nf.load.kinds,
		nf.load.failureWindow(nf.load.started), secsCell(nf.down), secsCell(nf.apiBack), secsCell(nf.allBack), nf.placed)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
