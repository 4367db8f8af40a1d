package bench

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// progressEvent is one line of `swdeploy up --progress json` (standard
// error; the other lines there are plain text).
type progressEvent struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Object string    `json:"object"`
	Status string    `json:"status"`
	Detail string    `json:"detail"`
}

// parseProgress reads the JSON lines of stderr and skips the rest.
func parseProgress(stderr string) []progressEvent {
	var out []progressEvent
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var e progressEvent
		if json.Unmarshal([]byte(line), &e) == nil && !e.Time.IsZero() {
			out = append(out, e)
		}
	}
	return out
}

// upPhase is one kind of plan action (the prefix of its id: image, copy,
// network, secret, node, service) over one up: from its actions' first
// event to their last done or failed one, since the command started.
type upPhase struct {
	Kind       string
	Actions    int
	Start, End time.Duration
}

// actionKind is the prefix of an action id ("copy" of "copy:api").
func actionKind(action string) string {
	k, _, _ := strings.Cut(action, ":")
	return k
}

// upPhases groups the events by action kind, in the order the phases
// began.
func upPhases(evs []progressEvent, start time.Time) []upPhase {
	byKind := map[string]*upPhase{}
	actions := map[string]map[string]bool{}
	var order []string
	for _, e := range evs {
		if e.Action == "" {
			continue
		}
		k := actionKind(e.Action)
		p := byKind[k]
		if p == nil {
			p = &upPhase{Kind: k, Start: e.Time.Sub(start), End: -1}
			byKind[k], actions[k] = p, map[string]bool{}
			order = append(order, k)
		}
		actions[k][e.Action] = true
		if e.Status == "done" || e.Status == "failed" {
			p.End = max(p.End, e.Time.Sub(start))
		}
	}
	out := make([]upPhase, 0, len(order))
	for _, k := range order {
		p := *byKind[k]
		p.Actions = len(actions[k])
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// serviceStep is one service's way through an up: when it began waiting
// for its dependencies, when its rollout began and when it was done (-1:
// not seen), since the command started.
type serviceStep struct {
	Service                string
	Waiting, Working, Done time.Duration
}

// serviceSteps reads each service action's first waiting, first working
// and done events, ordered by when each was done.
func serviceSteps(evs []progressEvent, start time.Time) []serviceStep {
	steps := map[string]*serviceStep{}
	var order []string
	for _, e := range evs {
		if actionKind(e.Action) != "service" {
			continue
		}
		name := strings.TrimPrefix(e.Action, "service:")
		s := steps[name]
		if s == nil {
			s = &serviceStep{Service: name, Waiting: -1, Working: -1, Done: -1}
			steps[name] = s
			order = append(order, name)
		}
		at := e.Time.Sub(start)
		switch e.Status {
		case "waiting":
			if s.Waiting < 0 {
				s.Waiting = at
			}
		case "working":
			if s.Working < 0 {
				s.Working = at
			}
		case "done", "failed":
			s.Done = at
		}
	}
	out := make([]serviceStep, 0, len(order))
	for _, n := range order {
		out = append(out, *steps[n])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Done < out[j].Done })
	return out
}
