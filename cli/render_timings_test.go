package cli

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/deployer"
)

// coldUp is the plan of a cold up of a small stack and the events its run
// reports: the api's image builds while the database and the cache start,
// and the api is made once its image exists and the database is healthy,
// which takes longest.
func coldUp() (*deployer.Plan, []deployer.Event) {
	p := &deployer.Plan{Project: "p", Actions: []deployer.Action{
		{ID: "container:swdeploy-state", Op: deployer.OpCreate, Kind: deployer.KindContainer, Name: "p-swdeploy-state"},
		{ID: "secret:db_root", Op: deployer.OpGenerate, Kind: deployer.KindSecret, Name: "db_root", Needs: []string{"container:swdeploy-state"}},
		{ID: "image:p-api:latest", Op: deployer.OpBuild, Kind: deployer.KindImage, Name: "p-api:latest", Service: "api"},
		{ID: "network:internal", Op: deployer.OpCreate, Kind: deployer.KindNetwork, Name: "p_internal"},
		{ID: "volume:db-data", Op: deployer.OpCreate, Kind: deployer.KindVolume, Name: "p_db-data"},
		{ID: "container:cache", Op: deployer.OpCreate, Kind: deployer.KindContainer, Name: "p-cache-1", Service: "cache", Needs: []string{"network:internal"}},
		{ID: "container:db", Op: deployer.OpCreate, Kind: deployer.KindContainer, Name: "p-db-1", Service: "db",
			Needs: []string{"network:internal", "volume:db-data"}, StartNeeds: []string{"secret:db_root"}},
		{ID: "container:api", Op: deployer.OpCreate, Kind: deployer.KindContainer, Name: "p-api-1", Service: "api",
			Needs: []string{"image:p-api:latest", "network:internal", "container:cache", "container:db"},
			Waits: []deployer.Wait{{Service: "cache", Condition: "service_healthy", Required: true}, {Service: "db", Condition: "service_healthy", Required: true}}},
	}}
	ev := func(ms int, id string, st deployer.Status) deployer.Event {
		a, _ := p.Action(id)
		return deployer.Event{Time: t0.Add(time.Duration(ms) * time.Millisecond), Action: a.ID, Kind: a.Kind, Name: a.Name, Op: a.Op, Status: st}
	}
	healthy := func(ms int, name string) deployer.Event {
		return deployer.Event{Time: t0.Add(time.Duration(ms) * time.Millisecond), Kind: deployer.KindContainer, Name: name, Status: deployer.StatusHealth, Health: "healthy"}
	}
	final := func(ms int, name string) deployer.Event {
		return deployer.Event{Time: t0.Add(time.Duration(ms) * time.Millisecond), Kind: deployer.KindContainer, Name: name, Status: deployer.StatusWaiting, Condition: "service_healthy"}
	}
	const (
		working = deployer.StatusWorking
		done    = deployer.StatusDone
		created = deployer.StatusCreated
		started = deployer.StatusStarted
		waiting = deployer.StatusWaiting
	)
	return p, []deployer.Event{
		ev(100, "container:swdeploy-state", working), ev(100, "image:p-api:latest", working),
		ev(100, "network:internal", working), ev(100, "volume:db-data", working),
		ev(200, "volume:db-data", done), ev(300, "network:internal", done),
		ev(310, "container:cache", working), ev(310, "container:db", working),
		ev(400, "container:swdeploy-state", done), ev(410, "secret:db_root", working),
		ev(600, "container:cache", created), ev(650, "container:db", created),
		ev(700, "secret:db_root", done),
		ev(800, "container:cache", started), ev(810, "container:cache", done), final(820, "p-cache-1"),
		ev(900, "container:db", started), ev(910, "container:db", done), final(920, "p-db-1"),
		healthy(1500, "p-cache-1"),
		ev(9000, "image:p-api:latest", done),
		ev(9010, "container:api", waiting), ev(9020, "container:api", waiting), healthy(14000, "p-db-1"),
		ev(14050, "container:api", working), ev(14300, "container:api", created),
		ev(14500, "container:api", started), ev(14510, "container:api", done), final(14520, "p-api-1"),
		healthy(16500, "p-api-1"),
	}
}

func recordColdUp(t *testing.T) (*deployer.Plan, *progress) {
	t.Helper()
	p, events := coldUp()
	rep, err := newReporter("quiet", IOStreams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		rep.Report(e)
	}
	return p, rep.(*progress)
}

// TestTimingsGolden renders `up --timings` for a fixed cold up: each
// container's timeline and the critical path through the database's
// health, not through the api's longer build.
func TestTimingsGolden(t *testing.T) {
	p, rec := recordColdUp(t)
	var buf bytes.Buffer
	if err := writeTimings(&buf, timings(p, rec, t0)); err != nil {
		t.Fatal(err)
	}
	golden(t, "up-timings.golden", buf.Bytes())
}

// TestTimingsSummaryGolden is the same run's `up --format json --timings`.
func TestTimingsSummaryGolden(t *testing.T) {
	p, rec := recordColdUp(t)
	s := summarize(p, rec, t0, t0.Add(16600*time.Millisecond), nil)
	s.addTimings(timings(p, rec, t0))
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "up-timings.golden.json", append(b, '\n'))
}

// TestCriticalPathThroughBuild: with the database healthy before the api's
// image is built, the build is what held the api up.
func TestCriticalPathThroughBuild(t *testing.T) {
	p, events := coldUp()
	rec := &progress{out: deployer.Discard, objects: map[objectKey]*outcome{}}
	for _, e := range events {
		if e.Name == "p-db-1" && e.Status == deployer.StatusHealth {
			e.Time = t0.Add(5 * time.Second)
		}
		rec.Report(e)
	}
	var got []string
	for _, s := range timings(p, rec, t0).path {
		got = append(got, s.action.ID+" "+s.step)
	}
	want := []string{"image:p-api:latest build", "container:api healthy"}
	if !slices.Equal(got, want) {
		t.Errorf("critical path %v, want %v", got, want)
	}
}
