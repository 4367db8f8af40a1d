package bench

import (
	"cmp"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/fathat101/swdeploy/api/auth"
)

// The previous Python server, for scale (issue 6): GET /films/v1/1 at 326
// requests/s, p99 about 240 ms, at 64 connections. The goal is 20 times
// the throughput with p99 under 10 ms.
const (
	pythonRPS    = 326
	goalFactor   = 20
	goalP99Milli = 10
	goalCeiling  = 0.6 // the API's requests/s ≥ 0.6 × the bare net/http ceiling's
)

// compared is what one tool did over all runs.
type compared struct {
	cold, noop, rolloutUp, down, afterDown, rebuild Samples
	coldBuilt, afterDownBuilt, noopChanged          []bool
	noopWrites                                      Samples
	noopKinds                                       map[string]int // every write of every no-op up
	afterDownPath                                   [][]pathStep   // per afterDown run
	rollouts                                        []rollout
}

type rollout struct {
	requests, failed map[string]int
	kinds            string
	replaced         string // which services got new containers
}

// upRun is one measured up: how long until all-healthy, whether it built
// one of the project's images (a build, even one served entirely from the
// cache, ends by tagging its image), and the project's engine events.
type upRun struct {
	d      time.Duration
	built  bool
	start  time.Time
	events []events.Message
}

// upRecorded runs UpHealthy while it records the engine's events.
func (p *Project) upRecorded(ctx context.Context) (upRun, error) {
	stop := p.h.recordEvents(ctx)
	start := time.Now()
	d, out, err := p.UpHealthy(ctx)
	msgs := stop()
	if err != nil {
		return upRun{}, fmt.Errorf("%w\n%s", err, tail(out, 30))
	}
	r := upRun{d: d, start: start}
	for _, m := range msgs {
		if !ofProject(m, p.Name) {
			continue
		}
		r.events = append(r.events, m)
		if m.Type == events.ImageEventType && m.Action == "tag" && slices.Contains(p.Images, m.Actor.Attributes["name"]) {
			r.built = true
		}
	}
	return r, nil
}

// containerIDs maps every container of the project to its id and start.
func (p *Project) containerIDs(ctx context.Context) (map[string]string, error) {
	cs, err := p.h.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: p.filter()})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, c := range cs {
		if svc := c.Labels["com.docker.compose.service"]; svc != "" {
			out[c.ID] = svc + " " + c.State
		}
	}
	return out, nil
}

// changedServices lists services with a container in one map and not the other.
func changedServices(before, after map[string]string) string {
	set := map[string]bool{}
	for id, v := range before {
		if _, ok := after[id]; !ok {
			set[strings.Fields(v)[0]] = true
		}
	}
	for id, v := range after {
		if _, ok := before[id]; !ok {
			set[strings.Fields(v)[0]] = true
		}
	}
	var s []string
	for k := range set {
		s = append(s, k)
	}
	sort.Strings(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// compareRun takes one tool through cold up, no-op ups, a rollout, down and
// up again. It returns the project, still up.
func (h *Harness) compareRun(ctx context.Context, tool Tool, run int, r *compared) (*Project, error) {
	p, err := h.NewProject(tool)
	if err != nil {
		return nil, err
	}
	if err := p.RemoveImage(ctx); err != nil {
		return nil, err
	}
	h.logf("run %d %s: cold up with a build (%s)", run, tool, p.Name)
	u, err := p.upRecorded(ctx)
	if err != nil {
		return nil, err
	}
	r.cold = append(r.cold, secs(u.d))
	r.coldBuilt = append(r.coldBuilt, u.built)

	api := p.API()
	users, err := api.NewUsers(ctx, "rollout", 1)
	if err != nil {
		return nil, err
	}
	token := users[0].Access
	if resp, err := api.Do(ctx, "GET", "/films/v1/", token, nil); err != nil || resp.Status != 200 {
		return nil, fmt.Errorf("%s: GET /films/v1/: %v %d %s", p.Name, err, resp.Status, resp.Body)
	}

	for i := 0; i < h.cfg.NoopPerRun; i++ {
		before, err := p.containerIDs(ctx)
		if err != nil {
			return nil, err
		}
		u, err := p.upRecorded(ctx)
		if err != nil {
			return nil, err
		}
		writes, kinds := engineWrites(u.events, p.Name)
		r.noopWrites = append(r.noopWrites, float64(writes))
		if r.noopKinds == nil {
			r.noopKinds = map[string]int{}
		}
		for k, n := range kinds {
			r.noopKinds[k] += n
		}
		after, err := p.containerIDs(ctx)
		if err != nil {
			return nil, err
		}
		r.noop = append(r.noop, secs(u.d))
		r.noopChanged = append(r.noopChanged, changedServices(before, after) != "none" || u.built)
	}

	h.logf("run %d %s: rollout", run, tool)
	before, err := p.containerIDs(ctx)
	if err != nil {
		return nil, err
	}
	p.Env["STARWARS_SMTP_FROM"] = fmt.Sprintf("v%d-%s@example.com", run, randHex(2))
	pr := StartProbes(ctx, p.URL(),
		ProbeSpec{Name: "healthz", Path: "/healthz", Pace: 5 * time.Millisecond},
		ProbeSpec{Name: "read", Path: "/films/v1/", Token: token, Pace: 5 * time.Millisecond})
	time.Sleep(time.Second)
	start := time.Now()
	d, out, err := p.UpHealthy(ctx)
	upFailed := ""
	if err != nil && p.Tool != ToolSwdeploy {
		// `docker compose up --wait` exits 1 when a container turns
		// unhealthy while the API is replaced (the edge then has no
		// backend): an outcome of the rollout to report, as long as the
		// stack gets healthy again.
		if werr := p.WaitHealthy(ctx, 5*time.Minute); werr == nil {
			upFailed, err, d = cmp.Or(lastLine(out), err.Error()), nil, time.Since(start)
		}
	}
	time.Sleep(2 * time.Second)
	samples, counts := pr.Stop()
	if err != nil {
		return nil, err
	}
	after, err := p.containerIDs(ctx)
	if err != nil {
		return nil, err
	}
	ro := rollout{requests: counts, failed: map[string]int{}, replaced: changedServices(before, after)}
	for _, name := range []string{"healthz", "read"} {
		ro.failed[name], _ = failureSummary(samples, name)
	}
	_, ro.kinds = failureSummary(samples, "")
	if upFailed != "" {
		ro.kinds += "; `up` exited non-zero: " + upFailed
	}
	r.rollouts = append(r.rollouts, ro)
	r.rolloutUp = append(r.rolloutUp, secs(d))

	h.logf("run %d %s: down --volumes, up", run, tool)
	d, err = p.Down(ctx, true)
	if err != nil {
		return nil, err
	}
	r.down = append(r.down, secs(d))
	u, err = p.upRecorded(ctx)
	if err != nil {
		return nil, err
	}
	r.afterDown = append(r.afterDown, secs(u.d))
	r.afterDownBuilt = append(r.afterDownBuilt, u.built)
	r.afterDownPath = append(r.afterDownPath, criticalPath(u.events, p.Name, u.start))
	if tool == ToolCompose {
		start := time.Now()
		if _, err := p.Cmd(ctx, append(p.UpArgs(), "--build")...); err != nil {
			return nil, err
		}
		if err := p.WaitHealthy(ctx, 5*time.Minute); err != nil {
			return nil, err
		}
		r.rebuild = append(r.rebuild, time.Since(start).Seconds())
	}
	return p, nil
}

func countTrue(b []bool) string {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return fmt.Sprintf("%d of %d", n, len(b))
}

func minMed(s Samples, prec int) (string, string) { return fnum(s.Min(), prec), fnum(s.Median(), prec) }

// Benchmarks runs every benchmark and returns the report. It leaves the
// last swdeploy deployment up as the harness's shared one.
func (h *Harness) Benchmarks(ctx context.Context) (*Report, error) {
	rep := &Report{Title: "swdeploy benchmarks"}
	rep.Intro = []string{
		"Produced by `go run ./bench/cmd/swbench bench` (`make bench`); do not edit by hand. " +
			"Every comparison ran side by side in this one run on this engine; min and median are over the runs named in each table.",
	}
	ms := rep.Section("Machine and run")
	h.machineTable(ms,
		[2]string{"runs", fmt.Sprintf("%d per compared operation (%d no-op ups per run); wrk: %d × %s, %d connections, %d threads",
			h.cfg.Runs, h.cfg.NoopPerRun, h.cfg.WrkRuns, h.cfg.WrkDuration, h.cfg.Connections, h.cfg.Threads)},
		[2]string{"stack", "stack/compose.yaml + bench/testdata/stack.yaml (the local SWAPI stand-in) + a file the harness writes that names every built image per project (`swbench/SERVICE:PROJECT`), with the stand-in images of stack/offline.env"})
	tools := []Tool{ToolSwdeploy, ToolCompose}
	name := map[Tool]string{ToolSwdeploy: "swdeploy", ToolCompose: "`" + h.compose.String() + "`"}
	up := map[Tool]string{ToolSwdeploy: "swdeploy up --yes", ToolCompose: h.compose.String() + " " + strings.Join(composeUpArgs(h.compose), " ")}
	if c := h.composeV1; c != nil {
		tools = append(tools, ToolComposeV1)
		name[ToolComposeV1] = "`" + c.String() + "`"
		up[ToolComposeV1] = c.String() + " " + strings.Join(composeUpArgs(*c), " ")
	}
	which := fmt.Sprintf("Compose command: `%s` (%s), the `docker compose` plugin.", h.compose, h.compose.Version)
	if h.compose.V1 {
		which = fmt.Sprintf("Compose command: `%s` (%s). No compose v2 or later answered `docker compose version`, so the comparison is with Compose v1, which cannot wait for health (`up -d`; the harness polls the engine) and cannot read the top-level `name:` key: it got the same file with only that line removed (written next to the original, deleted afterwards), and the project name with `-p`, as swdeploy did.", h.compose, h.compose.Version)
	}
	if c := h.composeV1; c != nil {
		which += fmt.Sprintf(" Second column: `%s` (%s), Compose v1 (`up -d`, then the harness polls the engine until healthy; the file without its `name:` line, written next to the original and deleted afterwards).", c, c.Version)
	}
	ms.After = append(ms.After, which+" All tools got the same secrets as files (`SWDEPLOY_SECRETS_DIR`), their own project name and published port, and ran one after the other (the first tool rotates between runs).")

	// 1-4: the comparison.
	if !h.cfg.Smoke {
		// Each tool sends the build context its own way, and the classic
		// builder's cache keys depend on it: one unmeasured deployment per
		// tool first, so that every measured cold up finds its layers.
		for _, tool := range tools {
			p, err := h.NewProject(tool)
			if err != nil {
				return nil, err
			}
			h.logf("warm-up %s (%s)", tool, p.Name)
			if _, _, err := p.UpHealthy(ctx); err != nil {
				return nil, fmt.Errorf("warm-up %s: %w", tool, err)
			}
			p.Destroy(ctx)
		}
		ms.After = append(ms.After, "Before the measured runs each tool deployed the stack once, unmeasured, so that the engine's layer cache holds the layers of every tool's builds.")
	}
	res := map[Tool]*compared{}
	for _, tool := range tools {
		res[tool] = &compared{}
	}
	for run := 1; run <= h.cfg.Runs; run++ {
		k := (run - 1) % len(tools)
		order := append(append([]Tool{}, tools[k:]...), tools[:k]...)
		for _, tool := range order {
			p, err := h.compareRun(ctx, tool, run, res[tool])
			if err != nil {
				return nil, fmt.Errorf("run %d, %s: %w", run, tool, err)
			}
			if tool == ToolSwdeploy && run == h.cfg.Runs {
				h.shared = p
				continue
			}
			p.Destroy(ctx)
		}
	}
	h.comparisonSections(rep, res, tools, name, up)

	s3 := rep.Section("3. Failed requests while `up` replaces the API",
		"The API's environment changes between runs (`STARWARS_SMTP_FROM`), so `up` must replace the API container; each tool ran its `up` of section 1. Two client loops on loopback, on the published port, one request every 5 ms each and a new TCP connection per request, from 1 s before `up` until 2 s after everything is healthy again: `GET /healthz` and an authenticated `GET /films/v1/`. A failed request is a non-2xx answer or a connection error.")
	t := s3.Table("tool", "run", "up to healthy (s)", "services replaced", "/healthz failed / sent", "/films/v1/ failed / sent", "failures")
	for _, tool := range tools {
		r := res[tool]
		for i, ro := range r.rollouts {
			t.Add(name[tool], fmt.Sprint(i+1), fnum(r.rolloutUp[i], 1), ro.replaced,
				fmt.Sprintf("%d / %d", ro.failed["healthz"], ro.requests["healthz"]),
				fmt.Sprintf("%d / %d", ro.failed["read"], ro.requests["read"]), ro.kinds)
		}
	}
	t = s3.Table("tool", "failed requests per rollout: min", "median", "max")
	for _, tool := range tools {
		var f Samples
		for _, ro := range res[tool].rollouts {
			f = append(f, float64(ro.failed["healthz"]+ro.failed["read"]))
		}
		t.Add(name[tool], fnum(f.Min(), 0), fnum(f.Median(), 1), fnum(f.Max(), 0))
	}

	p := h.shared
	if err := h.imageSection(ctx, rep, p, res, tools, name); err != nil {
		return nil, err
	}
	if err := h.throughputSection(ctx, rep, p); err != nil {
		return nil, err
	}
	if err := h.edgeSection(ctx, rep, p); err != nil {
		return nil, err
	}
	if err := h.coldCharactersSection(ctx, rep); err != nil {
		return nil, err
	}
	if err := h.loginSection(ctx, rep, p); err != nil {
		return nil, err
	}
	return rep, nil
}

func (h *Harness) imageSection(ctx context.Context, rep *Report, p *Project, res map[Tool]*compared, tools []Tool, name map[Tool]string) error {
	s := rep.Section("4. API image, and `up` when nothing changed in the source")
	insp, err := h.engine.ImageInspect(ctx, p.Image)
	if err != nil {
		return err
	}
	hist, err := h.engine.ImageHistory(ctx, p.Image)
	if err != nil {
		return err
	}
	nonEmpty := 0
	for _, l := range hist {
		if l.Size > 0 {
			nonEmpty++
		}
	}
	t := s.Table("image", "size (MB)", "layers (rootfs)", "layers with content", "history entries", "base")
	t.Add("`"+p.Image+"` (built by swdeploy from `Dockerfile`)", fnum(float64(insp.Size)/1e6, 1),
		fmt.Sprint(len(insp.RootFS.Layers)), fmt.Sprint(nonEmpty), fmt.Sprint(len(hist)), "scratch")
	t = s.Table("tool", "operation", "runs", "min (s)", "median (s)", "API image built")
	for _, tool := range tools {
		r := res[tool]
		mn, md := minMed(r.afterDown, 1)
		t.Add(name[tool], "`up` after `down --volumes` (image present, source unchanged; section 2)", fmt.Sprint(len(r.afterDown)), mn, md, countTrue(r.afterDownBuilt))
	}
	mn, md := minMed(res[ToolCompose].rebuild, 1)
	t.Add(name[ToolCompose], "`"+strings.Join(composeUpArgs(h.compose), " ")+" --build` on an up-to-date stack (compose notices source changes only when told to build)", fmt.Sprint(len(res[ToolCompose].rebuild)), mn, md, "always (the builder runs; from the layer cache when the source is unchanged)")
	mn, md = minMed(res[ToolSwdeploy].noop, 2)
	t.Add(name[ToolSwdeploy], "`up` on an up-to-date stack (section 1): swdeploy compares a digest of the build context, Dockerfile and build args, and builds only when it changed", fmt.Sprint(len(res[ToolSwdeploy].noop)), mn, md, countTrue(res[ToolSwdeploy].noopChanged)+" (built or changed a container)")
	return nil
}

func (h *Harness) throughputSection(ctx context.Context, rep *Report, p *Project) error {
	h.logf("throughput")
	s := rep.Section("5. API throughput: authenticated, cached reads with wrk on loopback")
	api := p.API()
	users, err := api.NewUsers(ctx, "wrk", 1)
	if err != nil {
		return err
	}
	tok := users[0].Access
	paths := []string{"/films/v1/", "/character/v1/1"}
	bodies := map[string][]byte{}
	ctype := ""
	for _, path := range paths {
		r, err := api.Do(ctx, "GET", path, tok, nil)
		if err != nil || r.Status != 200 {
			return fmt.Errorf("GET %s: %v %d", path, err, r.Status)
		}
		bodies[path] = r.Body
		ctype = r.Header.Get("Content-Type")
	}
	if r, err := api.Do(ctx, "GET", paths[0], "", nil); err != nil || r.Status != 401 {
		return fmt.Errorf("GET %s without a token: want 401, got %v %d", paths[0], err, r.Status)
	}
	ceiling, err := StartCeiling(bodies, ctype)
	if err != nil {
		return err
	}
	defer ceiling.Close()

	swapiURL, swapiProc, err := h.StartSwapi(ctx, 0)
	if err != nil {
		return err
	}
	defer swapiProc.Stop()
	host, err := h.StartHostAPI(ctx, "swbench_"+h.id+"_wrk", swapiURL)
	if err != nil {
		return err
	}
	defer host.Stop()
	hostUsers, err := host.NewUsers(ctx, "wrk", 1)
	if err != nil {
		return err
	}
	same := true
	for _, path := range paths {
		r, err := host.Do(ctx, "GET", path, hostUsers[0].Access, nil)
		if err != nil || r.Status != 200 {
			return fmt.Errorf("host GET %s: %v %d", path, err, r.Status)
		}
		same = same && string(r.Body) == string(bodies[path])
	}

	// What the published port leads to, and the API container's own address.
	cs, err := p.Containers(ctx)
	if err != nil {
		return err
	}
	chain := "API container"
	for svc, c := range cs {
		if insp, err := h.engine.ContainerInspect(ctx, c.ID); err == nil && svc != "api" {
			for _, b := range insp.NetworkSettings.Ports {
				if len(b) > 0 {
					chain = svc + " container → API container"
				}
			}
		}
	}
	apiAddr := cs["api"].Networks[p.Name+"_service-network"]
	type target struct{ name, base, token string }
	targets := []target{{"the stack: published port (loopback → docker-proxy → " + chain + ")", p.URL(), tok}}
	if onThisMachine(apiAddr) { // a local bridge: the traffic stays on this machine
		targets = append(targets, target{"API container at its own address on the service network (no docker-proxy, no proxy)", "http://" + apiAddr + ":5003", tok})
	}
	targets = append(targets,
		target{"API binary on the host (loopback MariaDB and Redis)", host.Base, hostUsers[0].Access},
		target{"bare net/http handler on loopback, same bytes (ceiling)", ceiling.URL, ""})
	ceilingName := targets[len(targets)-1].name
	type key struct{ t, path string }
	results := map[key][]WrkResult{}
	for run := 0; run < h.cfg.WrkRuns; run++ {
		for _, path := range paths {
			for _, tg := range targets {
				w, err := h.Wrk(ctx, tg.base+path, tg.token, h.cfg.WrkDuration)
				if err != nil {
					return err
				}
				results[key{tg.name, path}] = append(results[key{tg.name, path}], w)
			}
		}
	}
	s.Text = append(s.Text, fmt.Sprintf("wrk %s, %d connections, %d threads, %d run(s) per row, side by side (each run goes through every row in turn). "+
		"The API checks the access token on every request (signature, claims, revocation in Redis); the answers come from its cache. "+
		"The ceiling serves the bytes the API answered (%d and %d bytes) on another loopback port; ratio = API median requests/s ÷ ceiling median requests/s, goal ≥ %.2f. "+
		"For scale: the previous Python server served `GET /films/v1/1` at %d requests/s, p99 about 240 ms, at 64 connections; the goal is %d× that (%d requests/s) with p99 under %d ms.",
		h.cfg.WrkDuration, h.cfg.Connections, h.cfg.Threads, h.cfg.WrkRuns, len(bodies[paths[0]]), len(bodies[paths[1]]), goalCeiling,
		pythonRPS, goalFactor, goalFactor*pythonRPS, goalP99Milli))
	if !same {
		s.Text = append(s.Text, "Note: the host binary's answers differ from the container's bytes.")
	}
	t := s.Table("path", "server", "requests/s min", "requests/s median", "p50 median (ms)", "p99 median (ms)", "p99 max (ms)", "errors (non-2xx + socket)", "ratio to ceiling", "goal", "met", "20× Python, p99 < 10 ms")
	for _, path := range paths {
		ceil := Samples{}
		for _, w := range results[key{ceilingName, path}] {
			ceil = append(ceil, w.RPS())
		}
		for _, tg := range targets {
			var rps, p50, p99 Samples
			var errs int64
			for _, w := range results[key{tg.name, path}] {
				rps = append(rps, w.RPS())
				p50 = append(p50, w.P50US/1000)
				p99 = append(p99, w.P99US/1000)
				errs += w.Status + w.SocketErrors()
			}
			ratio, goal, ok, python := "1 (itself)", "", "", ""
			if tg.token != "" {
				q := rps.Median() / ceil.Median()
				ratio, goal, ok = fnum(q, 2), fmt.Sprintf("≥ %.2f", goalCeiling), met(q >= goalCeiling && errs == 0)
				python = met(rps.Median() >= goalFactor*pythonRPS && p99.Median() < goalP99Milli && errs == 0)
			}
			t.Add("`GET "+path+"`", tg.name, fnum(rps.Min(), 0), fnum(rps.Median(), 0), fnum(p50.Median(), 2), fnum(p99.Median(), 2), fnum(p99.Max(), 2),
				fmt.Sprint(errs), ratio, goal, ok, python)
		}
	}
	return nil
}

func (h *Harness) coldCharactersSection(ctx context.Context, rep *Report) error {
	h.logf("cold characters")
	const latency = 50 * time.Millisecond
	s := rep.Section("7. Cold `GET /characters/v1/?max_items=82` with 50 ms upstream latency")
	swapiURL, swapiProc, err := h.StartSwapi(ctx, latency)
	if err != nil {
		return err
	}
	defer swapiProc.Stop()
	db := "swbench_" + h.id + "_cold"
	var user *User
	var cold, warm Samples
	count := 0
	for run := 0; run < h.cfg.Runs; run++ {
		host, err := h.StartHostAPI(ctx, db, swapiURL)
		if err != nil {
			return err
		}
		if user == nil {
			us, err := host.NewUsers(ctx, "cold", 1)
			if err != nil {
				host.Stop()
				return err
			}
			user = us[0]
		} else if err := host.Login(ctx, user); err != nil {
			host.Stop()
			return err
		}
		for i, into := range []*Samples{&cold, &warm} {
			start := time.Now()
			r, err := host.Do(ctx, "GET", "/characters/v1/?max_items=82", user.Access, nil)
			d := time.Since(start)
			if err != nil || r.Status != 200 {
				host.Stop()
				return fmt.Errorf("characters (request %d): %v %d %s", i+1, err, r.Status, r.Body)
			}
			if c, ok := r.JSON["count"].(float64); ok {
				count = int(c)
			}
			*into = append(*into, secs(d))
		}
		host.Stop()
	}
	s.Text = append(s.Text, fmt.Sprintf("swapi-local on loopback with `-latency %s` (every upstream page takes that long), the API binary on the host against the loopback MariaDB and Redis. "+
		"Each run starts a new API process with a new Redis key prefix, so both its in-process cache and its Redis cache are empty; the first request is cold, the second warm. %d run(s); the answer held %d characters.", latency, h.cfg.Runs, count))
	t := s.Table("request", "min (ms)", "median (ms)", "min ÷ one upstream round trip", "median ÷ one upstream round trip")
	ms := func(v float64) string { return fnum(v*1000, 1) }
	rt := latency.Seconds()
	t.Add("cold", ms(cold.Min()), ms(cold.Median()), fnum(cold.Min()/rt, 2), fnum(cold.Median()/rt, 2))
	t.Add("warm (same process, right after)", ms(warm.Min()), ms(warm.Median()), fnum(warm.Min()/rt, 2), fnum(warm.Median()/rt, 2))
	return nil
}

func (h *Harness) loginSection(ctx context.Context, rep *Report, p *Project) error {
	h.logf("logins")
	s := rep.Section("8. Logins per second (argon2id)")
	api := p.API()
	users, err := api.NewUsers(ctx, "login", 1)
	if err != nil {
		return err
	}
	u := users[0]
	phc, err := h.containerPasswordHash(ctx, p, u.Email)
	if err != nil {
		phc = "(not read: " + err.Error() + ")"
	}
	const workers = 8
	var rates, p50s, p99s Samples
	var failed int
	for run := 0; run < h.cfg.WrkRuns; run++ {
		var mu sync.Mutex
		var lat []time.Duration
		ok, bad := 0, 0
		deadline := time.Now().Add(h.cfg.LoginDuration)
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					t0 := time.Now()
					r, err := api.Do(ctx, "POST", "/users/v1/login", "", map[string]string{"email": u.Email, "password": u.Password})
					d := time.Since(t0)
					mu.Lock()
					if err == nil && r.Status == 200 {
						ok++
						lat = append(lat, d)
					} else {
						bad++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		rates = append(rates, float64(ok)/el.Seconds())
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		if len(lat) > 0 {
			p50s = append(p50s, lat[len(lat)/2].Seconds()*1000)
			p99s = append(p99s, lat[min(len(lat)-1, len(lat)*99/100)].Seconds()*1000)
		}
		failed += bad
	}
	o := auth.OWASPParams
	s.Text = append(s.Text, fmt.Sprintf("`POST /users/v1/login` for one verified user from %d concurrent clients for %s, %d run(s), against the API container (published port). "+
		"Every login verifies the password with argon2id and signs two tokens.", workers, h.cfg.LoginDuration, h.cfg.WrkRuns))
	t := s.Table("argon2id parameter", "value", "source")
	t.Add("memory", fmt.Sprintf("%d KiB", o.Memory), "`auth.OWASPParams` (api/auth/password.go), used by api/cmd/starwars-api")
	t.Add("iterations (t)", fmt.Sprint(o.Time), "same")
	t.Add("parallelism (p)", fmt.Sprint(o.Threads), "same")
	t.Add("salt / key length", fmt.Sprintf("%d / %d bytes", o.SaltLen, o.KeyLen), "same")
	t.Add("stored hash of the benchmark user", "`"+phcParams(phc)+"`", "the users table of the deployed MySQL")
	t = s.Table("logins/s min", "logins/s median", "p50 median (ms)", "p99 median (ms)", "failed")
	t.Add(fnum(rates.Min(), 1), fnum(rates.Median(), 1), fnum(p50s.Median(), 1), fnum(p99s.Median(), 1), fmt.Sprint(failed))
	return nil
}

// phcParams keeps the algorithm and parameters of a PHC string, not the salt or hash.
func phcParams(phc string) string {
	parts := strings.Split(phc, "$")
	if len(parts) >= 4 && parts[0] == "" {
		return "$" + strings.Join(parts[1:4], "$") + "$…"
	}
	return phc
}

// containerPasswordHash reads a user's stored hash from the project's MySQL.
func (h *Harness) containerPasswordHash(ctx context.Context, p *Project, email string) (string, error) {
	cs, err := p.Containers(ctx)
	if err != nil {
		return "", err
	}
	c, ok := cs["mysql"]
	if !ok {
		return "", fmt.Errorf("no mysql container")
	}
	out, err := exec.CommandContext(ctx, "docker", "exec", "-e", "MYSQL_PWD="+h.Secret("mysql_root_password"), c.ID,
		"mariadb", "-uroot", "-N", "-B", "-e", fmt.Sprintf("SELECT password_hash FROM fathat101users.users WHERE email = '%s'", strings.ReplaceAll(email, "'", ""))).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// lastLine is the last non-empty line of a command's output.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
