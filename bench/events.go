package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

// recordEvents collects the engine's container, image, volume and network
// events until the returned function is called. The engine is shared, so
// callers keep only the events of their project (ofProject).
func (h *Harness) recordEvents(ctx context.Context) func() []events.Message {
	ctx, cancel := context.WithCancel(ctx)
	f := filters.NewArgs()
	for _, t := range []events.Type{events.ContainerEventType, events.ImageEventType, events.VolumeEventType, events.NetworkEventType} {
		f.Add("type", string(t))
	}
	msgs, errs := h.engine.Events(ctx, events.ListOptions{Filters: f})
	var mu sync.Mutex
	var got []events.Message
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case m := <-msgs:
				mu.Lock()
				got = append(got, m)
				mu.Unlock()
			case <-errs:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond) // the subscription is in place
	return func() []events.Message {
		time.Sleep(200 * time.Millisecond) // events still on their way
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// ofProject tells whether an event concerns the project: its containers
// (by label or name), networks, volumes and image tags all carry its name,
// and so do the network events that name the network.
func ofProject(m events.Message, project string) bool {
	if strings.Contains(m.Actor.ID, project) {
		return true
	}
	for _, v := range m.Actor.Attributes {
		if strings.Contains(v, project) {
			return true
		}
	}
	return false
}

// writeActions are the event actions that change the engine's state, per
// object type. Reads are not among them: archive-path (copying a file out),
// exec_create/exec_start/exec_die (the health probes the engine runs),
// health_status, attach, resize, top, export, and a volume's mount/unmount:
// the engine mounts a volume for the moment it serves an archive read of a
// stopped container (and for a start, which is counted as the start).
var writeActions = map[events.Type][]string{
	events.ContainerEventType: {"create", "start", "restart", "stop", "kill", "die", "destroy", "pause", "unpause", "rename", "update", "commit", "oom", "copy", "extract-to-dir"},
	events.ImageEventType:     {"pull", "tag", "untag", "delete", "import", "load", "push", "save"},
	events.VolumeEventType:    {"create", "destroy", "prune"},
	events.NetworkEventType:   {"create", "connect", "disconnect", "destroy", "remove", "prune"},
}

// writeActionList names the counted actions for the report.
func writeActionList() string {
	var parts []string
	for _, t := range []events.Type{events.ContainerEventType, events.ImageEventType, events.VolumeEventType, events.NetworkEventType} {
		parts = append(parts, string(t)+" "+strings.Join(writeActions[t], "/"))
	}
	return strings.Join(parts, "; ")
}

func isWrite(m events.Message) bool {
	action := string(m.Action)
	for _, a := range writeActions[m.Type] {
		if action == a {
			return true
		}
	}
	return false
}

// engineWrites counts the project's write events, and names them
// ("container start ×2, network connect").
func engineWrites(msgs []events.Message, project string) (int, map[string]int) {
	n, kinds := 0, map[string]int{}
	for _, m := range msgs {
		if ofProject(m, project) && isWrite(m) {
			n++
			kinds[string(m.Type)+" "+string(m.Action)]++
		}
	}
	return n, kinds
}

func kindsString(kinds map[string]int) string {
	if len(kinds) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if kinds[k] > 1 {
			keys[i] = fmt.Sprintf("%s ×%d", k, kinds[k])
		}
	}
	return strings.Join(keys, ", ")
}

// pathStep is one service's way to healthy during an up: the first
// create, start and healthy event of its container, relative to the
// command's start (negative: not seen).
type pathStep struct {
	service                  string
	created, started, health time.Duration
}

// criticalPath reads each service's create, start and healthy events from
// msgs, ordered by when the service became healthy (or started).
func criticalPath(msgs []events.Message, project string, start time.Time) []pathStep {
	steps := map[string]*pathStep{}
	for _, m := range msgs {
		if m.Type != events.ContainerEventType || m.Actor.Attributes["com.docker.compose.project"] != project {
			continue
		}
		svc := m.Actor.Attributes["com.docker.compose.service"]
		if svc == "" {
			continue
		}
		s := steps[svc]
		if s == nil {
			s = &pathStep{service: svc, created: -1, started: -1, health: -1}
			steps[svc] = s
		}
		at := time.Unix(0, m.TimeNano).Sub(start)
		set := func(d *time.Duration) {
			if *d < 0 {
				*d = at
			}
		}
		switch strings.TrimSpace(string(m.Action)) {
		case "create":
			set(&s.created)
		case "start":
			set(&s.started)
		case "health_status: healthy":
			set(&s.health)
		}
	}
	out := make([]pathStep, 0, len(steps))
	for _, s := range steps {
		out = append(out, *s)
	}
	end := func(s pathStep) time.Duration { return max(s.health, s.started) }
	sort.Slice(out, func(i, j int) bool {
		if end(out[i]) != end(out[j]) {
			return end(out[i]) < end(out[j])
		}
		return out[i].service < out[j].service
	})
	return out
}
