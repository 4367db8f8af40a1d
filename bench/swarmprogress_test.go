package bench

import (
	"strings"
	"testing"
	"time"
)

// The per-phase split of a swarm up comes from its `--progress json`
// lines on standard error, mixed with plain lines: a phase is actions of
// one kind whose spans overlap or touch, from the first one's first event
// to their last done (or failed) event, with the image copies its actions
// reported, in the order the phases began; each service shows when it
// began waiting, when its rollout began and when it was done.
func TestUpPhases(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	stderr := strings.Join([]string{
		`Target: swarm, manager unix:///run/swlab-node1.sock, 3 node(s)`,
		`{"time":"2026-01-02T03:04:00.5Z","action":"copy:mysql","object":"image m","status":"working","detail":"copy: missing on swlab-node2"}`,
		`{"time":"2026-01-02T03:04:00.8Z","action":"copy:mysql","object":"image m","status":"progress","detail":"copied to swlab-node2"}`,
		`{"time":"2026-01-02T03:04:00.9Z","action":"copy:mysql","object":"image m","status":"done","detail":"copy"}`,
		`{"time":"2026-01-02T03:04:01Z","action":"node:mysql","object":"node swlab-node1","status":"working","detail":"pin: first deploy"}`,
		`{"time":"2026-01-02T03:04:01.5Z","action":"node:mysql","object":"node swlab-node1","status":"done","detail":"pin"}`,
		`{"time":"2026-01-02T03:04:02Z","action":"image:api","object":"image swbench/api:x","status":"working","detail":"build: missing"}`,
		`{"time":"2026-01-02T03:04:03Z","action":"image:api","object":"image swbench/api:x","status":"progress","detail":"Step 1/9"}`,
		`{"time":"2026-01-02T03:04:40Z","action":"image:api","object":"image swbench/api:x","status":"done","detail":"build"}`,
		`{"time":"2026-01-02T03:04:40Z","action":"image:edge","object":"image swbench/edge:x","status":"working","detail":"build: missing"}`,
		`{"time":"2026-01-02T03:04:50Z","action":"image:edge","object":"image swbench/edge:x","status":"done","detail":"build"}`,
		`{"time":"2026-01-02T03:04:50Z","action":"copy:api","object":"image swbench/api:x","status":"working"}`,
		`{"time":"2026-01-02T03:04:52Z","action":"copy:api","object":"image swbench/api:x","status":"progress","detail":"copied to swlab-node2"}`,
		`{"time":"2026-01-02T03:04:53Z","action":"copy:api","object":"image swbench/api:x","status":"progress","detail":"copied to swlab-node3"}`,
		`{"time":"2026-01-02T03:04:55Z","action":"copy:api","object":"image swbench/api:x","status":"done"}`,
		`{"time":"2026-01-02T03:04:55Z","action":"service:mysql","object":"service x_mysql","status":"working"}`,
		`{"time":"2026-01-02T03:04:55Z","action":"service:api","object":"service x_api","status":"waiting","detail":"mysql service_healthy"}`,
		`{"time":"2026-01-02T03:05:20Z","action":"service:mysql","object":"service x_mysql","status":"done"}`,
		`{"time":"2026-01-02T03:05:21Z","action":"service:api","object":"service x_api","status":"working"}`,
		`{"time":"2026-01-02T03:05:30Z","action":"service:api","object":"service x_api","status":"done"}`,
		`{"time":"2026-01-02T03:05:30.001Z","action":"service:edge","object":"service x_edge","status":"waiting","detail":"api service_healthy"}`,
		`{"time":"2026-01-02T03:05:33Z","action":"service:edge","object":"service x_edge","status":"done"}`,
		`Project x is up on the swarm (12 action(s) in 30.0s).`,
	}, "\n")
	evs := parseProgress(stderr)
	if len(evs) != 21 {
		t.Fatalf("%d events, want 21", len(evs))
	}
	got := upPhases(evs, start)
	want := []upPhase{
		{Kind: "copy", Actions: 1, Copies: 1, Start: 500 * time.Millisecond, End: 900 * time.Millisecond},
		{Kind: "node", Actions: 1, Start: time.Second, End: 1500 * time.Millisecond},
		{Kind: "image", Actions: 2, Start: 2 * time.Second, End: 50 * time.Second},
		{Kind: "copy", Actions: 1, Copies: 2, Start: 50 * time.Second, End: 55 * time.Second},
		{Kind: "service", Actions: 3, Start: 55 * time.Second, End: 93 * time.Second},
	}
	if len(got) != len(want) {
		t.Fatalf("phases %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("phase %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	svcs := serviceSteps(evs, start)
	if len(svcs) != 3 || svcs[0].Service != "mysql" || svcs[1].Service != "api" || svcs[2].Service != "edge" {
		t.Fatalf("services %+v, want mysql, api, edge", svcs)
	}
	api := svcs[1]
	if api.Waiting != 55*time.Second || api.Working != 81*time.Second || api.Done != 90*time.Second {
		t.Errorf("api: %+v", api)
	}
	if svcs[0].Waiting != -1 {
		t.Errorf("mysql waited for nothing: %+v", svcs[0])
	}
}

// Actions that run at once make one phase per kind, not a run per action:
// secrets and a copy made in parallel with the builds; the copies that each
// waited for its build, one after the other, are phases of their own.
func TestUpPhasesParallel(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	at := func(s float64) string {
		return start.Add(time.Duration(s * float64(time.Second))).Format(time.RFC3339Nano)
	}
	var lines []string
	add := func(s float64, action, status, detail string) {
		lines = append(lines, `{"time":"`+at(s)+`","action":"`+action+`","object":"x","status":"`+status+`","detail":"`+detail+`"}`)
	}
	for _, a := range []string{"secret:a", "node:mysql", "secret:b", "network:n", "copy:cache", "image:api", "image:edge", "secret:c"} {
		add(0.2, a, "working", "")
	}
	add(0.4, "secret:a", "done", "")
	add(0.4, "secret:b", "done", "")
	add(0.4, "secret:c", "done", "")
	add(0.4, "network:n", "done", "")
	add(0.7, "node:mysql", "done", "")
	add(5, "copy:cache", "progress", "copied to swlab-node2")
	add(9.7, "copy:cache", "done", "")
	add(27, "image:edge", "done", "")
	add(27.3, "copy:edge", "working", "")
	add(27.5, "copy:edge", "done", "")
	add(82.3, "image:api", "done", "")
	add(82.3, "copy:api", "working", "")
	add(82.5, "copy:api", "progress", "copied to swlab-node2")
	add(82.8, "copy:api", "done", "")
	got := upPhases(parseProgress(strings.Join(lines, "\n")), start)
	want := []upPhase{
		{Kind: "secret", Actions: 3, Start: 200 * time.Millisecond, End: 400 * time.Millisecond},
		{Kind: "node", Actions: 1, Start: 200 * time.Millisecond, End: 700 * time.Millisecond},
		{Kind: "network", Actions: 1, Start: 200 * time.Millisecond, End: 400 * time.Millisecond},
		{Kind: "copy", Actions: 1, Copies: 1, Start: 200 * time.Millisecond, End: 9700 * time.Millisecond},
		{Kind: "image", Actions: 2, Start: 200 * time.Millisecond, End: 82300 * time.Millisecond},
		{Kind: "copy", Actions: 1, Start: 27300 * time.Millisecond, End: 27500 * time.Millisecond},
		{Kind: "copy", Actions: 1, Copies: 1, Start: 82300 * time.Millisecond, End: 82800 * time.Millisecond},
	}
	if len(got) != len(want) {
		t.Fatalf("phases %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("phase %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
