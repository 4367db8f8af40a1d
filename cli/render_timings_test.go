package cli

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/deployer"
)

// coldUp is the plan of a cold up of a small stack and the events its run
// reports: the api's image builds while the database and the cache start,
// the api is created once its image exists and starts once the database
// is healthy, which takes longest.
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
			Needs: []string{"image:p-api:latest", "network:internal"}, StartNeeds: []string{"container:cache", "container:db"},
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
		ev(800, "container:cache", started), ev(810, "container:cache", done),
		ev(900, "container:db", started), ev(910, "container:db", done),
		ev(9000, "image:p-api:latest", done),
		ev(9010, "container:api", working), ev(9300, "container:api", created),
		ev(9310, "container:api", waiting), healthy(9320, "p-cache-1"),
		ev(9330, "container:api", waiting), healthy(14000, "p-db-1"),
		ev(14100, "container:api", started), ev(14110, "container:api", done),
		final(14120, "p-cache-1"), final(14120, "p-db-1"), final(14120, "p-api-1"),
		healthy(14200, "p-cache-1"), healthy(14210, "p-db-1"), healthy(16500, "p-api-1"),
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
