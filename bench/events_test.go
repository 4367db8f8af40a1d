package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
)

func ev(typ events.Type, action, id string, attrs map[string]string, at time.Time) events.Message {
	return events.Message{Type: typ, Action: events.Action(action), Actor: events.Actor{ID: id, Attributes: attrs}, TimeNano: at.UnixNano()}
}

// The no-op figure counts the project's writes only: reads (health probes,
// archive-path) and other projects' events on the shared engine are not.
func TestEngineWrites(t *testing.T) {
	now := time.Now()
	api := map[string]string{"com.docker.compose.project": "swbs1", "com.docker.compose.service": "api", "name": "swbs1-api-1"}
	other := map[string]string{"com.docker.compose.project": "swbs2", "name": "swbs2-api-1"}
	msgs := []events.Message{
		ev(events.ContainerEventType, "exec_create: /starwars-api healthcheck", "c1", api, now),
		ev(events.ContainerEventType, "exec_start: /starwars-api healthcheck", "c1", api, now),
		ev(events.ContainerEventType, "exec_die", "c1", api, now),
		ev(events.ContainerEventType, "health_status: healthy", "c1", api, now),
		ev(events.ContainerEventType, "archive-path", "c1", api, now),
		ev(events.ContainerEventType, "stop", "c1", api, now),
		ev(events.ContainerEventType, "start", "c1", api, now),
		ev(events.ContainerEventType, "start", "c2", other, now),
		ev(events.NetworkEventType, "connect", "n1", map[string]string{"name": "swbs1_service-network", "container": "c1"}, now),
		ev(events.VolumeEventType, "create", "swbs1_mysql-data", map[string]string{"driver": "local"}, now),
		ev(events.ImageEventType, "tag", "sha256:x", map[string]string{"name": "swbench/api:swbs1"}, now),
	}
	n, kinds := engineWrites(msgs, "swbs1")
	if n != 5 {
		t.Errorf("writes = %d, want 5 (%v)", n, kinds)
	}
	if got := kindsString(kinds); got != "container start, container stop, image tag, network connect, volume create" {
		t.Errorf("kinds = %q", got)
	}
	if n, _ := engineWrites(msgs[:5], "swbs1"); n != 0 {
		t.Errorf("reads counted as %d writes", n)
	}
	for _, a := range []string{"exec_create", "archive-path", "health_status"} {
		if strings.Contains(writeActionList(), a) {
			t.Errorf("the counted actions name the read %s", a)
		}
	}
}

// The critical path takes each service's first create, start and healthy
// event, relative to the command's start, ordered by when it was ready.
func TestCriticalPath(t *testing.T) {
	start := time.Now()
	at := func(s float64) time.Time { return start.Add(time.Duration(s*1000) * time.Millisecond) }
	lbl := func(svc string) map[string]string {
		return map[string]string{"com.docker.compose.project": "swbs1", "com.docker.compose.service": svc}
	}
	msgs := []events.Message{
		ev(events.ContainerEventType, "create", "x", map[string]string{"com.docker.compose.project": "swbs2", "com.docker.compose.service": "api"}, at(0.05)),
		ev(events.ContainerEventType, "create", "m", lbl("mysql"), at(0.1)),
		ev(events.ContainerEventType, "start", "m", lbl("mysql"), at(0.3)),
		ev(events.ContainerEventType, "create", "a", lbl("api"), at(0.2)),
		ev(events.ContainerEventType, "health_status: healthy", "m", lbl("mysql"), at(4)),
		ev(events.ContainerEventType, "start", "a", lbl("api"), at(4.1)),
		ev(events.ContainerEventType, "health_status: healthy", "a", lbl("api"), at(6)),
		ev(events.ContainerEventType, "health_status: healthy", "a", lbl("api"), at(8)),
	}
	got := criticalPath(msgs, "swbs1", start)
	if len(got) != 2 || got[0].service != "mysql" || got[1].service != "api" {
		t.Fatalf("path = %+v", got)
	}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	if a := got[1]; ms(a.created) != 200 || ms(a.started) != 4100 || ms(a.health) != 6000 {
		t.Errorf("api = %+v", a)
	}
	if i := medianRun(Samples{9, 3, 5, 7}); i != 2 {
		t.Errorf("median run = %d, want 2 (5 s)", i)
	}
}

// Only loopback and the host's bridges are dialled.
func TestRouteStaysHere(t *testing.T) {
	ctx := context.Background()
	if !routeStaysHere(ctx, "127.0.0.1") {
		t.Error("loopback refused")
	}
	for _, a := range []string{"", "not-an-ip", "192.0.2.1"} { // 192.0.2.0/24: documentation, never local
		if routeStaysHere(ctx, a) {
			t.Errorf("%q accepted", a)
		}
	}
}
