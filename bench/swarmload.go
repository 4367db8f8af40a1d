package bench

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The client loop of the swarm figures, as e2e's requestLoop: 8 clients
// as fast as they can, half on GET /healthz, half on an authenticated
// GET /films/v1/1, with keep-alive.
const (
	probeHealthz = "GET /healthz"
	probeFilm    = "GET /films/v1/1"
)

// loadRun is what the client loop saw around one operation.
type loadRun struct {
	took     time.Duration // the operation, until its command (and wait) ended
	requests int
	failed   int
	kinds    string
	samples  []Sample  // the failed requests, in time order
	started  time.Time // when the operation began
	replaced string    // how many API containers or tasks are new afterwards
}

func startLoop(ctx context.Context, base, token string) *Prober {
	return StartProbes(ctx, base,
		ProbeSpec{Name: probeHealthz, Path: "/healthz", Workers: 4, KeepAlive: true},
		ProbeSpec{Name: probeFilm, Path: "/films/v1/1", Token: token, Workers: 4, KeepAlive: true})
}

// underLoad runs op while the client loop runs, from 1 s before it until
// 1 s after it returned.
func (h *Harness) underLoad(ctx context.Context, base, token string, op func() error) (loadRun, error) {
	pr := startLoop(ctx, base, token)
	time.Sleep(time.Second)
	r := loadRun{started: time.Now()}
	err := op()
	r.took = time.Since(r.started)
	time.Sleep(time.Second)
	samples, counts := pr.Stop()
	if err != nil {
		return r, err
	}
	r.fill(samples, counts)
	return r, nil
}

func (r *loadRun) fill(samples []Sample, counts map[string]int) {
	r.samples = samples
	r.requests = counts[probeHealthz] + counts[probeFilm]
	r.failed, r.kinds = failureSummary(samples, "")
}

// failureWindow is when the first and the last failed request were sent,
// relative to t0.
func (r loadRun) failureWindow(t0 time.Time) string {
	if len(r.samples) == 0 {
		return "none"
	}
	first, last := r.samples[0].At.Sub(t0), r.samples[len(r.samples)-1].At.Sub(t0)
	return fmt.Sprintf("%s to %s", fnum(first.Seconds(), 1), fnum(last.Seconds(), 1))
}

// replacedCell says how many of after are not in before: "3 of 3".
func replacedCell(before, after []string) string {
	n := 0
	for _, a := range after {
		if !slices.Contains(before, a) {
			n++
		}
	}
	return fmt.Sprintf("%d of %d", n, len(after))
}

// warm asks for the film once, so that the loop reads from the cache.
func warm(ctx context.Context, api API, token string) error {
	r, err := api.Do(ctx, "GET", "/films/v1/1", token, nil)
	if err != nil || r.Status != 200 {
		return fmt.Errorf("GET %s/films/v1/1: %v %d %s", api.Base, err, r.Status, r.Body)
	}
	return nil
}
