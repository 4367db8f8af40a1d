package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRolloutLosesNoRequest replaces the backend twice, the way a rollout
// does it, under a steady load of GETs and POSTs from 16 clients, and
// wants every request answered by a backend with what it sent:
//
//	B starts and enters DNS -> B passes its check -> A's /healthz answers
//	X-Draining (while still 200) -> the edge stops picking A -> A shuts down gracefully
//	-> A leaves DNS
//
// then the same from B to a new A2 on A's old address.
func TestRolloutLosesNoRequest(t *testing.T) {
	addrs := backendAddrs(t, 2)
	const refresh = 10 * time.Millisecond
	const delay = 2 * time.Millisecond
	a := startAPI(t, &fakeAPI{name: "A", addr: addrs[0], delay: delay})
	dns := newFakeDNS(a.addr)
	p, base := startEdge(t, testConfig(portOf(a.addr), refresh), dns.resolve, true)
	waitFor(t, "A healthy", func() bool { return stateOf(p, a.addr) == "healthy" })

	const minRequests, workers = 3000, 16
	var (
		sent, ok  atomic.Int64
		done      atomic.Bool // the rollouts are over
		mu        sync.Mutex
		failures  []string
		answered  = map[string]int{}
		clientsWG sync.WaitGroup
	)
	client := newClient()
	for w := range workers {
		clientsWG.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				i := sent.Add(1)
				if done.Load() && i > minRequests {
					return
				}
				method, body := http.MethodGet, []byte(nil)
				if i%2 == 1 {
					method = http.MethodPost
					body = make([]byte, rng.IntN(16<<10))
					for j := range body {
						body[j] = byte(rng.Uint32())
					}
				}
				e, err := call(client, method, fmt.Sprintf("%s/api/people/?i=%d", base, i), body)
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					answered[e.Backend]++
					ok.Add(1)
				}
				mu.Unlock()
			}
		})
	}
	servedAtLeast := func(f *fakeAPI, n int64) {
		waitFor(t, fmt.Sprintf("%s to serve %d requests", f.name, n), func() bool { return f.served.Load() >= n })
	}

	// rollout moves the traffic from old to new, with load all along.
	rollout := func(old, next *fakeAPI) {
		servedAtLeast(old, old.served.Load()+300)
		startAPI(t, next)
		dns.set(old.addr, next.addr)
		waitFor(t, next.name+" healthy", func() bool { return stateOf(p, next.addr) == "healthy" })
		servedAtLeast(next, 100) // both serve for a while
		servedAtLeast(old, old.served.Load()+100)

		old.draining.Store(true) // SIGTERM: /healthz says X-Draining while it drains
		waitFor(t, old.name+" out of rotation", func() bool { return stateOf(p, old.addr) == "unhealthy" })
		time.Sleep(3 * refresh) // the rest of the API's drain delay
		began := time.Now()
		old.shutdown(t) // in-flight requests finish
		t.Logf("%s shut down in %v", old.name, time.Since(began))
		dns.set(next.addr) // the container is gone
		waitFor(t, old.name+" gone", func() bool { return stateOf(p, old.addr) == "absent" })
		servedAtLeast(next, next.served.Load()+300)
	}
	b := &fakeAPI{name: "B", addr: addrs[1], delay: delay}
	a2 := &fakeAPI{name: "A2", addr: addrs[0], delay: delay}
	rollout(a, b)
	rollout(b, a2)
	done.Store(true)
	clientsWG.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d requests answered: %v; failed: %d", ok.Load(), answered, len(failures))
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more", len(failures)-10)
			break
		}
		t.Errorf("failed request: %s", f)
	}
	if ok.Load() < minRequests {
		t.Errorf("only %d requests answered, want at least %d", ok.Load(), minRequests)
	}
	for _, f := range []*fakeAPI{a, b, a2} {
		if answered[f.name] == 0 || int64(answered[f.name]) != f.served.Load() {
			t.Errorf("%s served %d, clients saw %d answers from it", f.name, f.served.Load(), answered[f.name])
		}
	}
}
