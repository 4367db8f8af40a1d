package bench

import (
	"fmt"
	"sort"
	"time"
)

// Goals of the comparison with compose (issue: swdeploy against compose).
const (
	goalNoopRatio = 0.10 // no-op up: swdeploy median ≤ 0.10 × compose median, and no engine write
	goalColdRatio = 0.70 // cold up after down --volumes: swdeploy median ≤ 0.70 × compose median
)

// composeUpArgs is how a compose command brings the stack up: v2+ waits for
// health itself, v1 cannot.
func composeUpArgs(c Compose) []string {
	if c.V1 {
		return []string{"up", "-d"}
	}
	return []string{"up", "-d", "--wait"}
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// medianRun is the index of the run whose sample is the median (the lower
// middle one when even).
func medianRun(s Samples) int {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s[idx[a]] < s[idx[b]] })
	if len(idx) == 0 {
		return -1
	}
	return idx[(len(idx)-1)/2]
}

// comparisonSections writes sections 1 and 2: no-op and cold up against
// every compose command.
func (h *Harness) comparisonSections(rep *Report, res map[Tool]*compared, tools []Tool, name, up map[Tool]string) {
	sw := res[ToolSwdeploy]
	s1 := rep.Section("1. No-op `up` on an up-to-date stack",
		fmt.Sprintf("Each tool's `up` on the same files, the stack already up to date; time from the command's start until it returned and every container was running and healthy (the harness polls the engine after a command that does not wait); samples per tool: %d. "+
			"Engine writes: the project's events on the engine's event stream (SDK `Events`) while the command ran, of these actions: %s. "+
			"Reads are not counted: `exec_create`/`exec_start`/`exec_die` (the engine's health probes), `health_status`, `archive-path`, `attach`, `resize`, `top`, `export`. "+
			"Goal: swdeploy's median at most %.2f× the compose median, with 0 writes in every no-op up.",
			h.cfg.Runs*h.cfg.NoopPerRun, writeActionList(), goalNoopRatio))
	t := s1.Table("tool", "command", "samples", "min (s)", "median (s)", "max (s)", "engine writes per up: median / max", "writes seen (all ups)", "ups that changed a container or built", "swdeploy median ÷ this median", "goal", "met")
	swWritesOK := sw.noopWrites.Max() == 0
	for _, tool := range tools {
		r := res[tool]
		ratio, goal, ok := "1 (itself)", "0 writes", swWritesOK
		if tool != ToolSwdeploy {
			q := sw.noop.Median() / r.noop.Median()
			ratio, goal, ok = fnum(q, 3), fmt.Sprintf("≤ %.2f× and 0 writes", goalNoopRatio), q <= goalNoopRatio && swWritesOK
		}
		t.Add(name[tool], "`"+up[tool]+"`", fmt.Sprint(len(r.noop)), fnum(r.noop.Min(), 2), fnum(r.noop.Median(), 2), fnum(r.noop.Max(), 2),
			fnum(r.noopWrites.Median(), 0)+" / "+fnum(r.noopWrites.Max(), 0), kindsString(r.noopKinds), countTrue(r.noopChanged), ratio, goal, met(ok))
	}

	s2 := rep.Section("2. Cold `up` to all-healthy after `down --volumes`, and `down`",
		fmt.Sprintf("Each run takes the stack down with `down --volumes` (no container, network or volume of the project left; its images stay), then times `up` from the command's start until every container runs and is healthy; MySQL initialises its data directory again. "+
			"Goal: swdeploy's median at most %.2f× the compose median.", goalColdRatio))
	t = s2.Table("tool", "command", "runs", "min (s)", "median (s)", "max (s)", "API image built", "swdeploy median ÷ this median", "goal", "met")
	for _, tool := range tools {
		r := res[tool]
		ratio, goal, ok := "1 (itself)", "", ""
		if tool != ToolSwdeploy {
			q := sw.afterDown.Median() / r.afterDown.Median()
			ratio, goal, ok = fnum(q, 2), fmt.Sprintf("≤ %.2f×", goalColdRatio), met(q <= goalColdRatio)
		}
		t.Add(name[tool], "`"+up[tool]+"`", fmt.Sprint(len(r.afterDown)), fnum(r.afterDown.Min(), 1), fnum(r.afterDown.Median(), 1), fnum(r.afterDown.Max(), 1),
			countTrue(r.afterDownBuilt), ratio, goal, ok)
	}
	for _, tool := range tools {
		r := res[tool]
		i := medianRun(r.afterDown)
		if i < 0 || i >= len(r.afterDownPath) {
			continue
		}
		t := s2.Table(fmt.Sprintf("%s, median run (run %d, %s s): service", name[tool], i+1, fnum(r.afterDown[i], 1)), "created (s)", "started (s)", "healthy (s)")
		for _, st := range r.afterDownPath[i] {
			t.Add(st.service, at(st.created), at(st.started), at(st.health))
		}
	}
	t = s2.Table("tool", "operation", "runs", "min (s)", "median (s)", "max (s)", "API image built")
	for _, tool := range tools {
		r := res[tool]
		t.Add(name[tool], "cold up with a build: no image of the project either (classic builder, warm layer cache)", fmt.Sprint(len(r.cold)),
			fnum(r.cold.Min(), 1), fnum(r.cold.Median(), 1), fnum(r.cold.Max(), 1), countTrue(r.coldBuilt))
		t.Add(name[tool], "`down --volumes`", fmt.Sprint(len(r.down)), fnum(r.down.Min(), 1), fnum(r.down.Median(), 1), fnum(r.down.Max(), 1), "")
	}
	s2.After = append(s2.After, "Critical path: each service's first `create`, `start` and `health_status: healthy` event on the engine's event stream, in seconds from the command's start (— : no such event; a service without a health check has no healthy time). "+
		"Cold up with a build: both tools build the images with the engine's classic builder from the same Dockerfiles, with a warm layer cache (a build from an empty cache compiles the API for minutes on this machine and is not in these figures).")
}

func at(d time.Duration) string {
	if d < 0 {
		return "—"
	}
	return fnum(d.Seconds(), 2)
}
