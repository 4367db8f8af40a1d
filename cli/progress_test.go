package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/deployer"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// upEvents is what a small up reports: a secret, a network, a build with
// its output, two containers (one waiting for the other to be healthy),
// the final health wait, and a recreate that fails.
func upEvents() []deployer.Event {
	at := func(ms int, e deployer.Event) deployer.Event {
		e.Time = t0.Add(time.Duration(ms) * time.Millisecond)
		return e
	}
	secret := deployer.Event{Action: "secret:cache_password", Kind: deployer.KindSecret, Name: "cache_password", Op: deployer.OpGenerate}
	network := deployer.Event{Action: "network:backend", Kind: deployer.KindNetwork, Name: "p_backend", Op: deployer.OpCreate}
	image := deployer.Event{Action: "image:api", Kind: deployer.KindImage, Name: "p-api:latest", Op: deployer.OpBuild}
	cache := deployer.Event{Action: "container:cache", Kind: deployer.KindContainer, Name: "p-cache-1", Op: deployer.OpCreate}
	worker := deployer.Event{Action: "container:worker", Kind: deployer.KindContainer, Name: "p-worker-1", Op: deployer.OpCreate}
	api := deployer.Event{Action: "container:api", Kind: deployer.KindContainer, Name: "p-api-1", Op: deployer.OpRecreate}
	cacheReady := deployer.Event{Kind: deployer.KindContainer, Name: "p-cache-1"}
	working := func(e deployer.Event, reason string) deployer.Event {
		e.Status, e.Reason = deployer.StatusWorking, reason
		return e
	}
	progress := func(e deployer.Event, line string) deployer.Event {
		e.Status, e.Line = deployer.StatusProgress, line
		return e
	}
	done := func(e deployer.Event) deployer.Event {
		e.Status = deployer.StatusDone
		return e
	}
	waiting := func(e deployer.Event, service, cond string) deployer.Event {
		e.Status, e.Service, e.Condition = deployer.StatusWaiting, service, cond
		return e
	}
	return []deployer.Event{
		at(100, working(secret, "not provided, not kept")),
		at(110, working(network, "missing")),
		at(120, working(image, "image missing")),
		at(300, progress(image, "Step 1/3 : FROM scratch")),
		at(350, done(secret)),
		at(400, done(network)),
		at(900, progress(image, "Step 2/3 : COPY api /api")),
		at(1500, done(image)),
		at(1510, working(cache, "missing")),
		at(1900, done(cache)),
		at(1910, waiting(worker, "cache", "service_healthy")),
		at(1920, waiting(api, "cache", "service_healthy")),
		at(6400, working(worker, "missing")),
		at(6410, working(api, "config changed: environment")),
		at(6800, done(worker)),
		at(6810, waiting(cacheReady, "", "service_healthy")),
		at(6820, deployer.Event{Kind: deployer.KindContainer, Name: "p-cache-1", Status: deployer.StatusHealth, Health: "healthy"}),
		at(7000, deployer.Event{Action: "container:api", Kind: deployer.KindContainer, Name: "p-api-1", Op: deployer.OpRecreate, Status: deployer.StatusFailed,
			Err: "start: port is already allocated\nlast log lines:\nlistening on :5003"}),
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cli -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test ./cli -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestPlainProgressGolden(t *testing.T) {
	var buf bytes.Buffer
	r := &plainReporter{w: &buf, start: t0}
	for _, e := range upEvents() {
		r.Report(e)
	}
	golden(t, "progress-plain.golden", buf.Bytes())
}

func TestJSONProgressGolden(t *testing.T) {
	var buf bytes.Buffer
	r := &jsonReporter{w: &buf}
	for _, e := range upEvents() {
		r.Report(e)
	}
	golden(t, "progress-json.golden", buf.Bytes())
	// Every line is a JSON object with the documented fields.
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		for _, k := range []string{"time", "object", "status"} {
			if _, ok := e[k]; !ok {
				t.Errorf("no %q in %s", k, line)
			}
		}
	}
}

// TestLiveFrames renders the live view's frames, without colour, at two
// moments: mid-way (a build running with its latest line, a container
// waiting) and at the end.
func TestLiveFrames(t *testing.T) {
	v := newLiveView(&bytes.Buffer{}, false)
	v.size = func() (int, int) { return 72, 30 }
	events := upEvents()
	var out strings.Builder
	for i, e := range events {
		v.now = func() time.Time { return e.Time }
		v.Report(e)
		if i == 6 || i == len(events)-1 {
			out.WriteString(strings.Join(v.lines(e.Time, 72, 29), "\n") + "\n\n")
		}
	}
	v.Stop()
	golden(t, "progress-live.golden", []byte(out.String()))
}

// TestLiveRedrawsInPlace checks the terminal protocol: the second frame
// starts by moving the cursor back over the first, and nothing is drawn
// once the view is stopped.
func TestLiveRedrawsInPlace(t *testing.T) {
	var buf bytes.Buffer
	v := newLiveView(&buf, true)
	v.size = func() (int, int) { return 80, 24 }
	events := upEvents()
	v.Report(events[0])
	first := buf.String()
	if !strings.HasPrefix(first, hideCursor) || strings.Count(first, "\n") != 2 {
		t.Fatalf("first frame: %q", first)
	}
	buf.Reset()
	v.Report(events[1])
	if !strings.HasPrefix(buf.String(), "\x1b[2A") {
		t.Fatalf("second frame does not move back over the first: %q", buf.String())
	}
	if !strings.Contains(buf.String(), green) && !strings.Contains(buf.String(), blue) {
		t.Errorf("no colour on a colour terminal: %q", buf.String())
	}
	v.Stop()
	if !strings.HasSuffix(buf.String(), showCursor) {
		t.Errorf("the cursor is not shown again at the end: %q", buf.String())
	}
	buf.Reset()
	v.Report(events[2])
	time.Sleep(250 * time.Millisecond)
	if buf.Len() != 0 {
		t.Errorf("drawn after Stop: %q", buf.String())
	}
}

func TestLiveFitsSmallTerminal(t *testing.T) {
	v := newLiveView(&bytes.Buffer{}, false)
	for _, e := range upEvents() {
		v.Report(e)
	}
	v.Stop()
	lines := v.lines(t0.Add(8*time.Second), 40, 5)
	if len(lines) > 5 {
		t.Fatalf("%d lines for a 5-line budget:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[0], "not shown") || !strings.Contains(strings.Join(lines, "\n"), "p-api-1") {
		t.Errorf("want the failure kept and the hidden rows counted:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 40 {
			t.Errorf("line of %d runes on a 40-column terminal: %q", n, l)
		}
	}
}

func TestReporterModes(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	for _, tc := range []struct {
		mode string
		tty  bool
		want string
	}{
		{"auto", true, "*cli.liveView"},
		{"auto", false, "*cli.plainReporter"},
		{"tty", false, "*cli.liveView"},
		{"plain", true, "*cli.plainReporter"},
		{"json", true, "*cli.jsonReporter"},
		{"quiet", true, "deployer.discard"},
	} {
		rep, err := newReporter(tc.mode, IOStreams{ErrOut: &bytes.Buffer{}, ErrTTY: tc.tty})
		if err != nil {
			t.Fatal(err)
		}
		if got := typeName(rep.(*progress).out); got != tc.want {
			t.Errorf("--progress %s (tty %v): %s, want %s", tc.mode, tc.tty, got, tc.want)
		}
		endProgress(rep)
	}
	if _, err := newReporter("fancy", IOStreams{}); ExitCode(err) != ExitUsage {
		t.Errorf("--progress fancy: %v, want a usage error", err)
	}
}

func TestNoColor(t *testing.T) {
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "")
	if !useColor(true) || useColor(false) {
		t.Error("colour: want it on a terminal only")
	}
	t.Setenv("NO_COLOR", "1")
	if useColor(true) {
		t.Error("NO_COLOR=1 still colours")
	}
}

func TestUpSummaryGolden(t *testing.T) {
	p := &deployer.Plan{Project: "p", Warnings: []string{"service worker: no healthcheck"}, Actions: []deployer.Action{
		{ID: "secret:cache_password", Op: deployer.OpGenerate, Kind: deployer.KindSecret, Name: "cache_password", Reason: "not provided, not kept"},
		{ID: "network:backend", Op: deployer.OpCreate, Kind: deployer.KindNetwork, Name: "p_backend", Reason: "missing"},
		{ID: "image:api", Op: deployer.OpBuild, Kind: deployer.KindImage, Name: "p-api:latest", Service: "api", Reason: "image missing"},
		{ID: "container:cache", Op: deployer.OpCreate, Kind: deployer.KindContainer, Name: "p-cache-1", Service: "cache", Reason: "missing", Needs: []string{"network:backend", "secret:cache_password"}},
		{ID: "container:worker", Op: deployer.OpCreate, Kind: deployer.KindContainer, Name: "p-worker-1", Service: "worker", Reason: "missing", Waits: []deployer.Wait{{Service: "cache", Condition: "service_healthy", Required: true}}},
		{ID: "container:api", Op: deployer.OpRecreate, Kind: deployer.KindContainer, Name: "p-api-1", Service: "api", Reason: "config changed: environment", Downtime: true},
		{ID: "container:extra", Op: deployer.OpRemove, Kind: deployer.KindContainer, Name: "p-extra-1", Service: "extra", Reason: "orphan"},
	}}
	rep, _ := newReporter("quiet", IOStreams{})
	for _, e := range upEvents() {
		rep.Report(e)
	}
	failure := errors.New("recreate container p-api-1: start: port is already allocated")
	s := summarize(p, rep, t0, t0.Add(7200*time.Millisecond), failure)
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "up-summary.golden.json", append(b, '\n'))

	s = summarize(&deployer.Plan{Project: "p"}, rep, t0, t0.Add(time.Second), nil)
	if s.Result != "up-to-date" || s.Actions == nil {
		t.Errorf("empty plan: result %q, actions %v", s.Result, s.Actions)
	}
	s = summarize(&deployer.Plan{Project: "p", Problems: []string{"bind mount"}}, rep, t0, t0, usage(errors.New("cannot apply")))
	if s.Result != "refused" {
		t.Errorf("plan with problems: result %q", s.Result)
	}
}

func TestChoiceFlag(t *testing.T) {
	var format string
	f := newChoiceFlag(&format, "text", "text", "json")
	if format != "text" {
		t.Fatalf("default %q", format)
	}
	if err := f.Set("json"); err != nil || format != "json" {
		t.Fatalf("Set(json): %v, %q", err, format)
	}
	if err := f.Set("yaml"); err == nil {
		t.Fatal("Set(yaml) accepted")
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func TestWaitWord(t *testing.T) {
	for _, tc := range []struct {
		e    deployer.Event
		want string
	}{
		{deployer.Event{Service: "cache", Condition: "service_healthy"}, "Waiting for cache to be healthy"},
		{deployer.Event{Condition: "service_started"}, "Waiting to be running"},
		{deployer.Event{Replacement: true, Condition: "service_healthy"}, "Waiting for the replacement to be healthy"},
		{deployer.Event{Service: "cache", Condition: "odd"}, "Waiting"},
	} {
		if got := waitWord(tc.e); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}
