package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// ProbeSpec is one client loop: sequential requests to Path by Workers
// goroutines, Pace apart.
type ProbeSpec struct {
	Name      string
	Path      string
	Token     string
	Workers   int
	Pace      time.Duration // pause between a worker's requests
	KeepAlive bool          // reuse connections (false: a new TCP connection per request)
	Keep      bool          // keep every sample (else only failures and counts)
	Base      string        // another base URL than StartProbes' (e.g. the API's own port)
}

// Sample is one request of a probe.
type Sample struct {
	Probe    string
	At       time.Time // when it was sent
	Latency  time.Duration
	Status   int    // 0: no answer
	Code     string // the contract's error code, when the body has one
	Contract bool   // a non-2xx answer that is the contract's error JSON
	Err      string // transport error, shortened
	Snippet  string // the start of a body that is not the contract's JSON
}

// OK is a 2xx answer.
func (s Sample) OK() bool { return s.Status >= 200 && s.Status < 300 }

// Kind names a failed sample for the tables.
func (s Sample) Kind() string {
	switch {
	case s.Err != "":
		return "connection error (" + s.Err + ")"
	case s.Code != "":
		return fmt.Sprintf("%d %s", s.Status, s.Code)
	default:
		return fmt.Sprintf("%d, not the contract's JSON: %q", s.Status, s.Snippet)
	}
}

// Prober runs probe loops until Stop.
type Prober struct {
	mu      sync.Mutex
	samples []Sample
	counts  map[string]int // probe -> requests
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// StartProbes starts the loops against base.
func StartProbes(ctx context.Context, base string, specs ...ProbeSpec) *Prober {
	ctx, cancel := context.WithCancel(ctx)
	p := &Prober{cancel: cancel, counts: map[string]int{}}
	for _, spec := range specs {
		tr := &http.Transport{DisableKeepAlives: !spec.KeepAlive, MaxIdleConnsPerHost: 64,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		for w := 0; w < max(spec.Workers, 1); w++ {
			p.wg.Add(1)
			go func(spec ProbeSpec) {
				defer p.wg.Done()
				defer tr.CloseIdleConnections()
				for ctx.Err() == nil {
					s := probeOnce(ctx, c, cmp.Or(spec.Base, base), spec)
					if ctx.Err() != nil && s.Err != "" {
						return // cancelled mid-request: not a sample
					}
					p.mu.Lock()
					p.counts[spec.Name]++
					if spec.Keep || !s.OK() {
						p.samples = append(p.samples, s)
					}
					p.mu.Unlock()
					if spec.Pace > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(spec.Pace):
						}
					}
				}
			}(spec)
		}
	}
	return p
}

func probeOnce(ctx context.Context, c *http.Client, base string, spec ProbeSpec) Sample {
	s := Sample{Probe: spec.Name, At: time.Now()}
	req, _ := http.NewRequestWithContext(ctx, "GET", base+spec.Path, nil)
	if spec.Token != "" {
		req.Header.Set("Authorization", "Bearer "+spec.Token)
	}
	resp, err := c.Do(req)
	if err != nil {
		s.Latency = time.Since(s.At)
		s.Err = shortErr(err)
		return s
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	s.Latency = time.Since(s.At)
	s.Status = resp.StatusCode
	if err != nil {
		s.Status, s.Err = 0, "body: "+shortErr(err)
		return s
	}
	if !s.OK() {
		s.Code, s.Contract = contractError(body)
		if !s.Contract {
			s.Snippet = strings.ToValidUTF8(string(body[:min(len(body), 40)]), "?")
		}
	}
	return s
}

// contractError returns the code of {"status":"error","message":CODE} and
// whether body is exactly that shape (plus optional parameter/unavailable).
func contractError(body []byte) (string, bool) {
	r := Response{}
	if err := jsonUnmarshal(body, &r.JSON); err != nil {
		return "", false
	}
	code := r.Message()
	return code, r.JSON["status"] == "error" && code != ""
}

func shortErr(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF"):
		return "EOF"
	case strings.Contains(err.Error(), "connection refused"):
		return "refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// Stop ends the loops and returns the samples kept, in time order, and the
// request count of each probe.
func (p *Prober) Stop() ([]Sample, map[string]int) {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	sort.Slice(p.samples, func(i, j int) bool { return p.samples[i].At.Before(p.samples[j].At) })
	return p.samples, p.counts
}

// failureSummary lists failure kinds with counts: "503 service-unavailable ×12; ...".
func failureSummary(samples []Sample, probe string) (int, string) {
	kinds := map[string]int{}
	n := 0
	for _, s := range samples {
		if (probe == "" || s.Probe == probe) && !s.OK() {
			kinds[s.Kind()]++
			n++
		}
	}
	if n == 0 {
		return 0, "none"
	}
	var parts []string
	for k, c := range kinds {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, c))
	}
	sort.Strings(parts)
	return n, strings.Join(parts, "; ")
}
