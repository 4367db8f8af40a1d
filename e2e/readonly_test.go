package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
)

// readActions are the engine events that change nothing: an archive read
// of a container's path, and the transient mounts of a volume the engine
// makes to serve that read of a container that is not running. Every other
// action of a container, image, volume or network (create, start, die,
// kill, destroy, rename, extract-to-dir, attach, pull, import, tag,
// connect, ...) creates, starts, changes or removes something: a write.
var readActions = map[string]bool{
	"container archive-path": true,
	"volume mount":           true,
	"volume unmount":         true,
}

// probeActions are the engine's own healthchecks of running containers,
// which it runs as execs on its own schedule. swdeploy makes no exec call
// (deployer.Engine has none), so they are not the command's doing.
var probeActions = map[string]bool{
	"container exec_create":   true,
	"container exec_start":    true,
	"container exec_die":      true,
	"container health_status": true,
}

const markLabel = "io.swdeploy.e2e-mark"

// eventLog records the engine's events that concern one project, from two
// streams: one filtered by the project's label (labelled objects) and one
// unfiltered (for helpers that are not labelled: volumes, networks and
// images carry no labels in their events). Other projects' events are left
// out: other tests share the engine.
type eventLog struct {
	project string
	mu      sync.Mutex
	seen    map[string]bool
	events  []events.Message
	marks   map[string]int // mark name -> number of streams that saw it
}

func watchEvents(t *testing.T, project string) *eventLog {
	t.Helper()
	l := &eventLog{project: project, seen: map[string]bool{}, marks: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	since := fmt.Sprint(time.Now().Unix())
	for _, f := range []filters.Args{filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project)), filters.NewArgs()} {
		msgs, errs := engine.Events(ctx, events.ListOptions{Filters: f, Since: since})
		go func() {
			for {
				select {
				case m := <-msgs:
					l.add(m)
				case <-errs:
					return
				}
			}
		}()
	}
	return l
}

func (l *eventLog) add(m events.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if name := m.Actor.Attributes[markLabel]; name != "" {
		if m.Action == "create" {
			l.marks[name]++
		}
		return
	}
	if !l.ours(m) {
		return
	}
	key := fmt.Sprint(m.TimeNano, m.Type, m.Action, m.Actor.ID)
	if l.seen[key] {
		return
	}
	l.seen[key] = true
	l.events = append(l.events, m)
}

// ours tells the project's events from other projects': by the project
// and lock labels where the event carries them, else by the project's name
// in the object's name or attributes (its volumes, networks, containers),
// else by swdeploy's helper image.
func (l *eventLog) ours(m events.Message) bool {
	a := m.Actor.Attributes
	if p, ok := a["com.docker.compose.project"]; ok {
		return p == l.project
	}
	if p, ok := a["io.swdeploy.lock-of"]; ok {
		return p == l.project
	}
	if strings.Contains(m.Actor.ID, l.project) {
		return true
	}
	for _, v := range a {
		if strings.Contains(v, l.project) || strings.HasPrefix(v, "swdeploy-keeper") {
			return true
		}
	}
	return false
}

// mark creates (and removes) a container labelled as a mark, waits until
// both streams have delivered it, and returns the project's events since
// the previous mark: everything the engine did before the mark is in.
func (l *eventLog) mark(t *testing.T, name string) []events.Message {
	t.Helper()
	ctx := context.Background()
	c, err := engine.ContainerCreate(ctx, &container.Config{Image: "swdeploy-keeper:1", Cmd: []string{"/none"},
		Labels: map[string]string{"com.docker.compose.project": l.project, markLabel: name}}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	deadline := time.Now().Add(time.Minute)
	for {
		l.mu.Lock()
		n := l.marks[name]
		if n == 2 {
			out := l.events
			l.events = nil
			l.mu.Unlock()
			return out
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("mark %s: seen on %d of 2 event streams", name, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// count splits events into writes and reads, as "type action" -> n,
// leaving out healthcheck probes.
func count(evs []events.Message) (writes, reads map[string]int) {
	writes, reads = map[string]int{}, map[string]int{}
	for _, m := range evs {
		k := string(m.Type) + " " + string(m.Action)
		if i := strings.Index(k, ":"); i > 0 {
			k = k[:i] // "exec_start: /edge -healthcheck" -> "exec_start"
		}
		switch {
		case probeActions[k]:
		case readActions[k]:
			reads[k]++
		default:
			writes[k]++
		}
	}
	return writes, reads
}

func describe(m map[string]int) string {
	var parts []string
	total := 0
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s×%d", k, n))
		total += n
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d [%s]", total, strings.Join(parts, ", "))
}

// TestReadOnlyCommands checks that plan, status, secrets and an up with
// nothing to do make no write on the engine: nothing created, started or
// removed, not even a helper or the deploy lock.
func TestReadOnlyCommands(t *testing.T) {
	d := newDeployment(t)
	pinImages(t, d)
	d.must("up")
	log := watchEvents(t, d.project)
	log.mark(t, "start")
	for _, args := range [][]string{
		{"plan"},
		{"plan", "--format", "json"},
		{"status"},
		{"secrets"},
		{"secrets", "--reveal"},
		{"up"},
	} {
		out := d.must(args...)
		if len(args) == 1 && args[0] == "plan" && !strings.Contains(out, "nothing to do") {
			t.Fatalf("plan of the deployed stack is not empty:\n%s", out)
		}
		writes, reads := count(log.mark(t, strings.Join(args, " ")))
		t.Logf("swdeploy %s: writes %s, reads %s", strings.Join(args, " "), describe(writes), describe(reads))
		if len(writes) > 0 {
			t.Errorf("swdeploy %s wrote to the engine: %s", strings.Join(args, " "), describe(writes))
		}
	}
}

// pinImages makes the deployment use image tags of its own (removed at the
// end), so that other test runs on the engine cannot change its images.
func pinImages(t *testing.T, d *deployment) {
	t.Helper()
	ctx := context.Background()
	tag := d.project
	if err := engine.ImageTag(ctx, swapiImage, "swdeploy-test/swapi-local:"+tag); err != nil {
		t.Fatal(err)
	}
	d.files = append(d.files, "e2e/testdata/pinned.yaml")
	d.env = append(d.env, "E2E_TAG="+tag)
	t.Cleanup(func() {
		d.destroy() // first: the images are in use until the containers go
		for _, ref := range []string{"swdeploy-test/swapi-local:", "swdeploy-test/api:", "swdeploy-test/edge:"} {
			engine.ImageRemove(ctx, ref+tag, image.RemoveOptions{})
		}
	})
}
