package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/fathat101/swdeploy/deployer"
)

// runTimings is what `up --timings` shows: each container's timeline and
// the critical path, the chain of actions that ended last, each held up by
// the one before it.
type runTimings struct {
	start      time.Time
	containers []containerTiming
	path       []pathStep
}

// containerTiming is when a container of the plan was created, started and
// became healthy; a zero time is a step it did not reach in the run.
type containerTiming struct {
	action                    deployer.Action
	created, started, healthy time.Time
}

// pathStep is one action of the critical path and the step it reached
// that let the next one go on.
type pathStep struct {
	action deployer.Action
	step   string // created, started, healthy, or the op for other actions
	at     time.Time
}

// timings reads the run's timeline from the events rec kept.
func timings(p *deployer.Plan, rec *progress, start time.Time) runTimings {
	t := runTimings{start: start}
	for _, a := range p.Actions {
		if a.Kind != deployer.KindContainer || a.Service == "" || a.Op == deployer.OpRemove {
			continue
		}
		o, _ := rec.outcome(a.Kind, a.Name)
		t.containers = append(t.containers, containerTiming{action: a, created: o.CreatedAt, started: o.StartedAt, healthy: o.HealthyAt})
	}
	t.path = criticalPath(p, rec)
	return t
}

// criticalPath starts from the action whose last step came last and goes
// back, each time to the prerequisite (a needed action's end, or the
// depends_on condition waited for) that was met last.
func criticalPath(p *deployer.Plan, rec *progress) []pathStep {
	// last is an action's last step; ready is the step a depends_on
	// condition waits for.
	last := func(a deployer.Action) (string, time.Time) {
		o, ok := rec.outcome(a.Kind, a.Name)
		switch {
		case !ok:
			return "", time.Time{}
		case !o.HealthyAt.IsZero() && o.HealthyAt.After(o.Ended):
			return "healthy", o.HealthyAt
		case o.Status != deployer.StatusDone:
			return "", time.Time{}
		case a.Kind == deployer.KindContainer && a.Service != "" && !o.StartedAt.IsZero():
			return "started", o.StartedAt
		}
		return string(a.Op), o.Ended
	}
	ready := func(a deployer.Action, cond string) (string, time.Time) {
		o, _ := rec.outcome(a.Kind, a.Name)
		if cond == "service_healthy" && !o.HealthyAt.IsZero() {
			return "healthy", o.HealthyAt
		}
		return last(a)
	}
	var cur pathStep
	for _, a := range p.Actions {
		if step, at := last(a); at.After(cur.at) {
			cur = pathStep{a, step, at}
		}
	}
	if cur.at.IsZero() {
		return nil
	}
	path := []pathStep{cur}
	for {
		a := cur.action
		var prev pathStep
		consider := func(b deployer.Action, step string, at time.Time) {
			if at.After(prev.at) && !at.After(cur.at) {
				prev = pathStep{b, step, at}
			}
		}
		for _, id := range slices.Concat(a.Needs, a.StartNeeds) {
			if b, ok := p.Action(id); ok {
				step, at := last(b)
				consider(b, step, at)
			}
		}
		for _, w := range a.Waits {
			if b, ok := p.Action("container:" + w.Service); ok {
				step, at := ready(b, w.Condition)
				consider(b, step, at)
			}
		}
		if prev.at.IsZero() || slices.ContainsFunc(path, func(s pathStep) bool { return s.action.ID == prev.action.ID }) {
			break
		}
		path = append(path, prev)
		cur = prev
	}
	slices.Reverse(path)
	return path
}

// onPath reports whether the action is on the critical path.
func (t runTimings) onPath(id string) bool {
	return slices.ContainsFunc(t.path, func(s pathStep) bool { return s.action.ID == id })
}

// since is a moment in seconds since the run began, or nil if it never
// came.
func (t runTimings) since(at time.Time) *float64 {
	if at.IsZero() {
		return nil
	}
	s := seconds(at.Sub(t.start))
	return &s
}

// writeTimings prints the timeline table and the critical path:
//
//	CONTAINER         CREATED  STARTED  HEALTHY
//	starwars-db-1        0.3s     0.4s    12.1s  *
func writeTimings(w io.Writer, t runTimings) error {
	width := len("CONTAINER")
	for _, c := range t.containers {
		width = max(width, len(c.action.Name))
	}
	cell := func(at time.Time) string {
		if s := t.since(at); s != nil {
			return fmt.Sprintf("%.1fs", *s)
		}
		return "-"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %7s  %7s  %7s\n", width, "CONTAINER", "CREATED", "STARTED", "HEALTHY")
	for _, c := range t.containers {
		line := fmt.Sprintf("%-*s  %7s  %7s  %7s", width, c.action.Name, cell(c.created), cell(c.started), cell(c.healthy))
		if t.onPath(c.action.ID) {
			line += "  *"
		}
		b.WriteString(line + "\n")
	}
	if len(t.path) > 0 {
		var steps []string
		for _, s := range t.path {
			steps = append(steps, fmt.Sprintf("%s %s %s %s", s.action.Kind, s.action.Name, s.step, cell(s.at)))
		}
		fmt.Fprintf(&b, "* critical path: %s\n", strings.Join(steps, " -> "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
