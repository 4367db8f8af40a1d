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

// upPhase is plan actions of one kind (the prefix of their ids: image,
// copy, network, secret, node, service) whose spans overlap or touch: from
// the first one's first event to their last done or failed one, since the
// command started. Copies counts the images its actions reported copied
// to a node.
type upPhase struct {
	Kind            string
	Actions, Copies int
	Start, End      time.Duration
}

// actionKind is the prefix of an action id ("copy" of "copy:api").
func actionKind(action string) string {
	k, _, _ := strings.Cut(action, ":")
	return k
}

// upPhases cuts the up into phases, in the order they began (kinds that
// began together in the order the events name them first). Actions that
// run one after the other with another kind in between, or after a pause,
// make phases of their own.
func upPhases(evs []progressEvent, start time.Time) []upPhase {
	type span struct {
		kind          string
		first, end    time.Duration
		copies, order int
	}
	spans := map[string]*span{}
	kindOrder := map[string]int{}
	for _, e := range evs {
		if e.Action == "" {
			continue
		}
		at := e.Time.Sub(start)
		s := spans[e.Action]
		if s == nil {
			s = &span{kind: actionKind(e.Action), first: at, end: at, order: len(spans)}
			spans[e.Action] = s
			if _, ok := kindOrder[s.kind]; !ok {
				kindOrder[s.kind] = len(kindOrder)
			}
		}
		switch {
		case e.Status == "done" || e.Status == "failed":
			s.end = max(s.end, at)
		case e.Status == "progress" && strings.HasPrefix(e.Detail, "copied to "):
			s.copies++
		}
	}
	list := make([]*span, 0, len(spans))
	for _, s := range spans {
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].first != list[j].first {
			return list[i].first < list[j].first
		}
		return list[i].order < list[j].order
	})
	// Back to back: an action that waited for the one before it reports
	// its first event a moment after that one's done event.
	const touch = 100 * time.Millisecond
	var out []upPhase
	last := map[string]int{} // kind -> its latest phase in out
	for _, s := range list {
		if i, ok := last[s.kind]; ok && s.first <= out[i].End+touch {
			p := &out[i]
			p.Actions++
			p.Copies += s.copies
			p.End = max(p.End, s.end)
			continue
		}
		last[s.kind] = len(out)
		out = append(out, upPhase{Kind: s.kind, Actions: 1, Copies: s.copies, Start: s.first, End: s.end})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		return kindOrder[out[i].Kind] < kindOrder[out[j].Kind]
	})
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
